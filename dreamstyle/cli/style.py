"""`dreamstyle style`: a photo, a clip or a batch, painted in the manner of a painting."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .app import app
from .common import (check_chatter, checked, cluster_of, examples, execute, fail, guarded, motion_flags, recorded, recorded_motion,
                     setting_flags, settings_for, show_settings)
from ..core.settings import StyleSettings
from .options import CLUSTER, input_help, shared


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
        settings=StyleSettings, defaults={"output": "CONTENT-style.png beside CONTENT (-2, -3 … if taken); a folder: FOLDER-style/"})  # fmt: skip
def style(
    content: Annotated[Optional[Path], typer.Argument(help=input_help("style", "content", recorded=True), show_default=False)] = None,
    styles: Annotated[Optional[list[Path]], typer.Argument(help=input_help("style", "styles"), show_default=False)] = None,
    # Settings: their help and defaults are StyleSettings' fields' (see options.shared).
    content_layers: Optional[str] = None,
    style_layers: Optional[str] = None,
    content_weight: Optional[float] = None,
    style_weight: Optional[float] = None,
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
    sweep: Annotated[Optional[str], typer.Option(help="A style-weight sweep, e.g. 10,100,1000: one picture per weight (and per photo of a folder), each with its weight in its settings, into the -o folder as STEM-sw10.png …; resumable like a batch.")] = None,
    **opts: Any,
) -> None:
    """Paint CONTENT in the manner of STYLE (Gatys et al.): content + Gram-matrix style losses.

    CONTENT may also be a video or frame folder (see `dream`), or a folder or quoted glob of photos.
    """
    from ..core.planning import plan, sweep_plan

    quiet, verbose, source = opts["quiet"], opts["verbose"], opts["from_"]
    check_chatter(quiet, verbose)
    cluster = cluster_of(opts)
    if sweep is not None and style_weight is not None:
        fail("--sweep and --style-weight both set the style weight", "give the weights to try to --sweep only")
    earlier, inputs = recorded(source, "style")
    content, styles = content or inputs.get("content"), styles or inputs.get("styles")
    flags = setting_flags(
        opts, content_layers=content_layers, style_layers=style_layers, content_weight=content_weight,
        style_weight=style_weight, tv_weight=tv_weight, style_blend=style_blend, style_scale=style_scale,
        optimizer=optimizer, init=init, scales=scales, preserve_color=preserve_color, pooling=pooling, tile=tile, lr=lr,
    )  # fmt: skip
    settings = settings_for(StyleSettings, "style", opts["preset"], flags, earlier)
    # Before `plan` looks for CONTENT as a folder or glob; the Job's inputs are strings.
    styles = checked("style", {"content": content, "styles": styles}, settings).inputs["styles"]
    if sweep is not None:
        todo = sweep_plan(content, settings, sweep, output=opts["output"], inputs={"styles": styles})
    else:
        todo = plan("style", content, settings, output=opts["output"], inputs={"styles": styles}, motion=motion_flags(opts),
                    earlier_motion=recorded_motion(source))  # fmt: skip
    show_settings(settings, source, verbose)
    execute(todo, force=opts["force"], quiet=settings.quiet, verbose=verbose, stage="style", cluster=cluster)
