"""`dreamstyle style`: a photo, a clip or a batch, painted in the manner of a painting."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .app import app
from .globs import check_style_arguments
from .common import (check_chatter, checked, cluster_of, examples, execute, fail, from_output, gridded, guarded, motion_flags, recorded, recorded_motion,
                     setting_flags, settings_for, show_settings)
from ..core.parsing import split_style_weight
from ..core.registry import ENGINES
from ..core.settings import StyleSettings, help_of
from ..core.settings_fast import FastSettings
from .options import CLUSTER, GRID, input_help, shared


def input_of(name: str) -> str:
    return next(i.help for i in ENGINES["style"].inputs if i.name == name)


@app.command(epilog=examples(
    "dreamstyle style photo.jpg starry_night.jpg",
    "dreamstyle style photo.jpg starry_night.jpg --model efficientnet-lite0 --size 256 --steps 200 -o out.png",
    "dreamstyle style photo.jpg a.jpg b.jpg --style-blend 0.7,0.3",
    "dreamstyle style photo.jpg painting.jpg --preserve-color luminance",
    "dreamstyle style photo.jpg painting.jpg --scales 256,512,1024 --preset hires",
    "dreamstyle style --from photo-style.png --style-weight 1000 -o stronger.png",
    "dreamstyle style clip.mp4 painting.jpg --model efficientnet-lite0 --size 320 --steps 60 -o clip-style.mp4",
    "dreamstyle style clip.gif painting.jpg --long-term --passes 3 -o final.mp4",
    "dreamstyle style 'photos/*.jpg' painting.jpg -o painted/",
    "dreamstyle style photo.jpg sky.jpg figure.jpg --mask sky-mask.png       # sky.jpg where the mask is white, figure.jpg the rest",
    "dreamstyle style photo.jpg a.jpg b.jpg --regions map.png --style-weight 100,300",
    "dreamstyle style photo.jpg a.jpg b.jpg --regions auto:2 -o out.png   # finds 2 regions, writes out.regions.png",
    "dreamstyle style photo.jpg painting.jpg --sweep 10,100,1000 -o sweep/",
    "dreamstyle style photos/ painting.jpg --sweep 10,100,1000 -o grid/ --backend ray",
    "dreamstyle style photo.jpg painting.jpg --grid style_weight=10,100,1000 --grid-y seed=0-2 -o grid.png   # cells in grid-cells/",
    "dreamstyle style photo.jpg --net starry.pt -o painted.png        # a network from `dreamstyle train`: one pass",
    "dreamstyle style photos/ --net three.pt --mix 0.2,0.3,0.5 -o painted/",
    "dreamstyle style clip.mp4 --net starry.pt --size 512 -o clip-painted.mp4   # every frame alone, no flow",
))
@guarded
@shared("output", "model", "weights", "size", "steps", "seed", "save_every", "preset", "device", "precision", "deterministic",
        "max_pixels", "temporal", "blend", "temporal_weight", "long_term", "passes", "fps", "cuts", "debug_flow", "from_", "force", "quiet", "verbose", *CLUSTER, *GRID,
        settings=StyleSettings, defaults={"output": "CONTENT-style.png beside CONTENT (-2, -3 … if taken); a folder: FOLDER-style/"})  # fmt: skip
def style(
    content: Annotated[Optional[Path], typer.Argument(help=input_help("style", "content", recorded=True), show_default=False)] = None,
    styles: Annotated[Optional[list[Path]], typer.Argument(help=input_help("style", "styles"), show_default=False)] = None,
    # Settings: their help and defaults are StyleSettings' fields' (see options.shared).
    content_layers: Optional[str] = None,
    style_layers: Optional[str] = None,
    content_weight: Optional[float] = None,
    style_weight: Annotated[Optional[str], typer.Option(help=help_of(StyleSettings, "style_weight"), show_default="100.0")] = None,
    tv_weight: Optional[float] = None,
    style_blend: Optional[str] = None,
    style_scale: Optional[float] = None,
    optimizer: Optional[str] = None,
    init: Optional[str] = None,
    scales: Optional[str] = None,
    preserve_color: Optional[str] = None,
    pooling: Optional[str] = None,
    tile: Optional[int] = None,
    lr: Optional[float] = None,
    net: Annotated[Optional[Path], typer.Option(help=help_of(FastSettings, "net"), show_default=False)] = None,
    mix: Annotated[Optional[str], typer.Option(help=help_of(FastSettings, "mix"), show_default=False)] = None,
    mask: Annotated[Optional[list[Path]], typer.Option(help=input_of("masks") + " Give it once per style.", show_default=False)] = None,
    regions: Annotated[Optional[str], typer.Option(help=input_of("regions"), show_default=False)] = None,
    regions_key: Optional[str] = None,
    style_mask: Annotated[Optional[list[Path]], typer.Option(help=input_of("style_masks") + " Give it once per style image, in order.", show_default=False)] = None,
    sweep: Annotated[Optional[str], typer.Option(help="A style-weight sweep, e.g. 10,100,1000: one picture per weight (and per photo of a folder), each with its weight in its settings, into the -o folder as STEM-sw10.png …; resumable like a batch.")] = None,
    **opts: Any,
) -> None:
    """Paint CONTENT in the manner of STYLE (Gatys et al.): content + Gram-matrix style losses.

    CONTENT may also be a video or frame folder (see `dream`), or a folder or quoted glob of photos.
    """
    from ..core.planning import plan, sweep_plan

    quiet, verbose, source = opts["quiet"], opts["verbose"], opts["from_"]
    check_chatter(quiet, verbose)
    check_style_arguments(content, styles, opts["output"], several_styles_meant=any(v is not None for v in (style_blend, mask, regions, style_mask, mix)))
    said = source is not None and opts["output"] is None  # where it writes is said even with --quiet
    opts = {**opts, "output": from_output(source, opts["output"], content, styles, force=opts["force"])}
    if source is not None and net is None:
        from ..core.job import Job

        earlier_job = Job.from_png(source)
        if earlier_job.engine == "fast":  # painted by a network: paint again with it (a clip's frame: the clip)
            net, content = Path(earlier_job.settings.net), content or earlier_job.inputs.get("content")
            mix = mix or (",".join(f"{w:g}" for w in earlier_job.settings.mix) if earlier_job.settings.mix else None)
            opts = {**opts, "from_": None, "size": opts.get("size") or earlier_job.settings.size,
                    "earlier_motion": recorded_motion(source)}  # fmt: skip
    if net is not None or mix is not None:
        own = dict(content_layers=content_layers, style_layers=style_layers, content_weight=content_weight, style_weight=style_weight,
                   tv_weight=tv_weight, style_blend=style_blend, style_scale=style_scale, optimizer=optimizer, init=init, scales=scales,
                   preserve_color=preserve_color, pooling=pooling, tile=tile, lr=lr, sweep=sweep, mask=mask, regions=regions,
                   regions_key=regions_key, style_mask=style_mask)  # fmt: skip
        return _paint_with_network(content, styles, net, mix, own, opts, said)
    cluster = cluster_of(opts)
    if sweep is not None and (opts.get("grid") or opts.get("grid_y")):
        fail("--sweep is a grid over the style weight already", "give --grid style_weight=… (and --grid-y) instead of --sweep")
    if sweep is not None and style_weight is not None:
        fail("--sweep and --style-weight both set the style weight", "give the weights to try to --sweep only")
    earlier, inputs = recorded(source, "style")
    content, styles = content or inputs.get("content"), styles or inputs.get("styles")
    regional = _regional(inputs, mask, regions, style_mask)
    style_weight, region_weights = split_style_weight(style_weight)
    flags = setting_flags(
        opts, content_layers=content_layers, style_layers=style_layers, content_weight=content_weight,
        style_weight=style_weight, regions_key=regions_key, region_weights=region_weights, tv_weight=tv_weight, style_blend=style_blend, style_scale=style_scale,
        optimizer=optimizer, init=init, scales=scales, preserve_color=preserve_color, pooling=pooling, tile=tile, lr=lr,
    )  # fmt: skip
    settings = settings_for(StyleSettings, "style", opts["preset"], flags, earlier)
    # Before `plan` looks for CONTENT as a folder or glob; the Job's inputs are strings.
    styles = checked("style", {"content": content, "styles": styles, **regional}, settings).inputs["styles"]
    if sweep is not None:
        todo = sweep_plan(content, settings, sweep, output=opts["output"], inputs={"styles": styles, **regional})
    else:
        todo = plan("style", content, settings, output=opts["output"], inputs={"styles": styles, **regional}, motion=motion_flags(opts),
                    earlier_motion=recorded_motion(source))  # fmt: skip
        todo = gridded(todo, opts)
    show_settings(settings, source, verbose)
    execute(todo, force=opts["force"], quiet=settings.quiet, verbose=verbose, stage="style", cluster=cluster, said=said)


def _regional(recorded: dict[str, Any], mask, regions, style_mask) -> dict[str, Any]:
    """The region inputs: those given now, else those of the --from output."""
    given = {"masks": [str(m) for m in mask] if mask else None, "regions": regions, "style_masks": [str(m) for m in style_mask] if style_mask else None}
    if any(v is not None for v in given.values()):
        return {k: v for k, v in given.items() if v is not None}
    return {k: recorded.get(k) for k in given if recorded.get(k) is not None}


# What painting with a network takes from the shared options: the rest belong to optimising,
# but for the clip flags (planning.clip_motion says which of them a network takes) and where it runs.
_NET_FLAGS = ("size", "seed", "device", "precision", "max_pixels", "quiet")
_NOT_OPTIMISING = ("output", "force", "verbose", "earlier_motion", "temporal", "blend", "temporal_weight", "long_term", "passes", "fps", "cuts",
                   "debug_flow", *CLUSTER, *GRID)  # fmt: skip


def _paint_with_network(content, styles, net, mix, own: dict[str, Any], opts: dict[str, Any], said: bool = False) -> None:
    """`style PHOTO --net NAME.pt`: Jobs of the "fast" engine, one forward pass a picture."""
    from ..core.planning import plan
    from ..core.settings import build, flag, parse_float_list

    if net is None:
        fail("--mix applies to painting with a trained network", "add --net NAME.pt (made by `dreamstyle train`)")
    if styles:
        fail("--net paints with the paintings the network learnt, so no STYLE image is given",
             "drop the STYLE images, or drop --net to paint with them by optimisation")  # fmt: skip
    cluster = cluster_of(opts)
    unused = [flag(k) for k, v in {**own, **opts}.items() if v not in (None, False) and k not in (*_NET_FLAGS, *_NOT_OPTIMISING)]
    if unused:
        fail(f"{', '.join(unused)} {'applies' if len(unused) == 1 else 'apply'} to optimising, not to painting with --net",
             "a network's strength and layers were set when it was trained; drop them")  # fmt: skip
    values = {k: opts[k] for k in _NET_FLAGS if opts.get(k) not in (None, False)}
    settings = build(FastSettings, {**values, "net": str(net), "mix": parse_float_list(mix, "--mix") if mix else None})
    checked("fast", {"content": content}, settings)
    todo = plan("fast", content, settings, output=opts["output"], name="style", motion=motion_flags(opts),
                earlier_motion=opts.get("earlier_motion"))  # fmt: skip
    todo = gridded(todo, opts)
    execute(todo, force=opts["force"], quiet=settings.quiet, verbose=opts["verbose"], stage="paint", cluster=cluster, said=said)
