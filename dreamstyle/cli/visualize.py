"""`dreamstyle visualize …`: filters, feature maps, channels, neurons and classes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .app import viz
from .common import check_chatter, cluster_of, examples, execute, given, guarded, path_or_none, recorded, settings_for, show_settings
from .options import CLUSTER, OPTIMISING, RUNNING, Layer, shared

# Flags that are not settings: the command's own business.
_NOT_SETTINGS = ("output", "from_", "force", "quiet", "verbose", *CLUSTER)


def _settings(kind: str, opts: dict[str, Any], defaults: dict[str, Any]):
    """defaults < an earlier output of the same command (--from) < flags; plus its recorded inputs."""
    from ..settings import VisualizeSettings

    check_chatter(opts["quiet"], opts["verbose"])
    earlier, inputs = recorded(opts["from_"], f"visualize {kind}")
    flags = {k: v for k, v in opts.items() if k not in _NOT_SETTINGS}
    flags["weights"] = path_or_none(flags.get("weights"))
    s = settings_for(VisualizeSettings, "visualize", None, given(quiet=opts["quiet"], **flags), {**defaults, **earlier})
    show_settings(s, opts["from_"], opts["verbose"])
    return s, inputs


def _run(kind: str, settings, inputs: dict[str, Any], opts: dict[str, Any], stem: str) -> None:
    """One picture named --output, or STEM.png in the current folder (-2, -3 … rather than overwrite)."""
    from ..images import free_path
    from ..inputs import Plan
    from ..job import Job

    out = opts["output"] or free_path(Path(f"{stem}.png"))
    todo = Plan("image", [Job(f"visualize.{kind}", inputs, settings, output=str(out))])
    execute(todo, force=opts["force"], quiet=settings.quiet, verbose=opts["verbose"])


@viz.command("filters", epilog=examples(
    "dreamstyle visualize filters --model efficientnet-lite0",
    "dreamstyle visualize filters --model vgg16 --layer relu3_1 --channels 0-15",
))
@guarded
@shared(*OPTIMISING, *RUNNING)
def viz_filters(
    layer: Layer = None,
    channels: Annotated[Optional[str], typer.Option(help="With a deeper --layer: which channels to render. [default: 0-15]")] = None,
    **opts: Any,
) -> None:
    """The first conv layer's kernels as an RGB grid; for a deeper --layer, what each filter responds to."""
    from ..settings import parse_int_list

    s, inputs = _settings("filters", opts, {"size": 128})
    layer = layer or inputs.get("layer")
    picked = parse_int_list(channels or inputs.get("channels") or "0-15")
    _run("filters", s, {"layer": layer, "channels": picked}, opts, f"{s.model}-filters" + (f"-{layer}" if layer else ""))


@viz.command("maps", epilog=examples(
    "dreamstyle visualize maps photo.jpg --layer block3 --model efficientnet-lite0 --top 16",
    "dreamstyle visualize maps --from photo-maps-block3.png --layer block5",
    "dreamstyle visualize maps photos/ --layer block3 --model efficientnet-lite0 -o maps/",
))
@guarded
@shared("output", "model", "weights", "size", "device", "max_pixels", "from_", "force", "quiet", "verbose", *CLUSTER)
def viz_maps(
    image: Annotated[Optional[Path], typer.Argument(help="The image to look at (with --from: the one recorded there).", show_default=False)] = None,
    layer: Annotated[Optional[str], typer.Option(help="Layer whose maps to show.")] = None,
    top: Annotated[Optional[int], typer.Option(help="How many channels, strongest first. [default: 16]")] = None,
    **opts: Any,
) -> None:
    """IMAGE's feature maps at --layer as a grid, strongest channels first, numbered."""
    from ..engines import ENGINES
    from ..inputs import plan
    from ..job import Job

    cluster = cluster_of(opts)
    s, inputs = _settings("maps", opts, {})
    image = image or inputs.get("image")
    layer = layer or inputs.get("layer")
    top = top if top is not None else inputs.get("top", 16)
    # Missing or bad arguments are refused before a folder is looked at or a model loads.
    ENGINES["visualize.maps"].check(Job("visualize.maps", {"image": image, "layer": layer, "top": top}, s))
    todo = plan("visualize.maps", image, s, output=opts["output"], inputs={"layer": layer, "top": top}, name=f"maps-{layer}")
    execute(todo, force=opts["force"], quiet=s.quiet, verbose=opts["verbose"], stage=f"maps-{layer}", cluster=cluster)


@viz.command("channels", epilog=examples(
    "dreamstyle visualize channels --model efficientnet-lite0 --layer block6 --channels 0-15",
    "dreamstyle visualize channels --layer relu4_3 --channels 3,7,9 --steps 512",
))
@guarded
@shared(*OPTIMISING, *RUNNING)
def viz_channels(
    layer: Annotated[Optional[str], typer.Option(help="Layer whose channels to render.")] = None,
    channels: Annotated[Optional[str], typer.Option(help="Channels: 0-15 or 3,7,9. [default: 0-15]")] = None,
    **opts: Any,
) -> None:
    """Activation maximisation of each channel, optimised together as one batch, on a labelled sheet."""
    from ..settings import parse_int_list

    s, inputs = _settings("channels", opts, {"size": 128})
    layer = layer or inputs.get("layer")
    picked = parse_int_list(channels or inputs.get("channels") or "0-15")
    _run("channels", s, {"layer": layer, "channels": picked}, opts, f"{s.model}-{layer}-channels")


@viz.command("neuron", epilog=examples(
    "dreamstyle visualize neuron --model efficientnet-lite0 --layer block9 --channel 12",
    "dreamstyle visualize neuron --model efficientnet-lite0 --layer block9 --channel 12 --batch 4 --diversity 1",
))
@guarded
@shared(*OPTIMISING, "diversity", "batch", *RUNNING)
def viz_neuron(
    layer: Annotated[Optional[str], typer.Option(help="Layer of the neuron.")] = None,
    channel: Annotated[Optional[int], typer.Option(help="Channel of the neuron.")] = None,
    x: Annotated[Optional[int], typer.Option(help="Column in the layer's map. [default: centre]")] = None,
    y: Annotated[Optional[int], typer.Option(help="Row in the layer's map. [default: centre]")] = None,
    **opts: Any,
) -> None:
    """One unit: what makes channel C at (x, y) of --layer fire most."""
    s, inputs = _settings("neuron", opts, {})
    layer = layer or inputs.get("layer")
    channel = channel if channel is not None else inputs.get("channel")
    x = x if x is not None else inputs.get("x")
    y = y if y is not None else inputs.get("y")
    _run("neuron", s, {"layer": layer, "channel": channel, "x": x, "y": y}, opts, f"{s.model}-{layer}-{channel}-neuron")


@viz.command("class", epilog=examples(
    "dreamstyle visualize class goldfish --model efficientnet-lite0",
    "dreamstyle visualize class 980 --batch 4 --diversity 1",
))
@guarded
@shared(*OPTIMISING, "diversity", "batch", *RUNNING)
def viz_class(
    classes: Annotated[Optional[list[str]], typer.Argument(help="ImageNet classes by name (goldfish, volcano) or index.", show_default=False)] = None,
    **opts: Any,
) -> None:
    """What the network thinks a class looks like: maximise its pre-softmax logit."""
    from ..engines import ENGINES
    from ..job import Job
    from ..visualize import class_index, class_names

    s, inputs = _settings("class", opts, {})
    classes = list(classes or inputs.get("classes") or [])
    ENGINES["visualize.class"].check(Job("visualize.class", {"classes": classes}, s))
    names = [class_names()[class_index(c)] for c in classes]
    stem = f"{s.model}-class-{names[0].replace(' ', '_')}" + ("-etc" if len(names) > 1 else "")
    _run("class", s, {"classes": classes}, opts, stem)
