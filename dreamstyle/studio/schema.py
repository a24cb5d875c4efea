"""The page's form, generated: fields and their help from the settings dataclasses, inputs and
theirs from the registry, so a setting added to an engine appears in the studio with the words
`--help` gives it: both read them where the setting is defined (core/settings.py `setting`)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from ..core import registry
from ..core.settings import DEVICES, MODEL_NAMES, PRECISIONS, help_of

STUDIO_ENGINES = registry.engine_names("studio")
# Shown outside "More settings": what people change most.
MAIN = {
    "dream": ("model", "layers", "size", "octaves", "steps", "lr", "seed"),
    "style": ("model", "style_weight", "content_weight", "size", "steps", "style_scale", "preserve_color", "seed"),
    "visualize": ("model", "size", "steps", "lr", "seed"),
}
# Not offered on the page: a file path on the server (weights), or meaningless there.
HIDDEN = ("quiet", "weights", "save_every")
CHOICES = {
    "model": MODEL_NAMES, "device": DEVICES, "precision": PRECISIONS, "norm": ("mean-abs", "std"),
    "optimizer": ("lbfgs", "adam"), "preserve_color": ("none", "luminance", "histogram"), "pooling": ("max", "avg"),
    "param": ("fft", "pixel"), "transforms": ("none", "standard", "strong"),
}  # fmt: skip


def _type(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    if int in args and str in args:
        return "int|auto"  # `steps`: a whole number or "auto" (a text field; numbers sent as numbers)
    base = typing.get_origin(args[0]) or args[0]
    return {int: "int", float: "float", str: "str", bool: "bool", list: "list"}.get(base, "str")


def engine_schema(engine: str) -> dict[str, Any]:
    spec = registry.engine(engine)
    cls = spec.settings
    hints = typing.get_type_hints(cls)
    main = MAIN[spec.preset]
    fields = []
    for f in dataclasses.fields(cls):
        if f.name in HIDDEN:
            continue
        fields.append({
            "name": f.name, "type": _type(hints[f.name]), "default": f.default, "help": help_of(cls, f.name),
            "main": f.name in main, "choices": list(CHOICES[f.name]) if f.name in CHOICES else None,
        })  # fmt: skip
    fields.sort(key=lambda x: (not x["main"], main.index(x["name"]) if x["main"] else 0))
    inputs = [{"name": i.name, "kind": i.kind, "many": i.many, "help": i.help} for i in spec.inputs]
    return {"inputs": inputs, "settings": fields}


def schema() -> dict[str, Any]:
    from ..core.presets import list_presets

    presets: dict[str, list[dict[str, str]]] = {}
    for p in list_presets():
        for engine in STUDIO_ENGINES:
            if registry.ENGINES[engine].preset == p.engine:
                presets.setdefault(engine, []).append({"name": p.name, "description": p.description, "origin": p.origin})
    return {"engines": {e: engine_schema(e) for e in STUDIO_ENGINES}, "models": list(MODEL_NAMES), "presets": presets}
