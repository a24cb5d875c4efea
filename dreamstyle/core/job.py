"""A request as a value: engine + inputs + typed settings + output.

Every surface (the command line, a batch, a clip, the studio, a cluster worker, `--from`) makes
Jobs and hands them to `run`. A Job's JSON is what every output embeds, so a picture carries the
request that made it: `Job.from_png(path)` gives it back, ready to run again.

This module stays free of torch, so the CLI can read and print a Job at once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError, did_you_mean
from . import registry
from .settings import CommonSettings, MotionSettings, build
from .locate import absolute
from .validation import check_fields, check_inputs, check_text, shown

# Version of the JSON below. Outputs of 0.1.0 carry no version and a flatter record; they are
# read through `_from_v0` so pictures made then still re-run.
SCHEMA = 1
KEYS = ("schema", "engine", "inputs", "settings", "motion", "output", "ran")  # what to_dict writes


@dataclass(frozen=True)
class Job:
    """One request. `inputs` are the engine's named arguments: paths (as strings), lists of
    them, numbers (a visualised layer's channel), or, from the Python API, in-memory images
    (written as null in JSON). `motion` is set for a zoom or a clip. `ran` is filled in by `run`
    on the copy it embeds: where, how and with which versions the picture was made."""

    engine: str
    inputs: Mapping[str, Any]
    settings: CommonSettings
    output: str | None = None
    motion: MotionSettings | None = None
    ran: Mapping[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Every value checked (validation.py), however the Job was made: a settings object
        changed after it was built is checked again, as are the inputs against the registry."""
        try:
            spec = registry.engine(self.engine)
        except UserError as exc:
            exc.field = "engine"
            raise
        cls = spec.settings
        if not isinstance(self.settings, cls):
            raise UserError(f"a {self.engine} job needs {cls.__name__}, not {type(self.settings).__name__}",
                            f"build it with dreamstyle.{cls.__name__}(…)", field="settings")  # fmt: skip
        check_fields(self.settings)
        if spec.frames and self.motion is None:
            object.__setattr__(self, "motion", MotionSettings())
        if self.motion is not None:
            if not isinstance(self.motion, MotionSettings):
                raise UserError(f"a job's motion is MotionSettings, not {type(self.motion).__name__}", "build it with dreamstyle.MotionSettings(…)", field="motion")
            check_fields(self.motion, MotionSettings.field_prefix)
        if not isinstance(self.inputs, Mapping):
            raise UserError(f"a job's inputs {shown(self.inputs)} is not a mapping of names to values", 'e.g. {"image": "photo.jpg"}', field="inputs")
        # Paths become strings here, so a Job built from Paths equals the one read back from JSON.
        object.__setattr__(self, "inputs", {k: _plain(v) for k, v in dict(self.inputs).items()})
        check_inputs(self.engine, spec.inputs, self.inputs)
        if self.output is not None:
            object.__setattr__(self, "output", _plain(self.output))
            check_text("the job's output", self.output, "output", "give a file name as text, e.g. out.png")
        if self.ran is not None and not isinstance(self.ran, Mapping):
            raise UserError(f"a job's ran {shown(self.ran)} is not a mapping", "leave it out: run fills it in", field="ran")

    @property
    def is_clip(self) -> bool:
        """A dream or style over the frames of a video or a frame folder."""
        return registry.ENGINES[self.engine].clips and self.motion is not None

    @property
    def command(self) -> str:
        """The CLI command that makes this kind of job: "dream", "visualize maps", …"""
        return registry.ENGINES[self.engine].command

    @property
    def source(self):
        """The input a folder, glob or clip stands for (the photo of a dream or style, the image
        of a feature-map job), or for a job without one its first input: what a batch's progress
        and its summary name the item by."""
        key = registry.ENGINES[self.engine].source
        if key is None:
            return next(iter(self.inputs.values()), None)
        return self.inputs.get(key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "engine": self.engine,
            "inputs": {k: _jsonable(v) for k, v in self.inputs.items()},
            "settings": self.settings.to_dict(),
            "motion": dataclasses.asdict(self.motion) if self.motion is not None else None,
            "output": self.output,
            "ran": dict(self.ran) if self.ran is not None else None,
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent)

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any]) -> "Job":
        """A Job from its JSON (text or parsed); the 0.1.0 record is read too. Anything else is
        one UserError naming the field (validation.py), never another exception."""
        hint = "pass the JSON that `dreamstyle info OUT --json` prints"
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except (ValueError, RecursionError) as exc:  # a JSONDecodeError, bad UTF-8, a 5000-digit number, deep nesting
                raise UserError(f"not a dreamstyle job: {str(exc)[:200]}", hint) from None
        if not isinstance(data, Mapping):
            raise UserError("not a dreamstyle job: expected a JSON object", hint)
        data = dict(data)
        for key in data:
            if key not in KEYS and not ("schema" not in data and isinstance(key, str)):  # 0.1.0 kept more at the top
                raise UserError(f"unknown key {shown(key)} in the job", did_you_mean(str(key)[:200], KEYS), field=str(key)[:64])
        for key in ("inputs", "settings", "motion", "ran"):
            if data.get(key) is not None and not isinstance(data[key], Mapping):
                raise UserError(f"the job's {key} {shown(data[key])} is not a JSON object", "only outputs of dreamstyle carry a job", field=key)
        if "schema" not in data:
            data = _from_v0(data)
        schema = data["schema"]
        if not isinstance(schema, int) or isinstance(schema, bool) or schema < 0:
            raise UserError(f"the job's schema {shown(schema)} is not a version number", hint, field="schema")
        if schema > SCHEMA:
            raise UserError(f"this job was written by a newer dreamstyle (schema {shown(schema)})", "upgrade dreamstyle to read it", field="schema")
        engine = data.get("engine")
        if not isinstance(engine, str) or engine not in registry.ENGINES:
            raise UserError(f"unknown engine {shown(engine)} in the job", did_you_mean(str(engine)[:200], registry.ENGINES), field="engine")
        if data.get("settings") is None:
            raise UserError("the job carries no settings", "only outputs of dreamstyle carry a job", field="settings")
        motion = data.get("motion")
        if motion is not None and "temporal" not in motion:
            # Written before optical flow: its clips ran on blending alone.
            motion = {**motion, "temporal": "blend"}
        return cls(
            engine=engine,
            inputs=dict(data.get("inputs") or {}),
            settings=build(registry.ENGINES[engine].settings, data["settings"]),
            output=data.get("output"),
            motion=build(MotionSettings, motion) if motion is not None else None,
            ran=data.get("ran"),
        )

    @classmethod
    def from_png(cls, path) -> "Job":
        """The Job embedded in an output of dreamstyle (PNG, or the EXIF of a JPEG/WebP)."""
        from ..media.images import read_settings

        return cls.from_json(read_settings(path))

    def replace(self, **changes: Any) -> "Job":
        return dataclasses.replace(self, **changes)


@dataclass
class Result:
    """What `run` returns: the picture(s) (a sheet or picture per output; none for a clip, whose
    frames went to its file as they came), where they were written, and the Job as it ran."""

    job: Job
    images: list[Any] = field(default_factory=list)
    output: Path | None = None
    frames: int = 0
    seconds: float = 0.0

    @property
    def image(self):
        return self.images[0] if self.images else None


def record(job: Job, made: Mapping[str, Any] | None = None, **ran: Any) -> dict[str, Any]:
    """The JSON an output embeds: `job`, with `made`'s settings as run (default layers and the
    model resolved; the job's own when it has none) and its "ran" (where and how it ran, and what
    the engine knew beyond the job's inputs, such as the objective it optimised), plus `ran`
    extras such as a frame's number. `made` is what `run` gathered of the picture, or the record
    of a frame's own run, which a clip or zoom records again under its own Job."""
    made = made or {}
    d = job.to_dict()
    # The file is the output: naming it inside would make the same job, written to two names,
    # two different files.
    d["output"] = None
    if d["motion"] is not None:  # a diagnostic folder is no part of what was made (--debug-flow)
        d["motion"]["debug_flow"] = None
    d["settings"] = dict(made.get("settings") or d["settings"])
    d["ran"] = {**(made.get("ran") or {}), **ran}
    # Paths are recorded as typed; where they were lets --from find them from another folder.
    found = absolute(d["inputs"], d["settings"])
    if found:
        d["ran"]["absolute"] = found
    return d


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """Inputs as JSON: an in-memory image (or anything else without a path) is null."""
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    path = getattr(value, "path", None)  # a loaded Picture remembers its file
    return str(path) if path is not None else None


_V0_RAN = ("weights", "weights_file", "device", "precision", "dreamstyle", "torch")


def _from_v0(data: dict[str, Any]) -> dict[str, Any]:
    """0.1.0 wrote engine "visualize" with the subcommand in inputs.kind, zoom and clip frames as
    "dream"/"style" with their motion and frame number among the inputs, and the provenance at
    the top level. The same facts, in today's places."""
    if not isinstance(data.get("settings"), dict):
        raise UserError("the embedded record carries no settings to re-run", "only images saved by dreamstyle carry them")
    inputs = dict(data.get("inputs") or {})
    settings = dict(data["settings"])
    ran = {k: data[k] for k in _V0_RAN if k in data}
    engine = data.get("engine")
    motion = None
    if engine == "visualize":
        engine = f"visualize.{inputs.pop('kind', 'neuron')}"
        if "objective" in inputs:
            ran["objective"] = inputs.pop("objective")
        if isinstance(inputs.get("batch"), int):  # 0.1.0 kept the per-class count among the inputs
            settings["batch"] = inputs.pop("batch")
    elif "zoom" in inputs:
        engine = "zoom"
        motion = {"zoom": inputs.pop("zoom"), "rotate": inputs.pop("rotate", 0.0)}
    elif "blend" in inputs:
        motion = {"blend": inputs.pop("blend")}
    if "frame" in inputs:
        ran["frame"] = inputs.pop("frame")
    return {"schema": 0, "engine": engine, "inputs": inputs, "settings": settings, "motion": motion, "output": None, "ran": ran}
