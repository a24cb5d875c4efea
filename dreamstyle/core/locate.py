"""Finding again the files an output was made from.

An output records its input paths as typed (`samples/cat.jpg`), which names a file only from the
folder the command ran in. So it also records each one's absolute path (`ran.absolute`), and
`--from` looks for a recorded file at that absolute path, as typed, and in the output's own folder
(where a default output name puts it), saying where it looked when none is there.

No torch here: `--from` and `info` read records at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import UserError
from .settings import INIT_WORDS

# Inputs and settings that name files, with how a user would call them.
PATH_INPUTS = {"image": "IMAGE", "content": "CONTENT", "styles": "STYLE image", "mask": "--mask image", "masks": "--mask image",
               "regions": "--regions map", "style_masks": "--style-mask image"}  # fmt: skip
AUTO_REGIONS = re.compile(r"auto(?::\d+)?")
PATH_SETTINGS = {"guide": "--guide image", "init": "--init image", "weights": "--weights file"}


def _is_path(key: str, value: Any) -> bool:
    # "auto:3" asks for regions to be found: it names no file.
    return isinstance(value, str) and value != "" and not (key == "init" and value in INIT_WORDS) and not (key == "regions" and AUTO_REGIONS.fullmatch(value))


def absolute(inputs: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The absolute path of every input and setting that names an existing file or folder (a
    clip's frames), a list for a list of them, as seen from where this process runs."""
    out: dict[str, Any] = {}
    for key, value in [*((k, inputs.get(k)) for k in PATH_INPUTS), *((k, settings.get(k)) for k in PATH_SETTINGS)]:
        values = value if isinstance(value, list) else [value]
        if not values or not all(_is_path(key, v) and os.path.exists(v) for v in values):
            continue
        found = [os.path.abspath(v) for v in values]
        out[key] = found if isinstance(value, list) else found[0]
    return out


class Recorded(dict):
    """An earlier output's inputs or settings with their files found again. A file found nowhere
    raises its error only when it is read, so one the command line replaces need not exist."""

    def __init__(self, values: Mapping[str, Any], missing: Mapping[str, UserError]):
        super().__init__(values)
        self.missing = dict(missing)

    def __getitem__(self, key):
        if key in self.missing:
            raise self.missing[key]
        return super().__getitem__(key)

    def get(self, key, default=None):
        return self[key] if key in self else default


def refind(source: Path, inputs: Mapping[str, Any], settings: Mapping[str, Any], ran: Mapping[str, Any] | None) -> tuple[Recorded, Recorded]:
    """The recorded (inputs, settings) of the output `source`, each file path replaced by where
    the file is now: the recorded absolute path, the path as typed, or the output's own folder
    (the typed path under it, then the bare name), first found first."""
    at = dict((ran or {}).get("absolute") or {})
    done: list[Recorded] = []
    for values, names in ((inputs, PATH_INPUTS), (settings, PATH_SETTINGS)):
        values, missing = dict(values), {}
        for key, what in names.items():
            value = values.get(key)
            if isinstance(value, list):
                found = [_find(source, v, _nth(at.get(key), i), what) for i, v in enumerate(value)]
                errors = [f for f in found if isinstance(f, UserError)]
                if errors:
                    missing[key] = errors[0]
                else:
                    values[key] = found
            elif _is_path(key, value):
                found = _find(source, value, at.get(key), what)
                if isinstance(found, UserError):
                    missing[key] = found
                else:
                    values[key] = found
        done.append(Recorded(values, missing))
    return done[0], done[1]


def _nth(values, i: int):
    return values[i] if isinstance(values, list) and i < len(values) else None


def _find(source: Path, typed: Any, absolute_path: str | None, what: str) -> str | UserError:
    if not _is_path("", typed):
        return typed  # an in-memory image (null): the engine's check says what to do
    folder = Path(source).parent
    tried = [absolute_path, typed, str(folder / typed), str(folder / Path(typed).name)]
    tried = list(dict.fromkeys(t for t in tried if t))
    for candidate in tried:
        if os.path.exists(candidate):  # a file, or a clip's folder of frames
            # As typed when that is the same file, so a re-run from the same folder records the
            # same inputs (and writes the same bytes).
            same = candidate == typed or (os.path.exists(typed) and os.path.samefile(candidate, typed))
            return typed if same else candidate
    others = [t for t in tried if t != typed]
    return UserError(
        f"no such file: {typed} (the {what} recorded in {source})",
        f"not at {' or '.join(others)} either: give the {what} on the command line",
    )
