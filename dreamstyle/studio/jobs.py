"""A Job from the page's JSON: checked before it is queued, its pictures named by upload id.

A bad job is refused here with a UserError naming the field at fault (`UserError.field`: a setting's
name, "inputs.content", "engine", "preset"…), which the API answers as 400 {"error", "hint",
"field"}; the settings themselves are checked by core's typed validation (`settings.build`).
"""

from __future__ import annotations

import re
import shutil
import traceback
from pathlib import Path
from typing import Any

from ..core import registry
from ..core.job import Job
from ..core.settings import INIT_WORDS
from ..core.validation import check_model
from ..errors import UserError, did_you_mean
from .errors import LOG, Refused, with_field
from .files import PAINTED, UPLOADED_MANY, UPLOADED_ONE, Uploads, painted_path
from .naming import stem_of
from .networks import Networks, PhotoSets
from .schema import PAGE_INPUTS, STUDIO_ENGINES

# Settings that would name a file on the server: the page names files by upload id instead.
FILE_SETTINGS = ("guide", "init")
# What a job's JSON may hold besides engine, inputs and settings (the output is the studio's choice).
JOB_KEYS = ("engine", "inputs", "settings", "preset", "motion")
PRESET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
MIN_PHOTOS = 3  # the training engine's own minimum (engines/fast_train.py), checked before queueing
MAX_PHOTOS = 200  # photos one training job may upload


def checked_job(data: Any, uploads: Uploads, out: Path, networks: Networks | None = None, photos: PhotoSets | None = None) -> Job:
    """job_from, where anything but a UserError is still the request's fault (a value of a type no
    check foresaw): refused with 400, its traceback logged, never a 500 nor a queued job."""
    return refusing_bugs(job_from, data, uploads, out, networks, photos)


def refusing_bugs(build, *args):
    """`build(*args)`, its unforeseen failures refused as checked_job refuses them."""
    try:
        return build(*args)
    except UserError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        LOG.warning("a job no check refused failed to build:\n%s", traceback.format_exc())
        raise Refused(400, f"the job cannot be read: {type(exc).__name__}: {exc}", "check each setting's type against GET /api/schema") from None


def _refuse(message: str, hint: str, field: str) -> UserError:
    return with_field(UserError(message, hint), field)


def job_from(data: Any, uploads: Uploads, out: Path, networks: Networks | None = None, photos: PhotoSets | None = None) -> Job:
    """A Job from the page's JSON: its inputs name uploads by id (a network by its name in the
    list); defaults < preset < settings; the output is in the output folder (a training job's,
    in its networks/), named as the command line names it, from the name the photo was uploaded
    with (OutputNames.claim makes it a free one). A UserError names the field at fault."""
    engine, inputs, settings = parts_of(data, uploads, networks)
    inputs = _page_inputs(engine, inputs, networks, photos)
    spec = registry.engine(engine)
    # The command line's name for it (cat.jpg's style: cat-style.png); OutputNames.claim adds the
    # -2 a taken name gets, once the job is let through.
    stem = stem_of(Job(engine, inputs, settings), uploads.name_of)
    output = networks.output(stem) if spec.output == "network" and networks is not None else out / f"{stem}.png"
    job = Job(engine, inputs, settings, output=str(output))
    # The page can only name a backbone the studio loads by name: refused now, not after queueing.
    check_model(job.settings.model)
    check_with_fields(job)
    return job


def check_with_fields(job: Job) -> None:
    """registry.check, its refusal naming the field at fault where the engine's words say it."""
    try:
        registry.check(job)
    except UserError as exc:
        net = getattr(job.settings, "net", "") or job.inputs.get("resume")
        fields = [("--mix", "mix"), ("--net", "net"), ("painting", "inputs.styles"), ("photos", "inputs.photos")]
        if net and isinstance(net, str):
            # A network's own refusal names its file: said by the name the page knows it by.
            for shown in (str(Path(net).resolve()), net):
                if shown in exc.message:
                    exc.message = exc.message.replace(shown, Path(net).name)
                    fields.insert(1, (Path(net).name, "net" if job.engine == "fast" else "inputs.resume"))
        for word, field in fields:
            if word in exc.message:
                raise with_field(exc, field) from None
        raise


def parts_of(data: Any, uploads: Uploads, networks: Networks | None = None) -> tuple[str, dict[str, Any], Any]:
    """The engine, inputs (uploads as their paths) and checked settings of the page's job JSON
    `data`: all a picture painted at once (studio/fast.py) needs, through a queued job's checks."""
    from ..core.presets import merge
    from ..core.settings import build

    if not isinstance(data, dict):
        raise UserError("a job is a JSON object", "send engine, inputs and settings")
    for key in data:
        if key not in JOB_KEYS:
            raise _refuse(f"a job has no {key!r}", did_you_mean(str(key), JOB_KEYS), str(key))
    engine = data.get("engine")
    if engine not in STUDIO_ENGINES:
        why = registry.ENGINES[engine].why_not.get("studio") if isinstance(engine, str) and engine in registry.ENGINES else None
        raise _refuse(f"the studio does not run {engine!r}" + (f": {why}" if why else ""), "use one of: " + ", ".join(STUDIO_ENGINES), "engine")
    if data.get("motion") is not None:
        raise _refuse("the studio makes pictures, not videos", "run clips and zooms with the command line", "motion")
    preset = data.get("preset")
    preset = None if preset == "" else preset  # "" is no preset, as null is
    if preset is not None and not (isinstance(preset, str) and PRESET_NAME.fullmatch(preset) and not preset.endswith(".toml")):
        # A name only: the command line's --preset also takes a .toml file's path, which a page may not name.
        raise _refuse("preset must be a preset's name", "see the presets of GET /api/schema", "preset")
    settings = data.get("settings") or {}
    inputs = data.get("inputs") or {}
    if not isinstance(settings, dict) or not isinstance(inputs, dict):
        raise _refuse("inputs and settings must be JSON objects", 'e.g. {"inputs": {"image": "upload:ID"}, "settings": {"steps": 20}}',
                      "settings" if not isinstance(settings, dict) else "inputs")  # fmt: skip
    if settings.get("weights"):
        raise _refuse("the studio does not load weights files named by a page", "start it where the weights are cached, or use the command line's --weights", "weights")
    settings = {k: v for k, v in settings.items() if k != "quiet"}
    for key in FILE_SETTINGS:
        value = settings.get(key)
        if isinstance(value, str) and (key == "guide" or value not in INIT_WORDS):
            settings[key] = _upload(uploads, value, f"--{key}", key)
    if settings.get("net") not in (None, ""):
        if networks is None:
            raise _refuse("this studio has no networks", "start it with an output folder", "net")
        settings["net"] = _network(networks, settings["net"], "net", "net")
    for key in PAINTED:
        if inputs.get(key) in (None, ""):
            inputs.pop(key, None)  # nothing painted: the plain job
    for key in UPLOADED_ONE:
        if key in inputs:
            inputs[key] = _upload(uploads, inputs[key], key, f"inputs.{key}")
    for key in UPLOADED_MANY:
        if key in inputs:
            many = inputs[key] if isinstance(inputs[key], list) else [inputs[key]]
            inputs[key] = [_upload(uploads, s, key, f"inputs.{key}") for s in many]
    spec = registry.engine(engine)
    cls = spec.settings
    values = merge(spec.preset, preset, settings, cls.model)
    return engine, inputs, build(cls, {**values, "quiet": True})


def _page_inputs(engine: str, inputs: dict[str, Any], networks: Networks | None, photos: PhotoSets | None) -> dict[str, Any]:
    """The inputs the page gives in its own terms (schema.PAGE_INPUTS) as the engine takes them:
    uploaded photos as the folder that holds them, a network's name as its path."""
    for (eng, name), page in PAGE_INPUTS.items():
        if eng != engine:
            continue
        value = inputs.get(name)
        if value in (None, "", []):  # left out: the engine's default (the bundled photos, a new network)
            inputs.pop(name, None)
            continue
        field = f"inputs.{name}"
        if page["kind"] == "network":
            if networks is None:
                raise _refuse("this studio has no networks", "start it with an output folder", field)
            inputs[name] = _network(networks, value, name, field)
        elif page["kind"] == "image" and page.get("many"):
            refs = value if isinstance(value, list) else [value]
            if len(refs) > MAX_PHOTOS:
                raise _refuse(f"{len(refs)} photos is more than a job takes", f"give at most {MAX_PHOTOS}", field)
            if len(set(map(str, refs))) < MIN_PHOTOS:
                raise _refuse(f"{len(set(map(str, refs)))} photos are too few to train on",
                              f"give {MIN_PHOTOS} or more (20 or more generalise best), or none for the bundled samples", field)  # fmt: skip
            if photos is None:
                raise _refuse("this studio keeps no training photos", "leave the photos out: the bundled samples are used", field)
            try:
                inputs[name] = photos.folder_for(refs, name)
            except UserError as exc:
                raise with_field(exc, field) from None
    return inputs


def _network(networks: Networks, name: Any, what: str, field: str) -> str:
    try:
        return networks.resolve(name, what)
    except UserError as exc:
        raise with_field(exc, field) from None


def keep_painted(job: Job) -> None:
    """Copy the map or mask `job` reads beside its picture (STEM.regions.png, STEM.mask.png);
    a copy that fails is a line in the log, never a refused job."""
    if not job.output:
        return
    for key, suffix in PAINTED.items():
        source = job.inputs.get(key)
        if isinstance(source, str):
            target = painted_path(Path(job.output), suffix)
            try:
                shutil.copyfile(source, target)
            except OSError as exc:
                LOG.warning("could not keep %s beside %s: %s", key, target.name, exc)


def flat(values) -> list[Any]:
    return [v for value in values for v in (value if isinstance(value, list) else [value])]


def uploads_of(jobs: list[Job], uploads: Uploads) -> set[str]:
    """The "upload:ID"s that `jobs` read: their pictures, and a guide or init picture."""
    paths = [p for job in jobs for p in flat([*job.inputs.values(), getattr(job.settings, "guide", None), getattr(job.settings, "init", None)])]
    return {ref for ref in map(uploads.ref_of, paths) if ref is not None}


def _upload(uploads: Uploads, ref: Any, what: str, field: str) -> str:
    try:
        return uploads.resolve(ref, what)
    except UserError as exc:
        raise with_field(exc, field) from None
