"""`dreamstyle zoom`: the feedback zoom into a dream, as a video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .aliases import LayerAlias, either
from .app import app
from .common import (check_chatter, checked, examples, execute, from_output, guarded, path_or_none, recorded, setting_flags,
                     settings_for, show_settings)
from ..core.settings import DreamSettings
from .options import input_help, shared


@app.command("zoom", epilog=examples(
    "dreamstyle zoom photo.jpg --frames 48 -o zoom.mp4",
    "dreamstyle zoom photo.jpg --model efficientnet-lite0 --size 320 --frames 24 --zoom 1.04 --rotate 1 -o zoom.gif",
    "dreamstyle zoom photo.jpg --preset swirls --frames 120 --fps 24 -o frames/",
    "dreamstyle zoom photo.jpg --mask sky.png --frames 48 -o sky-zoom.mp4   # the dream only in the sky, which zooms with the photo",
    "dreamstyle zoom --from zoom.gif --frames 48 -o longer.gif   # a GIF carries its zoom's settings",
))
@guarded
@shared("model", "weights", "size", "steps", "lr", "seed", "preset", "device", "precision", "deterministic", "max_pixels",
        "from_", "force", "quiet", "verbose", settings=DreamSettings)  # fmt: skip
def zoom_cmd(
    image: Annotated[Optional[Path], typer.Argument(help=input_help("zoom", "image", recorded=True), show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="out.mp4, out.gif, or a folder for PNG frames (frame_00000.png …). [default: IMAGE-zoom.mp4 beside IMAGE]")] = None,
    # MotionSettings' zoom fields (their help and defaults), None where not typed: --from fills them in.
    frames: Optional[int] = None,
    zoom: Optional[float] = None,
    rotate: Optional[float] = None,
    fps: Annotated[Optional[float], typer.Option(help="Frames per second of the output. [default: 12]")] = None,
    mask: Annotated[Optional[Path], typer.Option(help=input_help("zoom", "mask", recorded=True), show_default=False)] = None,
    # Dream settings (DreamSettings' help), with the zoom's fewer octaves (engines/zoom.py ZOOM_OCTAVES).
    layers: Optional[str] = None,
    layer: LayerAlias = None,
    channels: Optional[str] = None,
    octaves: Annotated[Optional[int], typer.Option(help="Octave pyramid levels per frame. [default: 2]")] = None,
    octave_scale: Optional[float] = None,
    jitter: Optional[int] = None,
    smooth: Optional[float] = None,
    **opts: Any,
) -> None:
    """The feedback zoom into a dream: dream IMAGE, zoom/rotate the dream about its centre, dream
    that, … for --frames frames, written as MP4, GIF or PNG frames.

    Dream settings as for `dream`, with fewer octaves: each frame starts from a dreamed one.
    """
    import dataclasses

    from ..media.images import default_output_path
    from ..core.locate import Recorded
    from ..core.planning import Plan
    from ..core.job import Job
    from ..core.settings import MotionSettings
    from ..engines.zoom import ZOOM_FPS, ZOOM_OCTAVES

    quiet, verbose, source = opts["quiet"], opts["verbose"], opts["from_"]
    check_chatter(quiet, verbose)
    layers = either("--layers", layers, "--layer", layer)
    earlier, inputs = recorded(source, "zoom")
    typed_image, image = image, path_or_none(image) or inputs.get("image")
    mask = path_or_none(mask) or inputs.get("mask")
    typed = {k: v for k, v in dict(frames=frames, zoom=zoom, rotate=rotate, fps=fps).items() if v is not None}
    zoomed = dataclasses.asdict(Job.from_png(source).motion or MotionSettings()) if source is not None else {}  # recorded() read it
    motion = {k: v for k, v in zoomed.items() if k in ("frames", "zoom", "rotate", "fps") and v is not None}
    motion = MotionSettings(**{"fps": ZOOM_FPS, **motion, **typed})
    flags = setting_flags(opts, layers=layers, channels=channels, octaves=octaves, octave_scale=octave_scale, jitter=jitter, smooth=smooth)
    # Fewer octaves by default, under a preset's: each frame starts from an already dreamed one.
    earlier = Recorded({"octaves": ZOOM_OCTAVES, **earlier}, getattr(earlier, "missing", {}))
    settings = settings_for(DreamSettings, "dream", opts["preset"], flags, earlier)
    inputs = {"image": image, **({"mask": mask} if mask else {})}
    checked("zoom", inputs, settings, motion)
    out = from_output(source, output, typed_image, force=opts["force"]) or default_output_path(image, "zoom", ".mp4")
    show_settings(settings, source, verbose)
    execute(Plan("image", [Job("zoom", inputs, settings, output=str(out), motion=motion)]),
            force=opts["force"], quiet=settings.quiet, verbose=verbose, said=source is not None and output is None)  # fmt: skip
