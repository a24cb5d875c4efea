"""The options several commands take, each written once, and `shared`, which adds them to a
command and documents every option that sets a setting: its help text and its default then cannot
drift between commands, nor between `--help` and the studio's form.

A setting's words live with the setting, in its dataclass field (core/settings.py `setting`);
an option here names only its type and flags. The options' Python defaults are None ("not
typed": a preset or `--from` may fill it in), so the default `--help` shows is the field's,
written in by `shared` (or the command's own, `shared(defaults=…)`)."""

from __future__ import annotations

import copy
import functools
import inspect
from pathlib import Path
from typing import Annotated, Any, Optional, get_args, get_origin

import typer

from ..core import registry
from ..core.settings import ClusterSettings, CommonSettings, MotionSettings, help_of, shown_default

# Flags that take no value, and options not named as their field: help comes from the field.
Deterministic = Annotated[bool, typer.Option("--deterministic")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q")]
LongTerm = Annotated[bool, typer.Option("--long-term")]  # sets MotionSettings.long_term to LONG_TERM
# What is not a setting: where the result goes and how the command talks.
Preset = Annotated[Optional[str], typer.Option(help="Start from a preset (`dreamstyle presets`); flags you give override it.")]
Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing output file.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Also print the resolved settings and the time taken.")]
From = Annotated[Optional[Path], typer.Option("--from", help="Re-run an earlier output: its embedded settings and inputs, with the flags you give on top.", show_default=False)]
# Its default (a name made from the input) is the command's: see `shared(defaults=…)`.
Out = Annotated[Optional[Path], typer.Option("--output", "-o", help="Output file (.png/.jpg/.webp); an existing one is refused without --force.")]
Layer = Annotated[Optional[str], typer.Option(help="Layer name (`dreamstyle layers MODEL` lists them).")]
# For `layers`, which takes a backbone's weights outside any settings.
Weights = Annotated[Optional[Path], typer.Option(help=help_of(CommonSettings, "weights"))]

GridX = Annotated[Optional[str], typer.Option("--grid", help="An X/Y grid: SETTING=VALUES, e.g. style_weight=10,100,1000, seed=0-3, lr=0.01-0.05(0.01), size=64-256[4], layers='relu4_3|relu5_1' (docs/grids.md); writes the labelled grid to -o and each cell to its own picture in -o's STEM-cells/ folder; resumable like a batch.", show_default=False)]
GridY = Annotated[Optional[str], typer.Option("--grid-y", help="The grid's second axis (its rows), SETTING=VALUES as for --grid.", show_default=False)]
# name -> (annotation, default), in the order --help lists them. `steps` is text ("200" or "auto")
# and `weights` a path: settings.build and setting_flags make them the field's type.
OPTIONS = {
    "output": (Out, None), "model": (Optional[str], None), "weights": (Optional[Path], None), "size": (Optional[int], None),
    "steps": (Optional[str], None), "lr": (Optional[float], None), "seed": (Optional[int], None), "param": (Optional[str], None),
    "transforms": (Optional[str], None), "diversity": (Optional[float], None), "batch": (Optional[int], None),
    "save_every": (Optional[int], None), "preset": (Preset, None), "device": (Optional[str], None),
    "precision": (Optional[str], None), "threads": (Optional[int], None), "deterministic": (Deterministic, False), "max_pixels": (Optional[int], None),
    "temporal": (Optional[str], None), "blend": (Optional[float], None), "temporal_weight": (Optional[float], None),
    "long_term": (LongTerm, False), "passes": (Optional[int], None), "fps": (Optional[float], None),
    "cuts": (Optional[str], None), "debug_flow": (Optional[Path], None),
    "from_": (From, None), "force": (Force, False), "quiet": (Quiet, False), "verbose": (Verbose, False),
    "grid": (GridX, None), "grid_y": (GridY, None),
    "backend": (Optional[str], None), "ray_address": (Optional[str], None), "workers": (Optional[int], None), "gpus_per_worker": (Optional[float], None),
}  # fmt: skip
# What the visualize commands that optimise a picture share.
OPTIMISING = ("output", "model", "weights", "size", "steps", "lr", "seed", "param", "transforms")
RUNNING = ("device", "precision", "deterministic", "from_", "force", "quiet", "verbose")
# What every command taking a folder or glob batch, a sweep or a clip shares: where it runs.
CLUSTER = ("backend", "ray_address", "workers", "gpus_per_worker")

# An X/Y grid of one picture's settings (core/grid.py).
GRID = ("grid", "grid_y")

# Besides its engine's settings, a command's options may set a clip's or the cluster's.
ALSO = (MotionSettings, ClusterSettings)
FIELD = {"ray_address": "address"}  # options named otherwise than their field
FROM = " (with --from: the one recorded there)"


def field_of(name: str, settings: type | None) -> tuple[type, str] | None:
    """(the settings class, the field) an option named `name` sets, or None: not a setting."""
    field = FIELD.get(name, name)
    for cls in (settings, *ALSO):
        if cls is not None and field in cls.__dataclass_fields__:
            return cls, field
    return None


def default_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(default_text, value))
    return str(value)


def stated_default(cls: type, field: str) -> str | None:
    """What `--help` gives as a field's default: its value, or for a None decided at run time the
    words its field gives (`shown`); none for a flag."""
    value = cls.__dataclass_fields__[field].default
    if value is None:
        return shown_default(cls, field)
    return None if isinstance(value, bool) else default_text(value)


def documented(name: str, annotation: Any, default: Any, settings: type | None, defaults: dict[str, Any]) -> Any:
    """The option `name` with its help: the command's own where it gives one, else its field's;
    then " [default: …]" from `defaults` or the field, unless the help states one or typer will
    (an option with a real Python default)."""
    if get_origin(annotation) is Annotated:
        kind, info = get_args(annotation)[:2]
    elif name in defaults or field_of(name, settings):
        kind, info = annotation, typer.Option()  # a plain `octaves: Optional[int] = None`
    else:
        return annotation
    found = field_of(name, settings)
    text = info.help or (help_of(*found) if found else "")
    said = default_text(defaults[name]) if name in defaults else stated_default(*found) if found else None
    if said is not None and "[default:" not in text and (default is None or default is False):
        text = f"{text} [default: {said}]"
    if text == (info.help or ""):
        return annotation
    info = copy.copy(info)
    info.help = text
    return Annotated[kind, info]


def input_help(engine: str, name: str, *, recorded: bool = False) -> str:
    """An input's help as the registry words it, the studio's form showing the same; `recorded`:
    `--from` may stand for it."""
    text = next(i.help for i in registry.engine(engine).inputs if i.name == name)
    return text.removesuffix(".") + FROM + "." if recorded else text


def shared(*names: str, settings: type | None = None, defaults: dict[str, Any] | None = None):
    """Add the named OPTIONS to a command after its own parameters (it receives them as keyword
    arguments, `**opts`), and document every option, its own and these, that sets a field of
    `settings` or of a clip's or the cluster's settings (see `documented`). `defaults`: the
    command's own defaults for --help (a sheet's smaller --size, its output's name)."""
    defaults = defaults or {}
    names = with_threads(names)

    def add(fn):
        own = inspect.signature(fn, eval_str=True)
        params = [p for p in own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=OPTIONS[n][1], annotation=OPTIONS[n][0]) for n in names]
        params = [p.replace(annotation=documented(p.name, p.annotation, p.default, settings, defaults)) for p in params]

        @functools.wraps(fn)
        def command(**kwargs):
            return fn(**kwargs)

        command.__signature__ = own.replace(parameters=params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return add


def with_threads(names: tuple[str, ...]) -> tuple[str, ...]:
    """`names` with "threads" after the device options: whatever a command runs may run on the
    CPU, where the thread count decides the bytes (core/threads.py), so every command taking
    --device takes --threads too."""
    if "device" not in names or "threads" in names:
        return names
    at = names.index("precision" if "precision" in names else "device") + 1
    return (*names[:at], "threads", *names[at:])
