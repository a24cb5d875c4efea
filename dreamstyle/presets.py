"""TOML presets -> plain dicts of settings, merged as defaults < preset < explicit flags.

A preset file names its engine, a one-line description and a [settings] table. A layer setting
may be a table keyed by model, because layer names only mean something for one backbone.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError, did_you_mean

PRESET_DIR = Path(__file__).parent / "presets"
_PER_MODEL = ("layers", "content_layers", "style_layers")


@dataclass(frozen=True)
class Preset:
    name: str
    engine: str
    description: str
    settings: dict[str, Any]
    path: Path

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


def _read(path: Path) -> Preset:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"cannot read preset {path}: {exc}", "fix the TOML or pick another preset") from None
    for key in ("engine", "description"):
        if not isinstance(data.get(key), str):
            raise UserError(f"preset {path} has no {key!r} line", 'add e.g. engine = "dream" and a description')
    return Preset(path.stem, data["engine"], data["description"], dict(data.get("settings", {})), path)


def list_presets(engine: str | None = None) -> list[Preset]:
    presets = sorted((_read(p) for p in PRESET_DIR.glob("*.toml")), key=lambda p: (p.engine, p.name))
    return [p for p in presets if engine is None or p.engine == engine]


def load_preset(name: str, engine: str) -> Preset:
    """A built-in preset by name, or a .toml file by path."""
    if name.endswith(".toml") or "/" in name:
        path = Path(name)
        if not path.is_file():
            raise UserError(f"preset file not found: {name}", "check the path")
        preset = _read(path)
    else:
        names = {p.name: p for p in list_presets(engine)}
        if name not in names:
            raise UserError(f"unknown {engine} preset {name!r}", did_you_mean(name, names) + " (`dreamstyle presets` lists them)")
        preset = names[name]
    if preset.engine != engine:
        raise UserError(f"preset {name!r} is for `{preset.engine}`, not `{engine}`", f"`dreamstyle presets` lists the {engine} presets")
    return preset


def merge(engine: str, preset: str | None, flags: dict[str, Any], default_model: str) -> dict[str, Any]:
    """defaults < preset < explicit flags; the preset's per-model layers follow the final model."""
    if not preset:
        return dict(flags)
    p = load_preset(preset, engine)
    model = flags.get("model") or p.settings.get("model") or default_model
    return {**p.values(model), **flags}
