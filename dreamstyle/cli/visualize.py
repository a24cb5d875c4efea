"""`dreamstyle visualize …`: filters, feature maps, channels, neurons, classes, the shift probe
and a folder's top pictures for a channel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .aliases import LayerAlias, LayersAlias, either
from .app import viz
from .common import check_chatter, checked, cluster_of, examples, execute, from_output, given, gridded, guarded, path_or_none, recorded, settings_for, show_settings
from ..core.settings import VisualizeSettings
from ..core.settings_probe import ShiftSettings, TopSettings
from .options import CLUSTER, GRID, OPTIMISING, RUNNING, Layer, input_help, shared

# Flags that are not settings: the command's own business.
_NOT_SETTINGS = ("output", "from_", "force", "quiet", "verbose", *CLUSTER, *GRID)
# What the commands that look at a picture without optimising one share (maps, shift).
ONE_PASS = ("output", "model", "weights", "size", "device", "max_pixels", "from_", "force", "quiet", "verbose")
# A sheet of many pictures: each one smaller than a single picture's default.
SHEET = {"size": 128}
CACHED = " What the network saw is cached in FOLDER/.dreamstyle-cache/, so another channel of the layer is quick."


def _engine(kind: str) -> str:
    return f"visualize.{kind}"


def _defaults(output: str, **own):
    return {"output": output + " in the current folder (-2, -3 … if taken)", **own}


def _settings(kind: str, opts: dict[str, Any], defaults: dict[str, Any], cls: type | None = None, **own: Any):
    """defaults < an earlier output of the same command (--from) < flags; plus its recorded inputs."""
    check_chatter(opts["quiet"], opts["verbose"])
    earlier, inputs = recorded(opts["from_"], f"visualize {kind}")
    flags = {k: v for k, v in opts.items() if k not in _NOT_SETTINGS}
    flags["weights"] = path_or_none(flags.get("weights"))
    s = settings_for(cls or VisualizeSettings, "visualize", None, given(quiet=opts["quiet"], **flags, **own), {**defaults, **earlier})
    show_settings(s, opts["from_"], opts["verbose"])
    return s, inputs


def _run(kind: str, settings, inputs: dict[str, Any], opts: dict[str, Any], stem, typed=None):
    """One picture named --output, with --from where the run it repeats wrote (see from_output)
    unless `typed` (the input typed now) is given, or STEM.png in the current folder (-2, -3 …
    rather than overwrite); `stem` is a name or a function making it once the Job has passed its check."""
    from ..media.images import free_path
    from ..core.planning import Plan

    job = checked(_engine(kind), inputs, settings)
    out = from_output(opts["from_"], opts["output"], typed, force=opts["force"]) or free_path(Path(f"{stem() if callable(stem) else stem}.png"))
    todo = gridded(Plan("image", [job.replace(output=str(out))]), opts)
    said = opts["from_"] is not None and opts["output"] is None
    return execute(todo, force=opts["force"], quiet=settings.quiet, verbose=opts["verbose"], said=said)


@viz.command("filters", epilog=examples(
    "dreamstyle visualize filters --model efficientnet-lite0",
    "dreamstyle visualize filters --model vgg16 --layer relu3_1 --channels 0-15",
))
@guarded
@shared(*OPTIMISING, *RUNNING, settings=VisualizeSettings, defaults=_defaults("MODEL-filters.png (MODEL-filters-LAYER.png)", **SHEET))
def viz_filters(
    layer: Layer = None,
    layers: LayersAlias = None,
    channels: Annotated[Optional[str], typer.Option(help="With a deeper --layer: which channels to render. [default: 0-15]")] = None,
    **opts: Any,
) -> None:
    """The first conv layer's kernels as an RGB grid; for a deeper --layer, what each filter responds to."""
    from ..core.settings import parse_int_list

    s, inputs = _settings("filters", opts, SHEET)
    layer = either("--layer", layer, "--layers", layers) or inputs.get("layer")
    picked = parse_int_list(channels or inputs.get("channels") or "0-15")
    _run("filters", s, {"layer": layer, "channels": picked}, opts, f"{s.model}-filters" + (f"-{layer}" if layer else ""))


@viz.command("maps", epilog=examples(
    "dreamstyle visualize maps photo.jpg --layer block3 --model efficientnet-lite0 --top 16",
    "dreamstyle visualize maps --from photo-maps-block3.png --layer block5",
    "dreamstyle visualize maps photos/ --layer block3 --model efficientnet-lite0 -o maps/",
))
@guarded
@shared(*ONE_PASS, *CLUSTER, settings=VisualizeSettings, defaults={"output": "IMAGE-maps-LAYER.png beside IMAGE (-2, -3 … if taken); a folder: FOLDER-maps-LAYER/"})
def viz_maps(
    image: Annotated[Optional[Path], typer.Argument(help=input_help(_engine("maps"), "image", recorded=True), show_default=False)] = None,
    layer: Annotated[Optional[str], typer.Option(help="Layer whose maps to show.")] = None,
    layers: LayersAlias = None,
    top: Annotated[Optional[int], typer.Option(help="How many channels, strongest first. [default: 16]")] = None,
    **opts: Any,
) -> None:
    """IMAGE's feature maps at --layer as a grid, strongest channels first, numbered."""
    from ..core.planning import plan

    cluster = cluster_of(opts)
    s, inputs = _settings("maps", opts, {})
    typed, image = image, image or inputs.get("image")
    layer = either("--layer", layer, "--layers", layers) or inputs.get("layer")
    top = top if top is not None else inputs.get("top", 16)
    # Missing or bad arguments are refused before a folder is looked at or a model loads.
    checked(_engine("maps"), {"image": image, "layer": layer, "top": top}, s)
    output = from_output(opts["from_"], opts["output"], typed, force=opts["force"])
    todo = plan(_engine("maps"), image, s, output=output, inputs={"layer": layer, "top": top}, name=f"maps-{layer}")
    execute(todo, force=opts["force"], quiet=s.quiet, verbose=opts["verbose"], stage=f"maps-{layer}", cluster=cluster,
            said=opts["from_"] is not None and opts["output"] is None)  # fmt: skip


@viz.command("channels", epilog=examples(
    "dreamstyle visualize channels --model efficientnet-lite0 --layer block6 --channels 0-15",
    "dreamstyle visualize channels --layer relu4_3 --channels 3,7,9 --steps 512",
))
@guarded
@shared(*OPTIMISING, *RUNNING, *GRID, settings=VisualizeSettings, defaults=_defaults("MODEL-LAYER-channels.png", **SHEET))
def viz_channels(
    layer: Annotated[Optional[str], typer.Option(help="Layer whose channels to render.")] = None,
    layers: LayersAlias = None,
    channels: Annotated[Optional[str], typer.Option(help="Channels: 0-15 or 3,7,9. [default: 0-15]")] = None,
    **opts: Any,
) -> None:
    """Activation maximisation of each channel, optimised together as one batch, on a labelled sheet."""
    from ..core.settings import parse_int_list

    s, inputs = _settings("channels", opts, SHEET)
    layer = either("--layer", layer, "--layers", layers) or inputs.get("layer")
    picked = parse_int_list(channels or inputs.get("channels") or "0-15")
    _run("channels", s, {"layer": layer, "channels": picked}, opts, f"{s.model}-{layer}-channels")


@viz.command("neuron", epilog=examples(
    "dreamstyle visualize neuron --model efficientnet-lite0 --layer block9 --channel 12",
    "dreamstyle visualize neuron --model efficientnet-lite0 --layer block9 --channel 12 --batch 4 --diversity 1",
))
@guarded
@shared(*OPTIMISING, "diversity", "batch", *RUNNING, *GRID, settings=VisualizeSettings, defaults=_defaults("MODEL-LAYER-CHANNEL-neuron.png"))
def viz_neuron(
    layer: Annotated[Optional[str], typer.Option(help="Layer of the neuron.")] = None,
    layers: LayersAlias = None,
    channel: Annotated[Optional[int], typer.Option(help="Channel of the neuron.")] = None,
    x: Annotated[Optional[int], typer.Option(help="Column in the layer's map. [default: centre]")] = None,
    y: Annotated[Optional[int], typer.Option(help="Row in the layer's map. [default: centre]")] = None,
    **opts: Any,
) -> None:
    """One unit: what makes channel C at (x, y) of --layer fire most."""
    s, inputs = _settings("neuron", opts, {})
    layer = either("--layer", layer, "--layers", layers) or inputs.get("layer")
    channel = channel if channel is not None else inputs.get("channel")
    x = x if x is not None else inputs.get("x")
    y = y if y is not None else inputs.get("y")
    _run("neuron", s, {"layer": layer, "channel": channel, "x": x, "y": y}, opts, f"{s.model}-{layer}-{channel}-neuron")


@viz.command("class", epilog=examples(
    "dreamstyle visualize class goldfish --model efficientnet-lite0",
    "dreamstyle visualize class 980 --batch 4 --diversity 1",
))
@guarded
@shared(*OPTIMISING, "diversity", "batch", *RUNNING, *GRID, settings=VisualizeSettings, defaults=_defaults("MODEL-class-NAME.png"))
def viz_class(
    classes: Annotated[Optional[list[str]], typer.Argument(help=input_help(_engine("class"), "classes"), show_default=False)] = None,
    **opts: Any,
) -> None:
    """What the network thinks a class looks like: maximise its pre-softmax logit."""
    s, inputs = _settings("class", opts, {})
    classes = list(classes or inputs.get("classes") or [])

    def stem() -> str:  # once the check has known every class
        from ..engines.visualize import class_index, class_names

        names = [class_names()[class_index(c)] for c in classes]
        return f"{s.model}-class-{names[0].replace(' ', '_')}" + ("-etc" if len(names) > 1 else "")

    _run("class", s, {"classes": classes}, opts, stem)


@viz.command("shift", epilog=examples(
    "dreamstyle visualize shift samples/cat.jpg",
    "dreamstyle visualize shift samples/cat.jpg --layers block3,block8 --max-shift 64 --json",
    "dreamstyle visualize shift samples/cat.jpg --max-shift 0 --rotate 45",
))  # fmt: skip
@guarded
@shared(*ONE_PASS, settings=ShiftSettings)
def viz_shift(
    image: Annotated[Optional[Path], typer.Argument(help=input_help(_engine("shift"), "image", recorded=True), show_default=False)] = None,
    # Settings: their help and defaults are ShiftSettings' fields' (see options.shared).
    layers: Optional[str] = None,
    layer: LayerAlias = None,
    max_shift: Optional[int] = None,
    rotate: Optional[float] = None,
    scale: Optional[float] = None,
    points: Optional[int] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Also print the numbers as JSON on stdout.")] = False,
    **opts: Any,
) -> None:
    """How the top class and each layer's maps follow a moving picture: one plot (bundled efficientnet-lite0 by default)."""
    import json

    s, inputs = _settings("shift", opts, {}, ShiftSettings, layers=either("--layers", layers, "--layer", layer), max_shift=max_shift, rotate=rotate, scale=scale, points=points)
    typed, image = image, image or inputs.get("image")
    result = _run("shift", s, {"image": image}, opts, lambda: f"{Path(str(image)).stem}-shift", typed)
    if json_out:
        typer.echo(json.dumps(result.image.info["dreamstyle"]["ran"]["measured"], indent=2))


@viz.command("top", epilog=examples(
    "dreamstyle visualize top block6:12 photos/",
    "dreamstyle visualize top block6:40 photos/ --top 16 --steps 256",
))  # fmt: skip
@guarded
@shared(*OPTIMISING, "max_pixels", *RUNNING, settings=TopSettings)
def viz_top(
    unit: Annotated[Optional[str], typer.Argument(metavar="LAYER:CHANNEL", help="The channel: block6:12.", show_default=False)] = None,
    folder: Annotated[Optional[Path], typer.Argument(help=input_help(_engine("top"), "folder") + CACHED, show_default=False)] = None,
    top: Optional[int] = None,  # TopSettings' fields, as `shift`'s above
    chunk: Optional[int] = None,
    **opts: Any,
) -> None:
    """The pictures of FOLDER that excite a channel most, each cropped to its receptive field, beside its activation-maximisation image."""
    from ..engines.top_images import parse_unit

    s, inputs = _settings("top", opts, {}, TopSettings, top=top, chunk=chunk)
    layer, channel = parse_unit(unit) if unit else (inputs.get("layer"), inputs.get("channel"))
    typed, folder = folder, folder or inputs.get("folder")
    _run("top", s, {"layer": layer, "channel": channel, "folder": folder}, opts, f"{s.model}-{layer}-{channel}-top", typed)
