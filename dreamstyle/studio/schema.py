"""The page's form, generated: fields and their help from the settings dataclasses, inputs and
theirs from the registry, so a setting added to an engine appears in the studio with the words
`--help` gives it: both read them where the setting is defined (core/settings.py `setting`)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from ..core import registry
from ..core.settings import DEVICES, MODEL_NAMES, PRECISIONS, help_of, label_of
from ..core.settings_fast import NET_SIZES

STUDIO_ENGINES = registry.engine_names("studio")
# Shown outside "More settings": what people change most (by preset section, else by engine).
MAIN = {
    "dream": ("model", "layers", "size", "octaves", "steps", "lr", "seed"),
    "style": ("model", "style_weight", "content_weight", "size", "steps", "style_scale", "preserve_color", "seed"),
    "visualize": ("model", "size", "steps", "lr", "seed"),
    "fast": ("net", "mix", "size"),
    "train": ("model", "net_size", "style_weight", "size", "iterations", "minutes", "preview_minutes", "style_scale", "preserve_color"),
}
# Not offered on the page: a file path on the server (weights), or meaningless there.
HIDDEN = ("quiet", "weights", "save_every")
# …and what one engine does not use: a network paints in one pass with the backbone it was
# trained on, training counts iterations, not steps; a style's regions key is the painted map's
# own (static/regions.js sends it with the map).
HIDDEN_FOR = {"fast": ("model", "steps", "lr"), "train": ("steps",), "style": ("regions_key",)}
# Settings the page shows with a widget of their own rather than a text field (static/fast.js):
# a network is picked from the studio's list by name, a mix is one slider per painting.
WIDGETS = {"net": "network", "mix": "mix"}
WIDGETS_FOR = {("fast", "size"): "slider"}  # painting is live: dragging the size re-paints
# Inputs the page gives in its own terms: the registry's "str" inputs that name a folder or a
# file on the server are, on the page, photos uploaded one by one (jobs.py keeps them as a
# folder) and a network of the studio's list by name. Both may be left out.
PAGE_INPUTS = {
    ("train", "photos"): {"kind": "image", "many": True, "optional": True,
                          "help": "Your photos to train on (20 or more generalise best); none: the four bundled sample photos."},
    ("train", "resume"): {"kind": "network", "optional": True, "help": "A network of the list to go on training (same paintings)."},
}  # fmt: skip
# Inputs the page paints rather than uploads (static/regions.js): a colour map of the photo, one
# colour per style, and a dream's greyscale mask, drawn over the photo in the form. One mask per
# style is the command line's way; the page sends the map, so those are listed but not offered.
PAINTED_INPUTS = {("style", "regions"): "regions", ("dream", "mask"): "mask", ("style", "masks"): "hidden", ("style", "style_masks"): "hidden"}
CHOICES = {
    "model": MODEL_NAMES, "device": DEVICES, "precision": PRECISIONS, "norm": ("mean-abs", "std"),
    "optimizer": ("lbfgs", "adam"), "preserve_color": ("none", "luminance", "histogram"), "pooling": ("max", "avg"),
    "param": ("fft", "pixel"), "transforms": ("none", "standard", "strong"), "net_size": NET_SIZES,
}  # fmt: skip
CHOICES_FOR = {("train", "preserve_color"): ("none", "luminance")}  # a network learns luminance or nothing


def _type(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    if int in args and str in args:
        return "int|auto"  # `steps`: a whole number or "auto" (a text field; numbers sent as numbers)
    base = typing.get_origin(args[0]) or args[0]
    return {int: "int", float: "float", str: "str", bool: "bool", list: "list"}.get(base, "str")


# The backbone the form starts on when an engine's own default cannot run here: a VGG whose
# weights are cached, else the bundled one, which always can.
FALLBACK_MODELS = ("vgg16", "vgg19", "efficientnet-lite0")


def engine_schema(engine: str, ready: set[str] | None = None) -> dict[str, Any]:
    """The form of `engine`; with `ready` (the backbones this machine can run), the model field
    names in `pick` the one the form starts on when the engine's default is not among them."""
    spec = registry.engine(engine)
    cls = spec.settings
    hints = typing.get_type_hints(cls)
    main = MAIN[spec.preset or spec.name]
    fields = []
    for f in dataclasses.fields(cls):
        if f.name in HIDDEN or f.name in HIDDEN_FOR.get(engine, ()):
            continue
        fields.append({
            "name": f.name, "label": label_of(f.name), "type": _type(hints[f.name]), "default": f.default, "help": help_of(cls, f.name),
            "main": f.name in main, "choices": _choices(engine, f.name),
            "widget": WIDGETS_FOR.get((engine, f.name), WIDGETS.get(f.name)),
        })  # fmt: skip
    fields.sort(key=lambda x: (not x["main"], main.index(x["name"]) if x["main"] else 0))
    for f in fields:
        if f["name"] == "model" and ready is not None and f["default"] not in ready:
            f["pick"] = next(m for m in FALLBACK_MODELS if m in ready)
    inputs = [{"name": i.name, "kind": i.kind, "many": i.many, "help": i.help, "widget": PAINTED_INPUTS.get((engine, i.name)),
               **PAGE_INPUTS.get((engine, i.name), {})} for i in spec.inputs]  # fmt: skip
    return {"inputs": inputs, "settings": fields}


def _choices(engine: str, name: str) -> list[str] | None:
    found = CHOICES_FOR.get((engine, name), CHOICES.get(name))
    return list(found) if found is not None else None


def schema() -> dict[str, Any]:
    from ..core.presets import list_presets

    presets: dict[str, list[dict[str, str]]] = {}
    for p in list_presets():
        for engine in STUDIO_ENGINES:
            if registry.ENGINES[engine].preset == p.engine:
                presets.setdefault(engine, []).append({"name": p.name, "description": p.description, "origin": p.origin})
    backbones = backbone_status()
    ready = {b["name"] for b in backbones if b["available"]}
    return {"engines": {e: engine_schema(e, ready) for e in STUDIO_ENGINES}, "models": list(MODEL_NAMES), "backbones": backbones,
            "presets": presets, "palette": [hex_colour(c) for c in palette()]}  # fmt: skip


def backbone_status() -> list[dict[str, Any]]:
    """Each backbone with whether it can run on this machine as it stands (nothing downloaded):
    its weights bundled or in torch's hub cache; else `place` (where the file goes) and `hint`,
    what to do in the studio (hints.py: the command line's offline error, less --weights)."""
    from ..models.hub import weights_place
    from .hints import weights_hint

    out = []
    for name in MODEL_NAMES:
        found = weights_place(name)
        if name == "efficientnet-lite0":
            out.append({"name": name, "available": True, "place": None, "hint": None, "note": "bundled"})
        elif found is None:  # vgg19-caffe: only with a converted file, which the page does not take
            out.append({"name": name, "available": False, "place": None, "hint": weights_hint(name), "note": "needs weights"})
        else:
            cached, _ = found
            ok = cached.is_file()
            out.append({"name": name, "available": ok, "place": str(cached), "hint": None if ok else weights_hint(name),
                        "note": "weights cached" if ok else "needs weights"})  # fmt: skip
    return out


def palette() -> tuple[tuple[int, int, int], ...]:
    """The regions' colours, region i in colour i: those the automatic regions draw and maps are read by."""
    from ..optim.masks import PALETTE  # here, not at the top: it brings torch, which the schema's readers need not

    return PALETTE


def hex_colour(rgb) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in rgb)
