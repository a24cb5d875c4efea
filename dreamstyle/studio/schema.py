"""The page's form, generated: fields from the settings dataclasses, help from the CLI's options,
so a setting added to an engine appears in the studio with the words `--help` gives it."""

from __future__ import annotations

import dataclasses
import functools
import re
import typing
from typing import Any

from ..job import SETTINGS
from ..settings import DEVICES, MODEL_NAMES, PRECISIONS

STUDIO_ENGINES = ("dream", "style", "visualize.filters", "visualize.maps", "visualize.channels", "visualize.neuron", "visualize.class")
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
INPUTS = {
    "dream": [("image", "image", False)],
    "style": [("content", "image", False), ("styles", "image", True)],
    "visualize.filters": [("layer", "str", False), ("channels", "str", False)],
    "visualize.maps": [("image", "image", False), ("layer", "str", False), ("top", "int", False)],
    "visualize.channels": [("layer", "str", False), ("channels", "str", False)],
    "visualize.neuron": [("layer", "str", False), ("channel", "int", False), ("x", "int", False), ("y", "int", False)],
    "visualize.class": [("classes", "str", True)],
}


def _type(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    if int in args and str in args:
        return "int|auto"  # `steps`: a whole number or "auto" (a text field; numbers sent as numbers)
    base = typing.get_origin(args[0]) or args[0]
    return {int: "int", float: "float", str: "str", bool: "bool", list: "list"}.get(base, "str")


@functools.cache
def _cli_help() -> dict[str, dict[str, str]]:
    """--help text of every option, per command ("dream", "visualize neuron", …)."""
    import typer.main

    from ..cli import dream, style, visualize  # noqa: F401  (registering their commands on the app)
    from ..cli.app import app

    out: dict[str, dict[str, str]] = {}

    def walk(cmd, prefix: str) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{prefix} {name}".strip())
        if not hasattr(cmd, "commands"):
            out[prefix] = {p.name: re.sub(r"\s*\[default: [^\]]*\]", "", p.help or "") for p in cmd.params if getattr(p, "help", None)}

    walk(typer.main.get_command(app), "")
    return out


def engine_schema(engine: str) -> dict[str, Any]:
    cls = SETTINGS[engine]
    hints = typing.get_type_hints(cls)
    helps = _cli_help().get(engine.replace(".", " "), {})
    main = MAIN["visualize" if engine.startswith("visualize") else engine]
    fields = []
    for f in dataclasses.fields(cls):
        if f.name in HIDDEN:
            continue
        fields.append({
            "name": f.name, "type": _type(hints[f.name]), "default": f.default, "help": helps.get(f.name, ""),
            "main": f.name in main, "choices": list(CHOICES[f.name]) if f.name in CHOICES else None,
        })  # fmt: skip
    fields.sort(key=lambda x: (not x["main"], main.index(x["name"]) if x["main"] else 0))
    inputs = [{"name": n, "kind": kind, "many": many, "help": helps.get(n, "")} for n, kind, many in INPUTS[engine]]
    return {"inputs": inputs, "settings": fields}


def schema() -> dict[str, Any]:
    from ..presets import list_presets

    presets: dict[str, list[dict[str, str]]] = {}
    for p in list_presets():
        for engine in STUDIO_ENGINES:
            if engine.split(".")[0] == p.engine:
                presets.setdefault(engine, []).append({"name": p.name, "description": p.description, "origin": p.origin})
    return {"engines": {e: engine_schema(e) for e in STUDIO_ENGINES}, "models": list(MODEL_NAMES), "presets": presets}
