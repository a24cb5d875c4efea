"""A Job from the page's JSON: checked before it is queued, its pictures named by upload id.

A bad job is refused here with a UserError naming the field at fault (`UserError.field`: a setting's
name, "inputs.content", "engine", "preset"…), which the API answers as 400 {"error", "hint",
"field"}; the settings themselves are checked by core's typed validation (`settings.build`).
"""

from __future__ import annotations

import re
import secrets
import traceback
from pathlib import Path
from typing import Any

from ..core import registry
from ..core.job import Job
from ..core.settings import INIT_WORDS
from ..core.validation import check_model
from ..errors import UserError, did_you_mean
from .errors import LOG, Refused, with_field
from .files import Uploads
from .schema import STUDIO_ENGINES

# Settings that would name a file on the server: the page names files by upload id instead.
FILE_SETTINGS = ("guide", "init")
# What a job's JSON may hold besides engine, inputs and settings (the output is the studio's choice).
JOB_KEYS = ("engine", "inputs", "settings", "preset", "motion")
PRESET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def checked_job(data: Any, uploads: Uploads, out: Path) -> Job:
    """job_from, where anything but a UserError is still the request's fault (a value of a type no
    check foresaw): refused with 400, its traceback logged, never a 500 nor a queued job."""
    try:
        return job_from(data, uploads, out)
    except UserError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        LOG.warning("a job no check refused failed to build:\n%s", traceback.format_exc())
        raise Refused(400, f"the job cannot be read: {type(exc).__name__}: {exc}", "check each setting's type against GET /api/schema") from None


def _refuse(message: str, hint: str, field: str) -> UserError:
    return with_field(UserError(message, hint), field)


def job_from(data: Any, uploads: Uploads, out: Path) -> Job:
    """A Job from the page's JSON: its inputs name uploads by id; defaults < preset < settings;
    the output is a new file in the output folder. A UserError names the field at fault."""
    from ..core.presets import merge
    from ..core.settings import build

    if not isinstance(data, dict):
        raise UserError("a job is a JSON object", "send engine, inputs and settings")
    for key in data:
        if key not in JOB_KEYS:
            raise _refuse(f"a job has no {key!r}", did_you_mean(str(key), JOB_KEYS), str(key))
    engine = data.get("engine")
    if engine not in STUDIO_ENGINES:
        raise _refuse(f"the studio does not run {engine!r}", "use one of: " + ", ".join(STUDIO_ENGINES), "engine")
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
    for key in ("image", "content"):
        if key in inputs:
            inputs[key] = _upload(uploads, inputs[key], key, f"inputs.{key}")
    if "styles" in inputs:
        styles = inputs["styles"] if isinstance(inputs["styles"], list) else [inputs["styles"]]
        inputs["styles"] = [_upload(uploads, s, "styles", "inputs.styles") for s in styles]
    spec = registry.engine(engine)
    cls = spec.settings
    values = merge(spec.preset, preset, settings, cls.model)
    job = Job(engine, inputs, build(cls, {**values, "quiet": True}), output=str(out / f"{engine.replace('.', '-')}-{secrets.token_hex(4)}.png"))
    # The page can only name a backbone the studio loads by name: refused now, not after queueing.
    check_model(job.settings.model)
    registry.check(job)
    return job


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
