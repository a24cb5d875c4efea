"""`dreamstyle dream`: a photo, a clip or a batch, dreamed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .app import app
from .common import (check_chatter, cluster_of, examples, execute, guarded, motion_flags, need, path_or_none, recorded, recorded_motion,
                     setting_flags, settings_for, show_settings)
from ..settings import DreamSettings
from .options import CLUSTER, Channels, Jitter, Layers, OctaveScale, Smooth, documented, shared


@app.command(epilog=examples(
    "dreamstyle dream photo.jpg",
    "dreamstyle dream photo.jpg --model efficientnet-lite0 --size 320 --seed 0 -o out.png",
    "dreamstyle dream photo.jpg --preset swirls",
    "dreamstyle dream photo.jpg --layers relu4_3:1,relu5_1:0.5 --octaves 5",
    "dreamstyle dream photo.jpg --model efficientnet-lite0 --layers block10 --channels 12,40",
    "dreamstyle dream photo.jpg --guide flowers.jpg",
    "dreamstyle dream --from photo-dream.png --seed 7 -o again.png",
    "dreamstyle dream clip.mp4 --model efficientnet-lite0 --size 320 -o clip-dream.mp4",
    "dreamstyle dream frames/ --temporal flow --blend 0.7 -o dreamed.gif",
    "dreamstyle dream photos/ -o dreams/            # every picture; rerun to resume",
    "dreamstyle dream 'photos/*.jpg' -o dreams/",
    "dreamstyle dream photos/ -o dreams/ --backend ray --ray-address head-node:6379   # on a Ray cluster's workers",
))
@guarded
@shared("output", "model", "weights", "size", "steps", "lr", "seed", "save_every", "preset", "device", "precision", "deterministic",
        "max_pixels", "temporal", "blend", "fps", "from_", "force", "quiet", "verbose", *CLUSTER,
        defaults=documented(DreamSettings, output="IMAGE-dream.png beside IMAGE (-2, -3 … if taken); a folder: FOLDER-dream/"))  # fmt: skip
def dream(
    image: Annotated[Optional[Path], typer.Argument(help="The photo to dream on (with --from: the one recorded there).", show_default=False)] = None,
    layers: Layers = None,
    channels: Channels = None,
    guide: Annotated[Optional[Path], typer.Option(help="Guide image: grow what the network sees in it instead.")] = None,
    octaves: Annotated[Optional[int], typer.Option(help="Octave pyramid levels. [default: 4]")] = None,
    octave_scale: OctaveScale = None,
    jitter: Jitter = None,
    norm: Annotated[Optional[str], typer.Option(help="Gradient normalisation: mean-abs or std. [default: mean-abs]")] = None,
    smooth: Smooth = None,
    tile: Annotated[Optional[int], typer.Option(help="Compute the gradient in tiles of this many pixels (bounded memory at any size); 0: never. [default: auto, only when the image would not fit]")] = None,
    **opts: Any,
) -> None:
    """DeepDream IMAGE: amplify what a layer of the network sees in it, octave by octave.

    IMAGE may also be a video (.mp4 …), an animated GIF or a folder of frames (output .mp4/.gif or
    --temporal), held together over time by optical flow (docs/video.md), or a
    folder or quoted glob of pictures dreamed one by one into the -o folder (resumable).
    """
    from ..inputs import plan

    quiet, verbose, source = opts["quiet"], opts["verbose"], opts["from_"]
    check_chatter(quiet, verbose)
    cluster = cluster_of(opts)
    earlier, inputs = recorded(source, "dream")
    image = need(image or inputs.get("image"), "IMAGE", "give the photo to dream on")
    flags = setting_flags(
        opts, layers=layers, channels=channels, guide=path_or_none(guide), octaves=octaves, octave_scale=octave_scale,
        jitter=jitter, norm=norm, smooth=smooth, tile=tile,
    )  # fmt: skip
    settings = settings_for(DreamSettings, "dream", opts["preset"], flags, earlier)
    todo = plan("dream", image, settings, output=opts["output"], motion=motion_flags(opts), earlier_motion=recorded_motion(source))
    show_settings(settings, source, verbose)
    execute(todo, force=opts["force"], quiet=settings.quiet, verbose=verbose, stage="dream", cluster=cluster)
