"""`dreamstyle dream`: a photo, a clip or a batch, dreamed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .aliases import LayerAlias, either
from .app import app
from .common import (check_chatter, checked, cluster_of, examples, execute, from_output, gridded, guarded, motion_flags, path_or_none, recorded, recorded_motion,
                     setting_flags, settings_for, show_settings)
from ..core.settings import DreamSettings
from .options import CLUSTER, GRID, input_help, shared


@app.command("dream", epilog=examples(
    "dreamstyle dream photo.jpg",
    "dreamstyle dream photo.jpg --model efficientnet-lite0 --size 320 --seed 0 -o out.png",
    "dreamstyle dream photo.jpg --preset swirls",
    "dreamstyle dream photo.jpg --layers relu4_3:1,relu5_1:0.5 --octaves 5",
    "dreamstyle dream photo.jpg --model efficientnet-lite0 --layers block10 --channels 12,40",
    "dreamstyle dream photo.jpg --guide flowers.jpg",
    "dreamstyle dream photo.jpg --grid octaves=1-4 --grid-y layers='relu4_3|relu5_1' -o grid.png   # a labelled grid, cells in grid-cells/",
    "dreamstyle dream photo.jpg --mask sky.png        # dream only where the mask is white",
    "dreamstyle dream --from photo-dream.png --seed 7 -o again.png",
    "dreamstyle dream clip.mp4 --model efficientnet-lite0 --size 320 -o clip-dream.mp4",
    "dreamstyle dream frames/ --temporal flow --blend 0.7 -o dreamed.gif",
    "dreamstyle dream photos/ -o dreams/            # every picture; rerun to resume",
    "dreamstyle dream 'photos/*.jpg' -o dreams/",
    "dreamstyle dream photos/ -o dreams/ --backend ray --ray-address head-node:6379   # on a Ray cluster's workers",
))
@guarded
@shared("output", "model", "weights", "size", "steps", "lr", "seed", "save_every", "preset", "device", "precision", "deterministic",
        "max_pixels", "temporal", "blend", "fps", "cuts", "debug_flow", "from_", "force", "quiet", "verbose", *CLUSTER, *GRID,
        settings=DreamSettings, defaults={"output": "IMAGE-dream.png beside IMAGE (-2, -3 … if taken); a folder: FOLDER-dream/"})  # fmt: skip
def dream_command(
    image: Annotated[Optional[Path], typer.Argument(help=input_help("dream", "image", recorded=True), show_default=False)] = None,
    # Settings: their help and defaults are DreamSettings' fields' (see options.shared).
    mask: Annotated[Optional[Path], typer.Option(help=input_help("dream", "mask", recorded=True), show_default=False)] = None,
    layers: Optional[str] = None,
    layer: LayerAlias = None,
    channels: Optional[str] = None,
    guide: Optional[Path] = None,
    octaves: Optional[int] = None,
    octave_scale: Optional[float] = None,
    jitter: Optional[int] = None,
    norm: Optional[str] = None,
    smooth: Optional[float] = None,
    tile: Optional[int] = None,
    **opts: Any,
) -> None:
    """DeepDream IMAGE: amplify what a layer of the network sees in it, octave by octave.

    IMAGE may also be a video (.mp4 …), an animated GIF or a folder of frames (output .mp4/.gif or
    --temporal), held together over time by optical flow (docs/video.md), or a
    folder or quoted glob of pictures dreamed one by one into the -o folder (resumable).
    """
    from ..core.planning import plan

    quiet, verbose, source = opts["quiet"], opts["verbose"], opts["from_"]
    check_chatter(quiet, verbose)
    cluster = cluster_of(opts)
    layers = either("--layers", layers, "--layer", layer)
    earlier, inputs = recorded(source, "dream")
    output = from_output(source, opts["output"], image, force=opts["force"])
    image = image or inputs.get("image")
    mask = path_or_none(mask) or inputs.get("mask")
    flags = setting_flags(
        opts, layers=layers, channels=channels, guide=path_or_none(guide), octaves=octaves, octave_scale=octave_scale,
        jitter=jitter, norm=norm, smooth=smooth, tile=tile,
    )  # fmt: skip
    settings = settings_for(DreamSettings, "dream", opts["preset"], flags, earlier)
    masked = {"mask": mask} if mask else {}
    checked("dream", {"image": image, **masked}, settings)  # before `plan` looks for IMAGE as a folder or glob
    motion = motion_flags(opts)
    if mask and Path(mask).is_dir():  # refused before `plan` makes a batch's output folder
        refuse_mask_folder(mask, image, opts["output"], motion, source)
    todo = plan("dream", image, settings, output=output, inputs=masked, motion=motion, earlier_motion=recorded_motion(source))
    todo = gridded(todo, opts)
    show_settings(settings, source, verbose)
    execute(todo, force=opts["force"], quiet=settings.quiet, verbose=verbose, stage="dream", cluster=cluster,
            said=source is not None and opts["output"] is None)  # fmt: skip


def refuse_mask_folder(mask: str, image, output, motion: dict[str, Any], source) -> None:
    """A folder of masks for a folder of photos that `plan` will make a batch, not a clip: one
    line, with how to make it a clip (a clip flag or a video output, as `plan` reads them)."""
    from ..core.planning import kind_of
    from ..engines.dream import mask_folder_refused

    marked = any(v is not None for k, v in motion.items() if k != "fps") or source is not None
    if kind_of(image, output, marked) != "clip":
        raise mask_folder_refused(mask)
