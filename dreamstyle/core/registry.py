"""Every kind of Job, registered once: its settings, its inputs and which one is the source, what a
run of it is made of, its progress label, which surfaces offer it, its check and its call.

Job, planning, presets, the console, batches, clips, the cluster, the studio's form and the CLI all
read this table; none keeps a list of engines of its own. It stays free of torch: an engine's check
and call are named as "module:function" and imported only when a job of that kind is checked or
run, so `dreamstyle --help` and reading a Job cost nothing, and core reaches the engines through
these references alone.

Adding an engine is one module under engines/ (with its `make(job, ctx)` and `check(job)`) plus one
`Engine(...)` below; tests/test_registry.py proves that every surface knows it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError, did_you_mean
from .settings import CommonSettings, DreamSettings, StyleSettings, VisualizeSettings
from .settings_probe import ShiftSettings, TopSettings
from .settings_fast import FastSettings, TrainSettings
from .settings_regions import RegionsSettings
from .settings_explore import ExploreSettings

SURFACES = ("studio", "cluster", "presets")


@dataclass(frozen=True)
class Input:
    """One of a job's inputs: `kind` is "image" (a file), "str" or "int"; `many`: a list of them."""

    name: str
    kind: str = "image"
    many: bool = False
    help: str = ""


@dataclass(frozen=True)
class Engine:
    """What one kind of Job is. `source` names the input that a folder, glob or clip can stand for
    (None: the job takes no picture that way); `clips`: that source may be a video, run frame by
    frame; `frames`: the run is a sequence of frames made by this function (the zoom); `parts`:
    what a run is made of, coarse to fine, as its record of a Ctrl-C names it ("octave", "scale");
    `steps`: False for a single pass with no optimisation steps to report. `studio`, `cluster`
    and `preset` say which surfaces offer it; a surface that does not says why in `why_not`."""

    name: str
    settings: type[CommonSettings]
    inputs: tuple[Input, ...]
    call: str | Callable[..., Any]  # "module:function", called as function(job, ctx) -> list of pictures
    check: str | Callable[..., Any] | None = None  # "module:function", called as function(job) before any model loads
    source: str | None = None
    clips: bool = False
    frames: str | None = None
    parts: str = ""
    stage: str = ""
    steps: bool = True
    studio: bool = True
    cluster: bool = False
    preset: str | None = None  # the presets' section this engine reads
    why_not: Mapping[str, str] = field(default_factory=dict)
    backbone: bool = True  # False: it runs no backbone (a trained network paints on its own)
    output: str = "picture"  # or "network": a trained network written as a .pt file
    cli: str | None = None  # the CLI command that makes it, where that is not its own name

    @property
    def command(self) -> str:
        """The CLI command that makes it: "dream", "visualize maps", … ("style" for "fast")."""
        return self.cli or self.name.replace(".", " ")

    @property
    def label(self) -> str:
        """The first word of its progress line."""
        return self.stage or self.name

    def make(self) -> Callable[..., Any]:
        return referenced(self.call)

    def run_check(self, job) -> None:
        if self.check:
            referenced(self.check)(job)

    def offers(self, surface: str) -> bool:
        return bool(getattr(self, surface)) if surface != "presets" else self.preset is not None


def referenced(ref: str | Callable[..., Any]) -> Callable[..., Any]:
    """The function a "module:function" reference names (a function given as itself, as a test or
    an engine registered at run time may, is taken as it is)."""
    if callable(ref):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


_E = "dreamstyle.engines"
_LAYER = "the layer, e.g. block6 (`dreamstyle layers MODEL` lists them)"
_CHANNELS = "channel numbers, e.g. 0-15 or 3,7,12 [default: 0-15]"
_VIS = dict(stage="visualize", preset="visualize")
_MASK = "Dream only where this mask is white (grey: partly, edges feathered); the rest stays as it was. A folder: one mask per frame of a clip."

ENGINES: dict[str, Engine] = {e.name: e for e in (
    Engine("dream", DreamSettings, (Input("image", help="The photo to dream on."), Input("mask", help=_MASK)),
           f"{_E}.dream:make", f"{_E}.dream:check", source="image", clips=True, parts="octave", cluster=True, preset="dream"),
    Engine("style", StyleSettings, (Input("content", help="The photo to paint."), Input("styles", many=True, help="One or more style images (blended, or one per region)."),
                                    Input("masks", many=True, help="One mask per style, in order: white is that style's, grey partly; the last may be left out (it takes the rest)."),
                                    Input("regions", "str", help="A colour-coded map of the photo, one flat colour per style (docs/regions.md), or auto:K to find K regions."),
                                    Input("style_masks", many=True, help="One mask per style image: the part of the painting to take its style from.")),
           f"{_E}.style:make", f"{_E}.style:check", source="content", clips=True, parts="scale", cluster=True, preset="style"),
    Engine("zoom", DreamSettings, (Input("image", help="The photo the zoom starts from."), Input("mask", help=_MASK)),
           f"{_E}.dream:make", f"{_E}.dream:check", frames=f"{_E}.zoom:frames", preset="dream", studio=False,
           why_not={"studio": "a zoom is a video: the studio shows pictures; run `dreamstyle zoom`",
                    "cluster": "each frame dreams the one before it, so its frames cannot be made apart"}),
    Engine("visualize.filters", VisualizeSettings, (Input("layer", "str", help=_LAYER), Input("channels", "str", help=_CHANNELS)),
           f"{_E}.visualize:make_filters", **_VIS,
           why_not={"cluster": "one sheet from one model: nothing to spread"}),
    Engine("visualize.maps", VisualizeSettings, (Input("image", help="The image to look at."), Input("layer", "str", help=_LAYER), Input("top", "int", help="How many of the strongest maps to show [default: 16].")),
           f"{_E}.visualize:make_maps", f"{_E}.visualize:check_maps", source="image", steps=False, cluster=True, **_VIS),
    Engine("visualize.channels", VisualizeSettings, (Input("layer", "str", help=_LAYER), Input("channels", "str", help=_CHANNELS)),
           f"{_E}.visualize:make_channels", f"{_E}.visualize:check_layer", **_VIS,
           why_not={"cluster": "one sheet from one model: nothing to spread"}),
    Engine("visualize.neuron", VisualizeSettings, (Input("layer", "str", help=_LAYER), Input("channel", "int", help="The channel, e.g. 12."),
                                                   Input("x", "int", help="Column in the layer's map [default: the centre]."), Input("y", "int", help="Row in the layer's map [default: the centre].")),
           f"{_E}.visualize:make_neuron", f"{_E}.visualize:check_neuron", **_VIS,
           why_not={"cluster": "one picture from one model: nothing to spread"}),
    Engine("visualize.class", VisualizeSettings, (Input("classes", "str", many=True, help="ImageNet classes by name or number, e.g. goldfish."),),
           f"{_E}.visualize:make_class", f"{_E}.visualize:check_class", **_VIS,
           why_not={"cluster": "one sheet from one model: nothing to spread"}),
    Engine("visualize.shift", ShiftSettings, (Input("image", help="The photo to move the window over."),),
           f"{_E}.shift_probe:make", f"{_E}.shift_probe:check", stage="shift", steps=False, studio=False,
           why_not={"studio": "its answer is a plot and a table of numbers (`--json`), not a picture to tune",
                    "cluster": "one probe of one picture: nothing to spread",
                    "presets": "nothing in it is a matter of taste: its settings are the measurement's"}),
    Engine("visualize.top", TopSettings, (Input("folder", "str", help="A folder of pictures to search."), Input("layer", "str", help=_LAYER), Input("channel", "int", help="The channel, e.g. 12.")),
           f"{_E}.top_images:make", f"{_E}.top_images:check", stage="top", studio=False,
           why_not={"studio": "it reads a folder on the server, which the page never names by path",
                    "cluster": "one scan of one folder, with its index cached on the machine that scans it",
                    "presets": "nothing in it is a matter of taste: its settings are the search's"}),
    Engine("train", TrainSettings, (Input("styles", many=True, help="One or more paintings for the network to learn (one network holds them all)."),
                                    Input("photos", "str", help="A folder of photos to train on (20 or more of your own generalise best)."),
                                    Input("resume", "str", help="A network (.pt, or the .partial.pt Ctrl-C kept) to go on training.")),
           f"{_E}.fast_train:make", f"{_E}.fast_train:check", stage="train", output="network",
           why_not={"cluster": "one network learns from one stream of batches: nothing to spread yet",
                    "presets": "not yet: the defaults are the measured ones (docs/fast.md)"}),
    Engine("fast", FastSettings, (Input("content", help="The photo to paint."),),
           f"{_E}.fast_paint:make", f"{_E}.fast_paint:check", source="content", clips=True, stage="paint", steps=False, backbone=False,
           cluster=True, cli="style",
           why_not={"presets": "a network carries its own settings; --mix and --size are all it takes"}),
    Engine("regions", RegionsSettings, (Input("image", help="The photo whose regions to find."),),
           f"{_E}.regions:make", f"{_E}.regions:check", source="image", stage="regions", steps=False, studio=False,
           why_not={"studio": "the studio finds regions with its Find regions button on the photo",
                    "cluster": "a map takes about a second on a CPU: a folder is done here sooner than a cluster starts",
                    "presets": "nothing in it is a matter of taste: --k and --seed are all it takes"}),
    Engine("explore", ExploreSettings, (Input("layer", "str", help=_LAYER), Input("channels", "str", help="channel numbers, e.g. 12 or 0-31"),
                                        Input("kind", "str", help="channel, large, negative, diverse or top [default: channel]."),
                                        Input("folder", "str", help="A folder of pictures to find a unit's top ones in (kind top).")),
           f"{_E}.explore:make", f"{_E}.explore:check", stage="explore", studio=False, cluster=True,
           why_not={"studio": "the studio shows it in its Explore view, which asks the render cache, not the job form",
                    "presets": "its settings are the measured thumbnail settings (docs/explore.md): --size, --steps and --large are all it takes"}),
)}  # fmt: skip


def engine(name: Any) -> Engine:
    """The registration of `name`, or one line naming the engines there are."""
    if not isinstance(name, str) or name not in ENGINES:
        raise UserError(f"unknown engine {name!r}", did_you_mean(str(name), ENGINES))
    return ENGINES[name]


def engine_names(surface: str | None = None) -> tuple[str, ...]:
    """Every engine's name, or those `surface` ("studio", "cluster", "presets") offers."""
    return tuple(n for n, e in ENGINES.items() if surface is None or e.offers(surface))


def check(job) -> None:
    """Everything about `job` that can be refused before a model loads: its engine's own check
    and, for a clip, what its motion settings cannot mean for that engine."""
    spec = engine(job.engine)
    spec.run_check(job)
    if job.motion is not None and spec.clips:
        referenced(f"{_E}.clip:check_motion")(job)


def preset_sections() -> dict[str, type[CommonSettings]]:
    """The presets' sections and the settings each one fills in."""
    return {e.preset: e.settings for e in ENGINES.values() if e.preset}


def need(job, name: str, flag: str, hint: str) -> Any:
    """The input `name` of `job`, or one line saying it is missing (named as the CLI calls it)."""
    value = job.inputs.get(name)
    if value is None or value == []:
        raise UserError(f"missing {flag}", hint)
    return value
