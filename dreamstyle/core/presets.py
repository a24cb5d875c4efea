"""TOML presets -> plain dicts of settings, merged as defaults < preset < explicit flags.

A preset file names its engine, a one-line description and a [settings] table. A layer setting
may be a table keyed by model, because layer names only mean something for one backbone.

Built-in presets live in the repository's top-level presets/ folder and are installed as the
data-only package `dreamstyle._builtin_presets` (see pyproject.toml). User presets live in
$XDG_CONFIG_HOME/dreamstyle/presets/ (default ~/.config/dreamstyle/presets/); one with a built-in's
name and engine takes its place.

This module stays light (standard library only at import time): the settings classes and the
backbone list it checks files against are imported only when a file is read.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import os
import tomllib
import types
import typing
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from ..errors import UserError, did_you_mean

# The engines a preset may name, and the settings class whose fields its [settings] may set.
# The presets' sections ("dream", "style", "visualize") are the registry's (core/registry.py).
_PER_MODEL = ("layers", "content_layers", "style_layers")
_TOP_LEVEL = ("engine", "description", "settings")
_BUILTIN_PACKAGE = "dreamstyle._builtin_presets"


@dataclass(frozen=True)
class Preset:
    name: str
    engine: str
    description: str
    settings: dict[str, Any]
    path: Path | Traversable  # where it was read from; a Traversable for a built-in in a zip
    builtin: bool = False
    overrides: bool = False  # a user preset standing in for the built-in of the same name and engine

    @property
    def origin(self) -> str:
        """Where the preset comes from, as `dreamstyle presets` shows it."""
        if self.builtin:
            return "built-in"
        return f"{self.path}, overrides the built-in" if self.overrides else str(self.path)

    def values(self, model: str) -> dict[str, Any]:
        """Settings for `model`: per-model layer tables resolved, other keys as written."""
        out = {}
        for key, value in self.settings.items():
            if key in _PER_MODEL and isinstance(value, dict):
                if model in value:
                    out[key] = value[model]
                # A model the preset does not name keeps its own default layers.
            else:
                out[key] = value
        return out


def builtin_dir() -> Traversable:
    """The folder of built-in presets.

    Installed from a wheel, it is the package `dreamstyle._builtin_presets`. An editable install
    cannot import that package: setuptools' editable finder imports a mapped subpackage only
    through its __init__.py, and presets/ is plain data. Neither can a checkout run in place. Both have the
    repository's presets/ beside the package, so that is the fallback; pyproject.toml beside it
    tells a checkout apart from some unrelated presets/ folder in site-packages.
    """
    try:
        return resources.files(_BUILTIN_PACKAGE)
    except ModuleNotFoundError:
        root = Path(__file__).resolve().parents[2]
        if (root / "pyproject.toml").is_file():
            return root / "presets"
        raise UserError("the built-in presets are missing from this installation", "reinstall dreamstyle") from None


def user_dir() -> Path:
    """$XDG_CONFIG_HOME/dreamstyle/presets, or ~/.config/dreamstyle/presets.

    The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored, so it is.
    """
    base = os.environ.get("XDG_CONFIG_HOME", "")
    config = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return config / "dreamstyle" / "presets"


def _files(folder: Path | Traversable) -> list[Path | Traversable]:
    # Dot files are skipped: editors leave lock files such as .#name.toml (dangling links) there.
    if not folder.is_dir():
        return []
    try:
        files = [f for f in folder.iterdir() if f.name.endswith(".toml") and not f.name.startswith(".") and f.is_file()]
    except OSError as exc:
        raise UserError(f"{folder}: cannot list it ({exc.strerror or exc})", "check the folder's permissions") from None
    return sorted(files, key=lambda f: f.name)


def _bad(path, what: str, hint: str) -> UserError:
    """The one-line refusal for a malformed file: `<file>: what is wrong` plus how to fix it."""
    return UserError(f"{path}: {what}", hint)


def _read(path: Path | Traversable, builtin: bool = False) -> Preset:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _bad(path, "not UTF-8 text", "save the preset as UTF-8") from None
    except OSError as exc:
        raise _bad(path, f"cannot read it ({exc.strerror or exc})", "check the file's permissions") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line N, column M)" when it knows where.
        raise _bad(path, f"not valid TOML: {exc}", "fix the TOML syntax there") from None
    for key in data:
        if key not in _TOP_LEVEL:
            # Most often a setting written above the [settings] line; else a misspelt key.
            close = difflib.get_close_matches(key, _TOP_LEVEL, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "settings go under a [settings] line"
            raise _bad(path, f"unknown top-level key {key!r}", hint)
    for key, example in (("engine", 'engine = "dream"'), ("description", 'description = "One line on the look"')):
        if key not in data:
            raise _bad(path, f"no {key!r} line", f"add e.g. {example}")
        if not isinstance(data[key], str):
            raise _bad(path, f"{key!r} must be a string", f"e.g. {example}")
    engine = data["engine"]
    from .registry import preset_sections

    if engine not in preset_sections():
        raise _bad(path, f"unknown engine {engine!r}", did_you_mean(engine, preset_sections()))
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise _bad(path, "'settings' must be a table", "write the settings under a [settings] line")
    _check_settings(path, engine, settings)
    name = path.name.removesuffix(".toml")
    return Preset(name, engine, data["description"], dict(settings), path, builtin=builtin)


def _check_settings(path, engine: str, settings: dict[str, Any]) -> None:
    """Refuse what the engine would refuse later, but now, naming the file: unknown keys, wrong
    types, out-of-range numbers and unknown model names."""
    from .registry import preset_sections
    from .settings import MODEL_NAMES as MODELS, build

    cls = preset_sections()[engine]
    hints = _hints(cls)
    plain = {}
    for key, value in settings.items():
        if key not in hints:
            raise _bad(path, f"[settings] {key!r} is not a {engine} setting", did_you_mean(key, hints))
        if key in _PER_MODEL and isinstance(value, dict):
            for model, layers in value.items():
                if model not in MODELS:
                    raise _bad(path, f"[settings.{key}] names unknown model {model!r}", did_you_mean(model, MODELS))
                if not isinstance(layers, str):
                    raise _bad(path, f"[settings.{key}] {model} = {layers!r} should be a string", 'e.g. "relu4_3:1,relu5_1:0.5"')
            continue
        if not _accepts(hints[key], value):
            default = cls.__dataclass_fields__[key].default
            # JSON writes a default (number, string, true/false) as TOML does.
            hint = f"e.g. {key} = {json.dumps(default)}" if default not in (None, dataclasses.MISSING) else f"fix {key}"
            raise _bad(path, f"[settings] {key} = {value!r} should be {_describe(hints[key])}", hint)
        plain[key] = value
    if "model" in plain and plain["model"] not in MODELS:
        raise _bad(path, f"[settings] unknown model {plain['model']!r}", did_you_mean(plain["model"], MODELS))
    try:
        # The settings class checks ranges and choices; per-model layer tables are checked above.
        build(cls, plain)
    except UserError as exc:
        raise _bad(path, f"[settings] {exc.message}", exc.hint or "") from None


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in typing.get_type_hints(cls).items() if k in names}


def _options(hint) -> tuple:
    return typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)


def _accepts(hint, value) -> bool:
    """Whether a TOML value fits a settings field's annotation (int | None, list[int] | None, …)."""
    for t in _options(hint):
        if isinstance(value, bool) or t is bool:  # bool is an int subclass: only a bool field takes true/false
            if t is bool and isinstance(value, bool):
                return True
        elif t is float and isinstance(value, (int, float)):
            return True
        elif typing.get_origin(t) is list:
            # A string is parsed by settings.build as on the command line ("256,512").
            if isinstance(value, str):
                return True
            if isinstance(value, list) and all(_accepts(typing.get_args(t)[0], v) for v in value):
                return True
        elif isinstance(t, type) and isinstance(value, t):
            return True
    return False


_KINDS = {int: "a whole number", float: "a number", str: "a string", bool: "true or false"}


def _describe(hint) -> str:
    parts = []
    for t in _options(hint):
        if typing.get_origin(t) is list:
            parts.append(f"a list of {_KINDS.get(typing.get_args(t)[0], 'values').removeprefix('a ')}s")
        elif t in _KINDS:
            parts.append(_KINDS[t])
    return " or ".join(parts) or "another type"


def _scan(strict: bool = True) -> list[Preset]:
    """Built-in and user presets, a user one replacing the built-in of the same name and engine.

    strict: a malformed file is an error naming it; otherwise it is skipped (for suggestions only).
    """
    found: dict[tuple[str, str], Preset] = {}
    for folder, builtin in ((builtin_dir(), True), (user_dir(), False)):
        for path in _files(folder):
            try:
                p = _read(path, builtin)
            except UserError:
                if strict:
                    raise
                continue
            key = (p.engine, p.name)
            if not builtin and key in found:
                p = dataclasses.replace(p, overrides=True)
            found[key] = p
    return sorted(found.values(), key=lambda p: (p.engine, p.name))


def list_presets(engine: str | None = None) -> list[Preset]:
    """Every preset (built-in and the user's), or one engine's; a malformed file is a UserError."""
    return [p for p in _scan() if engine is None or p.engine == engine]


# Commands that have no presets of their own but take another's: zoom dreams each frame (cli/zoom.py).
BORROWED = {"zoom": "dream"}


def preset_lines(engine: str | None = None) -> list[str]:
    """What `dreamstyle presets [ENGINE]` prints: one line per preset, in aligned columns

        dream  classic  The default dream: …  [built-in]
        dream  mine     My own look           [/home/me/.config/dreamstyle/presets/mine.toml]

    and a user file standing in for a built-in says so: `[<path>, overrides the built-in]`.
    """
    borrowed = BORROWED.get(engine or "")
    if borrowed is not None:  # the presets it takes, said to be another command's
        return [f"{engine} takes {borrowed}'s presets (`dreamstyle {engine} … --preset NAME`):", *preset_lines(borrowed)]
    rows = list_presets(engine)
    if not rows:
        engines = sorted({p.engine for p in list_presets()})
        raise UserError(f"no presets for {engine!r}", did_you_mean(engine or "", engines))
    ew = max(len(p.engine) for p in rows)
    nw = max(len(p.name) for p in rows)
    return [f"{p.engine:<{ew}}  {p.name:<{nw}}  {p.description}  [{p.origin}]" for p in rows]


def _named(name: str) -> list[Preset]:
    """The presets called `name`, user file first: reads only those two files, so a broken
    unrelated file in the user folder does not stop `--preset classic`."""
    out = []
    for folder, builtin in ((user_dir(), False), (builtin_dir(), True)):
        path = folder / f"{name}.toml"
        if path.is_file():
            out.append(_read(path, builtin))
    if len(out) == 2 and out[0].engine == out[1].engine:
        out[0] = dataclasses.replace(out[0], overrides=True)
    return out


def load_preset(name: str, engine: str) -> Preset:
    """A preset by name (the user's first, then the built-ins), or a .toml file by path."""
    if name.endswith(".toml") or "/" in name or os.sep in name:
        path = Path(name).expanduser()
        if not path.is_file():
            raise UserError(f"preset file not found: {name}", "check the path")
        preset = _read(path)
    else:
        found = _named(name)
        matching = [p for p in found if p.engine == engine]
        if not matching and not found:
            names = sorted({p.name for p in _scan(strict=False) if p.engine == engine})
            raise UserError(f"unknown {engine} preset {name!r}", did_you_mean(name, names) + " (`dreamstyle presets` lists them)")
        preset = matching[0] if matching else found[0]
    if preset.engine != engine:
        raise UserError(f"preset {name!r} is for `{preset.engine}`, not `{engine}`", f"`dreamstyle presets {engine}` lists the {engine} presets")
    return preset


def merge(engine: str, preset: str | None, flags: dict[str, Any], default_model: str) -> dict[str, Any]:
    """defaults < preset < explicit flags; the preset's per-model layers follow the final model."""
    if not preset:
        return dict(flags)
    p = load_preset(preset, engine)
    model = flags.get("model") or p.settings.get("model") or default_model
    return {**p.values(model), **flags}


def resolve(cls: type, engine: str, settings: Any, overrides: dict[str, Any], model: str | None = None) -> Any:
    """What an API call asked for: a settings object, or keywords (with an optional preset).

    `model` is the name of a backbone the caller passed in, so a preset's per-model layers
    follow the network that will actually run.
    """
    from .settings import build

    preset = overrides.pop("preset", None)
    if settings is not None:
        if preset:
            raise UserError("pass preset= with keyword settings, not together with a settings object",
                            f"e.g. {engine}(image, preset={preset!r}, steps=…)")
        return build(cls, {**dataclasses.asdict(settings), **overrides})
    if model and "model" not in overrides:
        overrides = {**overrides, "model": model}
    return build(cls, merge(engine, preset, overrides, cls.model))
