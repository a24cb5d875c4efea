"""The typed check of a Job's values: every setting, input and motion knob against its declared type.

Every surface makes its Job through here: the command line and the Python API (`settings.build`,
the settings dataclasses' construction), `Job.from_json` (a hand-edited PNG or JSON under
`--from`, the studio, a cluster's workers) and `Job(...)` itself. A value of the wrong type, a
number that is not finite, a list or string past its bound or a string holding control characters
is refused here in the command line's words (`--style-weight '…' is not a number — give a number,
e.g. --style-weight 100`), before a dataclass's `validate()` checks its ranges and choices; every
refusal about one field names it in `UserError.field` ("style_weight", "inputs.content",
"motion.frames") so the studio can point at it.

Types come from the fields' annotations (`int`, `float`, `str`, `bool`, `X | None`, `list[int]`,
`int | str` for steps "auto"): a bool is not a number, a whole number is a number, `None` only
where the annotation allows it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import sys
import types
import typing
from collections.abc import Mapping
from typing import Any

from ..errors import UserError, did_you_mean
from ..models.names import DEVICES, MODEL_NAMES, PRECISIONS
from .parsing import parse_float_list, parse_int_list

MAX_TEXT = 4096  # characters of a path, a layer list or any other text
MAX_NAME = 64  # characters of a choice (a device, an optimizer) or of --steps
MAX_ITEMS = 64  # items of a list (scales, style weights, style images)
MAX_CHANNELS = 4096  # channel numbers: a layer has at most a few thousand
MAX_CLASSES = 1000  # ImageNet's
MAX_BITS = 64  # a whole number past 2**64 is no setting's, and Python would print thousands of digits
# Control characters (and lone surrogates, which no file or record can hold) are never part of a
# path, a layer's name or a choice: a NUL cuts a path short, a newline splits the one-line messages.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_FLAG = re.compile(r"--([a-z][a-z0-9-]*)")

# The allowed values of the choice fields, for the hints below (each dataclass's validate() refuses
# the others in its own words; the model is checked where it loads, since the Python API may run
# a backbone of its own under its own name: see `check_model`).
CHOICES: dict[str, tuple[str, ...]] = {
    "model": MODEL_NAMES, "device": DEVICES, "precision": PRECISIONS, "norm": ("mean-abs", "std"),
    "optimizer": ("lbfgs", "adam"), "preserve_color": ("none", "luminance", "histogram"), "pooling": ("max", "avg"),
    "param": ("fft", "pixel"), "transforms": ("none", "standard", "strong"), "temporal": ("flow", "blend", "none"),
    "backend": ("local", "ray"),
}  # fmt: skip
# Examples of the fields whose default is None (the others are shown with their default), as typed
# on the command line.
EXAMPLES = {
    "weights": "vgg16.pth", "size": "512", "lr": "0.02", "seed": "0", "max_pixels": "178956970", "layers": "relu4_3:1,relu5_1:0.5",
    "channels": "12,40", "guide": "guide.jpg", "tile": "512", "content_layers": "relu4_2", "style_layers": "relu1_1,relu2_1:0.5",
    "scales": "256,512", "style_blend": "0.7,0.3", "regions_key": "red,blue", "region_weights": "100,300", "points": "25", "fps": "24", "long_term": "[1, 2, 4]", "address": "HOST:PORT",
    "workers": "4", "gpus_per_worker": "1",
}  # fmt: skip
_KINDS = {int: "a whole number", float: "a number", str: "text", bool: "true or false"}


def flag(name: str) -> str:
    """A field as the command line names it: style_weight -> --style-weight."""
    return "--" + name.replace("_", "-")


def shown(value: Any) -> str:
    """A value as a one-line message shows it: short, escaped, whatever it is (JSON's words for
    true, false and null, as the studio and hand-edited records write them)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 128 else f"<a number of {int(value.bit_length() * math.log10(2)) + 1} digits>"
    if isinstance(value, float):
        return str(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37]) + "…"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(shown(v) if not isinstance(v, (list, tuple, dict)) else "…" for v in value[:4])
        return f"[{inner}{', …' if len(value) > 4 else ''}]"
    if isinstance(value, dict):
        return "{…}" if value else "{}"
    return f"<{type(value).__name__}>"


# --- settings -----------------------------------------------------------------------------------


def settings_from(cls: type, values: Mapping[str, Any]) -> Any:
    """`settings.build`: a checked `cls` from plain values (a preset, flags, a record's JSON);
    unknown keys refused with a did-you-mean, and the lists the command line passes as text
    (--channels 0-15, --scales 256,512, --style-blend 0.7,0.3, --steps 200) parsed first."""
    prefix = getattr(cls, "field_prefix", "")
    if not isinstance(values, Mapping):
        raise UserError(f"settings {shown(values)} are not a JSON object", 'e.g. {"steps": 20}', field=prefix.rstrip(".") or "settings")
    names = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in names:
            raise UserError(f"unknown setting {shown(key)}", did_you_mean(str(key)[:MAX_TEXT], names), field=prefix + str(key)[:MAX_NAME])
    values = dict(values)
    try:
        steps = values.get("steps")
        if isinstance(steps, str) and len(steps) <= MAX_NAME and steps.strip().lstrip("-").isdigit():  # "200" or "auto"
            values["steps"] = int(steps)
        for name, limit in (("channels", MAX_CHANNELS), ("scales", MAX_ITEMS)):
            if isinstance(values.get(name), str):
                values[name] = parse_int_list(_countable(name, values[name], limit), flag(name))
        for name in ("style_blend", "region_weights"):
            if isinstance(values.get(name), str):
                values[name] = parse_float_list(_text(name, values[name], MAX_TEXT), flag(name))
    except UserError as exc:
        raise named(exc, names, prefix) from None
    return cls(**values)


def check_fields(obj: Any, prefix: str = "") -> None:
    """Check a settings dataclass on construction: each field's type (see the module's
    docstring), then its own `validate()` (ranges, choices, combinations), if it has one. A refusal
    about one field names it in `field`, with `prefix` ("motion.") in front."""
    cls = type(obj)
    try:
        for name, hint in _hints(cls).items():
            value = getattr(obj, name)
            plain = os.fspath(value) if isinstance(value, os.PathLike) else list(value) if isinstance(value, tuple) else value
            if plain is not value:  # a Path from the Python API is a path all the same
                object.__setattr__(obj, name, plain)
            problem = _problem(name, hint, plain, cls)
            if problem:
                raise UserError(*problem, field=prefix + name)
        if hasattr(obj, "validate"):
            obj.validate()
    except UserError as exc:
        raise named(exc, [f.name for f in dataclasses.fields(cls)], prefix) from None


def named(exc: UserError, names: list[str], prefix: str = "") -> UserError:
    """`exc`, its `field` set to the field its message is about (the first --flag it names that
    is one of `names`, or "unknown device …"), unless it names one already."""
    if exc.field is None:
        found = [m.group(1).replace("-", "_") for m in _FLAG.finditer(exc.message)]
        found += [n for n in names if exc.message.startswith((f"unknown {n} ", f"{n.replace('_', '-')} "))]
        name = next((n for n in found if n in names), None)
        if name is not None:
            exc.field = prefix + name
    return exc


def check_model(name: str) -> None:
    """A model a surface can load by name (the studio, a cluster's worker); the Python API may also
    run a Backbone of its own, recorded under its own name, so settings alone do not refuse others."""
    if name not in MODEL_NAMES:
        raise UserError(f"unknown model {shown(name)}", did_you_mean(str(name)[:MAX_TEXT], MODEL_NAMES), field="model")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """Each field's annotation where it was first declared: a subclass that only changes a default
    (TopSettings' `steps: int = 128`) keeps its base's type (`int | str`, so "auto" meets the
    base's own refusal)."""
    hints: dict[str, Any] = {}
    for k in reversed(cls.__mro__):
        if dataclasses.is_dataclass(k):
            own = k.__dict__.get("__annotations__", {})
            resolved = typing.get_type_hints(k)
            hints.update({n: resolved[n] for n in own if n not in hints and n in resolved})
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _options(hint: Any) -> tuple:
    return typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)


def _describe(name: str, hint: Any) -> str:
    if name == "steps":
        return "a whole number or auto"
    parts = []
    for t in _options(hint):
        if typing.get_origin(t) is list:
            parts.append("a list of " + _KINDS[typing.get_args(t)[0]].removeprefix("a ").replace("number", "numbers"))
        elif t in _KINDS:
            parts.append(_KINDS[t])
    return " or ".join(parts)


def _hint(name: str, hint: Any, cls: type) -> str:
    if name in CHOICES:
        *most, last = CHOICES[name]
        return f"use {', '.join(most)} or {last}"
    if name == "steps":
        return f"give a whole number, e.g. {flag(name)} 200, or {flag(name)} auto"
    if bool in _options(hint):
        return "give true or false"
    default = cls.__dataclass_fields__[name].default
    example = EXAMPLES.get(name) if default is None or default is dataclasses.MISSING else ",".join(map(str, default)) if isinstance(default, list) else f"{default:g}" if isinstance(default, float) else str(default)
    allowed = "give " + _describe(name, hint)
    return f"{allowed}, e.g. {flag(name)} {example}" if example else allowed


def _problem(name: str, hint: Any, value: Any, cls: type) -> tuple[str, str] | None:
    """(message, hint) when `value` does not fit `hint`, else None."""
    options = _options(hint)
    f, what = flag(name), shown(value)
    if value is None:
        return None if type(None) in options else (f"{f} null is not {_describe(name, hint)}", _hint(name, hint, cls))
    kind = next((k for k in (bool, int, float, str, list) if isinstance(value, k)), type(value))
    lists = [typing.get_args(t)[0] for t in options if typing.get_origin(t) is list]
    if kind is list and lists:
        limit = MAX_CHANNELS if name == "channels" else MAX_ITEMS
        if len(value) > limit:
            return f"{f} has {len(value)} items", f"give at most {limit}"
        for item in value:
            problem = _scalar(f, item, lists[0])
            if problem:
                return f"{f} {what} is not {_describe(name, hint)}", _hint(name, hint, cls)
        return None
    for t in options:
        if kind is t or (t is float and kind is int):
            if t is not str:
                problem = _scalar(f, value, t)
                return (problem[0], _hint(name, hint, cls)) if problem else None
            problem = _text_problem(f, value, MAX_NAME if name in CHOICES or name == "steps" else MAX_TEXT)
            if not problem and name == "device" and value.startswith("cuda:") and not re.fullmatch(r"cuda:\d{1,3}", value):
                return f"unknown device {value!r}", "use cuda or cuda:N, e.g. cuda:0"
            return problem
    return f"{f} {what} is not {_describe(name, hint)}", _hint(name, hint, cls)


def _scalar(f: str, value: Any, t: type) -> tuple[str, str] | None:
    """A number, bool or text that should be a `t`: None when it is one, finite and within bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None if t is bool and isinstance(value, bool) else (f"{f} {shown(value)} is not {_KINDS[t]}", f"give {_KINDS[t]}")
    if t is str:
        return _text_problem(f, value, MAX_TEXT) if isinstance(value, str) else (f"{f} {shown(value)} is not text", "give text")
    if isinstance(value, str) or (t is int and isinstance(value, float)):
        return f"{f} {shown(value)} is not {_KINDS[t]}", f"give {_KINDS[t]}"
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        return f"{f} {shown(value)} is too large", "give a number of at most 19 digits"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{f} {shown(value)} is not a finite number", f"give {_KINDS[t]}"
    return None


def _text_problem(f: str, value: str, limit: int) -> tuple[str, str] | None:
    if len(value) > limit:
        return f"{f} {shown(value)} is too long ({len(value)} characters)", f"give at most {limit}"
    bad = _CONTROL.search(value)
    if bad:
        return f"{f} {shown(value)} holds a control character ({bad.group()!r})", "remove it: names and paths are plain text"
    return None


def check_text(label: str, value: Any, field: str, hint: str, limit: int = MAX_TEXT) -> str:
    """`value` if it is text within `limit` characters and free of control characters, else one
    UserError about `field` (`label` is how the message names it; `hint`, when it is not text)."""
    problem = _text_problem(label, value, limit) if isinstance(value, str) else (f"{label} {shown(value)} is not text", hint)
    if problem:
        raise UserError(*problem, field=field)
    return value


def _text(name: str, value: str, limit: int) -> str:
    return check_text(flag(name), value, name, "", limit)


def _countable(name: str, text: str, limit: int) -> str:
    """`text` (12,40 or 0-15), refused before it is expanded if it names more than `limit` items:
    "0-999999999" would be a list of a billion numbers."""
    _text(name, text, MAX_TEXT)
    count = 0
    for part in text.split(","):
        part = part.strip()
        lo, dash, hi = part[1:].partition("-") if part else ("", "", "")
        if dash and (part[0] + lo).strip().lstrip("-").isdigit() and hi.strip().lstrip("-").isdigit():
            count += max(0, int(hi) - int(part[0] + lo) + 1)
        else:
            count += 1
        if count > limit:
            raise UserError(f"{flag(name)} {shown(text)} names more than {limit} items", f"give at most {limit}, e.g. {flag(name)} {EXAMPLES[name]}", field=name)
    return text


# --- inputs -------------------------------------------------------------------------------------

# Inputs a job's engine is given by other code in Python, beside its registered ones (a style-weight
# sweep's weights, which its outputs record; a clip frame's start picture and its hold on the frames
# before it, which only engines/temporal.py makes and no record carries).
INTERNAL: dict[str, dict[str, str]] = {"style": {"sweep": "weights", "start": "object", "temporal": "object"}}
# Registered "str" inputs that take more: the channels the command line has parsed, classes by number.
_ALSO = {"channels": "channels", "classes": "class"}


def check_inputs(engine: str, registered: tuple, inputs: Mapping[Any, Any]) -> None:
    """A job's inputs against its registration (`registry.Input`s): no unknown names, each of its
    kind ("image": a path, or from the Python API an in-memory picture or list of frames; "str": text;
    "int": a whole number from 0), `many` ones a bounded list; None is a missing input, which the
    engine's check names as its command does."""
    kinds = {i.name: i for i in registered}
    internal = INTERNAL.get(engine, {})
    for key, value in inputs.items():
        if key not in kinds and key not in internal:
            name = str(key)[:MAX_TEXT]
            raise UserError(f"unknown input {shown(key)} for a {engine} job", did_you_mean(name, kinds), field=f"inputs.{name[:MAX_NAME]}")
        problem = _input_problem(kinds[key], value) if key in kinds else _internal_problem(key, internal[key], value)
        if problem:
            raise UserError(*problem, field=f"inputs.{key}")


def _input_problem(spec, value: Any) -> tuple[str, str] | None:
    what = f"input {spec.name} = {shown(value)}"
    hint = _input_hint(spec)
    if value is None:
        return None
    if spec.many:
        if not isinstance(value, list):
            return f"{what} is not a list", f"give a list, e.g. {_example(spec)}"
        limit = MAX_CLASSES if spec.name == "classes" else MAX_ITEMS
        if len(value) > limit:
            return f"input {spec.name} has {len(value)} items", f"give at most {limit}"
        for item in value:
            problem = _one(spec, item, what, hint, many=True)
            if problem:
                return problem
        return None
    return _one(spec, value, what, hint, many=False)


def _one(spec, value: Any, what: str, hint: str, many: bool) -> tuple[str, str] | None:
    f = f"input {spec.name}"
    if value is None and (not many or spec.kind == "image"):  # a list's in-memory pictures are null in JSON
        return None
    if spec.kind == "image":
        if isinstance(value, str):
            return _text_problem(f, value, MAX_TEXT)
        if _in_memory(value) or (not many and isinstance(value, list) and value and all(_in_memory(v) for v in value)):
            return None  # from the Python API: a picture, a Picture, a Clip, or a list of frames
        return f"{what} is not a path", hint
    also = _ALSO.get(spec.name) if spec.kind == "str" else None
    if spec.kind == "str" and isinstance(value, str):
        if also == "channels":
            try:
                _countable("channels", value, MAX_CHANNELS)
            except UserError as exc:
                return f"input channels = {shown(value)} names more than {MAX_CHANNELS} channels", exc.hint or ""
        return _text_problem(f, value, MAX_TEXT)
    if also == "channels" and isinstance(value, list):
        if len(value) <= MAX_CHANNELS and all(_whole(v) for v in value):
            return None
        return f"{what} is not a list of channel numbers from 0", hint
    if (spec.kind == "int" or also == "class") and _whole(value):
        return None
    return f"{what} is not {'a whole number from 0' if spec.kind == 'int' else 'a list of names or numbers' if also else 'text'}", hint


def _internal_problem(key: Any, kind: str, value: Any) -> tuple[str, str] | None:
    if value is None or (kind == "object" and not isinstance(value, (str, int, float, list, dict))):
        return None
    if kind == "weights" and isinstance(value, list) and len(value) <= MAX_ITEMS and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and _scalar("", v, float) is None for v in value):  # fmt: skip
        return None
    return f"input {key} = {shown(value)} is not what a job carries there", "leave it out: dreamstyle fills it in"


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31


def _in_memory(value: Any) -> bool:
    """A picture held in memory: a PIL image, a loaded Picture or an opened Clip. Only modules
    already imported are asked: if PIL is not loaded, nothing is a PIL image."""
    for module, name in (("PIL.Image", "Image"), ("dreamstyle.media.images", "Picture"), ("dreamstyle.media.video", "Clip")):
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(value, cls):
            return True
    return False


def _input_hint(spec) -> str:
    if spec.kind == "image":
        return f'give the path of a picture as text, e.g. {_example(spec)}'
    words = re.sub(r"\s*\[default: [^]]*\]", "", spec.help).rstrip(".")
    if words and words.split()[0][1:].islower():  # "The channel, e.g. 12" reads on after a dash as "the channel", but ImageNet stays
        words = words[:1].lower() + words[1:]
    return words if words else f"give {'a whole number from 0' if spec.kind == 'int' else 'text'}"


def _example(spec) -> str:
    one = {"image": '"photo.jpg"', "str": '"goldfish"' if spec.name == "classes" else '"block6"', "int": "12"}[spec.kind]
    return f"[{one}]" if spec.many else one
