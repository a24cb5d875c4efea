"""`dreamstyle style`: a photo, a clip or a batch, painted in the manner of a painting."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .app import app
from .common import (check_chatter, cluster_of, examples, execute, fail, guarded, motion_flags, need, recorded, recorded_motion,
                     setting_flags, settings_for, show_settings)
from ..settings import StyleSettings
from .options import CLUSTER, documented, shared


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
    "dreamstyle style photo.jpg painting.jpg --sweep 10,100,1000 -o sweep/",
    "dreamstyle style photos/ painting.jpg --sweep 10,100,1000 -o grid/ --backend ray",
))
@guarded
@shared("output", "model", "weights", "size", "steps", "seed", "save_every", "preset", "device", "precision", "deterministic",
        "max_pixels", "temporal", "blend", "temporal_weight", "long_term", "passes", "fps", "from_", "force", "quiet", "verbose", *CLUSTER,
        defaults=documented(StyleSettings, output="CONTENT-style.png beside CONTENT (-2, -3 … if taken); a folder: FOLDER-style/"))  # fmt: skip
def style(
    content: Annotated[Optional[Path], typer.Argument(help="The photo to paint (with --from: the one recorded there).", show_default=False)] = None,
    styles: Annotated[Optional[list[Path]], typer.Argument(help="One or more style images (blended).", show_default=False)] = None,
    content_layers: Annotated[Optional[str], typer.Option(help="Content layers, optionally weighted (relu4_2). Default: the model's.")] = None,
    style_layers: Annotated[Optional[str], typer.Option(help="Style layers, optionally weighted (relu1_1,relu2_1:0.5,…). Default: the model's.")] = None,
    content_weight: Annotated[Optional[float], typer.Option(help="Weight of the content loss. [default: 1]")] = None,
    style_weight: Annotated[Optional[float], typer.Option(help="Weight of the style loss; 1 is a hint of the painting, 1000 the full texture, and each tenfold step takes visibly more of the photo away. [default: 100]")] = None,
    tv_weight: Annotated[Optional[float], typer.Option(help="Weight of total-variation smoothing. [default: 5]")] = None,
    style_blend: Annotated[Optional[str], typer.Option(help="Weights of several style images, e.g. 0.7,0.3.")] = None,
    style_scale: Annotated[Optional[float], typer.Option(help="Style image size relative to the output; smaller = finer strokes. [default: 1]")] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="lbfgs or adam. [default: lbfgs]")] = None,
    init: Annotated[Optional[str], typer.Option(help="Start from: palette (the photo in the painting's colours), content (the photo as it is), noise, style or an image FILE. [default: palette]")] = None,
    scales: Annotated[Optional[str], typer.Option(help="Coarse-to-fine sizes, e.g. 256,512; with --size the ladder is rescaled to end at --size. Default: halve down to no less than 192 px.")] = None,
    preserve_color: Annotated[Optional[str], typer.Option(help="none, luminance (keep the photo's colours) or histogram (recolour the style first). [default: none]")] = None,
    pooling: Annotated[Optional[str], typer.Option(help="max or avg pooling in VGG. [default: max]")] = None,
    tile: Annotated[Optional[int], typer.Option(help="Refine scales larger than this in tiles of it (Adam, global style targets); 0: never. [default: 0]")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Adam step size. [default: 0.02; 0.005 when a --tile scale is refined]")] = None,
    sweep: Annotated[Optional[str], typer.Option(help="A style-weight sweep, e.g. 10,100,1000: one picture per weight (and per photo of a folder), each with its weight in its settings, into the -o folder as STEM-sw10.png …; resumable like a batch.")] = None,
    **opts: Any,
) -> None:
    """Paint CONTENT in the manner of STYLE (Gatys et al.): content + Gram-matrix style losses.

    CONTENT may also be a video or frame folder (see `dream`), or a folder or quoted glob of photos.
    """
    from ..inputs import plan, sweep_plan

    quiet, verbose, source = opts["quiet"], opts["verbose"], opts["from_"]
    check_chatter(quiet, verbose)
    cluster = cluster_of(opts)
    if sweep is not None and style_weight is not None:
        fail("--sweep and --style-weight both set the style weight", "give the weights to try to --sweep only")
    earlier, inputs = recorded(source, "style")
    content = need(content or inputs.get("content"), "CONTENT", "give the photo to paint and one or more style images")
    styles = need(styles or inputs.get("styles"), "STYLE", "give one or more style images after the photo")
    if None in styles:
        fail(f"{source} was painted from a style image that was never a file", "give the style images on the command line")
    flags = setting_flags(
        opts, content_layers=content_layers, style_layers=style_layers, content_weight=content_weight,
        style_weight=style_weight, tv_weight=tv_weight, style_blend=style_blend, style_scale=style_scale,
        optimizer=optimizer, init=init, scales=scales, preserve_color=preserve_color, pooling=pooling, tile=tile, lr=lr,
    )  # fmt: skip
    settings = settings_for(StyleSettings, "style", opts["preset"], flags, earlier)
    styles = [str(p) for p in styles]
    if sweep is not None:
        todo = sweep_plan(content, settings, sweep, output=opts["output"], inputs={"styles": styles})
    else:
        todo = plan("style", content, settings, output=opts["output"], inputs={"styles": styles}, motion=motion_flags(opts),
                    earlier_motion=recorded_motion(source))  # fmt: skip
    show_settings(settings, source, verbose)
    execute(todo, force=opts["force"], quiet=settings.quiet, verbose=verbose, stage="style", cluster=cluster)
