"""X/Y grids: a setting and its values in AUTOMATIC1111's range syntax, checked once for every surface.

    10,100,1000        the values as listed
    1-5                every whole number from 1 to 5
    0.5-2(0.5)         from 0.5 to 2 in steps of 0.5
    1-100[5]           5 values spread evenly from 1 to 100 (whole numbers for a whole-number setting)
    relu4_3,relu5_1    text values (a layer, a choice, a file)
    relu4_3,relu5_1|relu5_1:2   with `|` anywhere the items are split at `|` only, so one item may
                       hold commas (a layer list); "a,b",c (double quotes) says the same

Ranges and lists mix (`1-3,10`). A grid holds at most MAX_CELLS cells in all. Each value is
checked as the setting's flag would be (settings.build), so a bad one is one line naming it.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
import typing
from dataclasses import dataclass
from typing import Any

from ..errors import UserError, did_you_mean
from .settings import build

MAX_CELLS = 64
EXAMPLE = "e.g. 10,100,1000 or 1-5 or 0.5-2(0.5) or 1-100[5]"
# Settings that change how a command talks, not the picture: no axis of a grid.
NOT_AXES = ("quiet",)
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*-\s*({_NUMBER})\s*(?:\(\s*({_NUMBER})\s*\)|\[\s*(\d+)\s*\])?\s*$")


@dataclass(frozen=True)
class Axis:
    """One side of a grid: the setting (a field of the engine's settings) and its typed values."""

    setting: str
    values: tuple

    def label(self, value: Any) -> str:
        return f"{self.setting}={shown_value(value)}"

    def to_dict(self) -> dict[str, Any]:
        return {"setting": self.setting, "values": list(self.values)}


def shown_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(shown_value, value))
    return "none" if value is None else str(value)


def bad_range(flag: str, spec: str) -> UserError:
    return UserError(f"{flag} {spec!r} is not a range", EXAMPLE, field=flag.lstrip("-").replace("-", "_"))


def split_items(text: str) -> list[str]:
    """The items of a value list: split at `|` when it holds one, else at commas outside "quotes"."""
    if "|" in text:
        return [t.strip() for t in text.split("|")]
    return [t.strip() for t in next(csv.reader([text], skipinitialspace=True))] if text.strip() else []


def _kind(cls: type, name: str) -> type:
    """int, float, bool or str: what a grid value of the field `name` is read as."""
    hint = typing.get_type_hints(cls)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    for t in (bool, int, float):
        if t in args:
            return t
    return str


def _numbers(item: str, kind: type, flag: str, spec: str) -> list:
    m = _RANGE.match(item)
    if m is None:
        try:
            value = float(item)
        except ValueError:
            word = item.strip().lower()
            if word == "none" or (kind is int and word == "auto"):  # --seed none (random), --steps auto
                return [None if word == "none" else word]
            raise bad_range(flag, spec) from None
        return [value]
    lo, hi, step, count = float(m[1]), float(m[2]), m[3], m[4]
    if count is not None:
        n = int(count)
        if not 1 <= n <= MAX_CELLS:
            raise UserError(f"{flag} {spec!r} asks for {n} values", f"give 1 to {MAX_CELLS} in [ ]", field=flag.lstrip("-").replace("-", "_"))
        return [lo] if n == 1 else [lo + (hi - lo) * k / (n - 1) for k in range(n)]
    step_v = float(step) if step is not None else (1.0 if hi >= lo else -1.0)
    if step_v == 0 or (hi - lo) * step_v < 0 or not math.isfinite(step_v):
        raise bad_range(flag, spec)
    n = math.floor((hi - lo) / step_v + 1e-9) + 1
    if n > MAX_CELLS:
        raise UserError(f"{flag} {spec!r} makes {n} values", f"a grid holds at most {MAX_CELLS} cells: widen the step", field=flag.lstrip("-").replace("-", "_"))
    return [round(lo + k * step_v, 10) for k in range(n)]


def parse_values(cls: type, setting: str, text: str, flag: str = "--grid") -> list:
    """The values of `setting` (a field of `cls`) that `text` lists, typed as the field is."""
    spec = f"{setting}={text}" if flag.startswith("--grid") else text
    items = split_items(text)
    if not items or any(i == "" for i in items):
        raise bad_range(flag, spec)
    kind = _kind(cls, setting)
    if kind is str:
        return items
    if kind is bool:
        words = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
        if any(i.lower() not in words for i in items):
            raise UserError(f"{flag} {spec!r}: {setting} is true or false", "e.g. true,false", field=setting)
        return [words[i.lower()] for i in items]
    values: list = []
    for item in items:
        values += _numbers(item, kind, flag, spec)
    if kind is int:
        values = [v if v is None or isinstance(v, str) else round(v) if float(v).is_integer() or "[" in text else v for v in values]
        if any(isinstance(v, float) for v in values):
            raise UserError(f"{flag} {spec!r}: {setting} takes whole numbers", "e.g. 0-3 or 1-100[5]", field=setting)
    return values


def parse_axis(cls: type, spec: Any, flag: str = "--grid") -> Axis:
    """`SETTING=VALUES` (or {"setting", "values"} as the studio posts it) as an Axis of `cls`'s settings."""
    if isinstance(spec, dict):
        setting, text = spec.get("setting"), spec.get("values")
        if isinstance(text, (list, tuple)):
            text = "|".join(map(shown_value, text))
        spec_text = f"{setting}={text}"
    else:
        spec_text = str(spec)
        setting, _, text = spec_text.partition("=")
    if not isinstance(setting, str) or not isinstance(text, str) or not setting.strip() or not text.strip():
        raise bad_range(flag, spec_text)
    setting = setting.strip().replace("-", "_").lstrip("_")
    names = [f.name for f in dataclasses.fields(cls) if f.name not in NOT_AXES]
    if setting not in names:
        raise UserError(f"{flag}: {setting!r} is not a setting of this command", did_you_mean(setting, names), field=setting)
    values = parse_values(cls, setting, text.strip(), flag)
    return Axis(setting, tuple(values))


def cell_settings(settings, x: Axis, y: Axis | None) -> list[list]:
    """The settings of every cell, rows (y) of columns (x), each checked as its flags would be:
    a value the setting refuses is one line naming the setting and the value."""
    if y is not None and y.setting == x.setting:
        raise UserError(f"--grid and --grid-y both vary {x.setting}", "give each axis its own setting", field=x.setting)
    cells = len(x.values) * (len(y.values) if y else 1)
    if cells > MAX_CELLS:
        raise UserError(f"the grid has {cells} cells", f"a grid holds at most {MAX_CELLS}: give fewer values", field=x.setting)
    base = settings.to_dict()
    quiet = getattr(settings, "quiet", False)
    rows = []
    for yv in y.values if y else (None,):
        row = []
        for xv in x.values:
            values = {**base, x.setting: xv, **({y.setting: yv} if y else {})}
            row.append(_checked(type(settings), values, quiet, x, y))
        rows.append(row)
    return rows


def _checked(cls: type, values: dict[str, Any], quiet: bool, x: Axis, y: Axis | None):
    try:
        return build(cls, {**values, "quiet": quiet} if "quiet" in {f.name for f in dataclasses.fields(cls)} else values)
    except UserError as exc:
        which = next((a for a in (x, y) if a is not None and a.setting in (exc.field or a.setting)), x)
        raise UserError(f"--grid {which.setting}={shown_value(values[which.setting])}: {exc.message}", exc.hint, field=which.setting) from None
