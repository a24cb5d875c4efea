"""`dreamstyle zoom`: the feedback zoom into a dream, as a video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .app import app
from .common import check_chatter, examples, execute, guarded, setting_flags, settings_for, show_settings
from ..core.settings import DreamSettings
from .options import input_help, shared


@app.command("zoom", epilog=examples(
    "dreamstyle zoom photo.jpg --frames 48 -o zoom.mp4",
    "dreamstyle zoom photo.jpg --model efficientnet-lite0 --size 320 --frames 24 --zoom 1.04 --rotate 1 -o zoom.gif",
    "dreamstyle zoom photo.jpg --preset swirls --frames 120 --fps 24 -o frames/",
    "dreamstyle zoom photo.jpg --mask sky.png --frames 48 -o sky-zoom.mp4   # the dream only in the sky, which zooms with the photo",
))
@guarded
@shared("model", "weights", "size", "steps", "lr", "seed", "preset", "device", "precision", "deterministic", "max_pixels",
        "force", "quiet", "verbose", settings=DreamSettings)  # fmt: skip
def zoom_cmd(
    image: Annotated[Path, typer.Argument(help=input_help("zoom", "image"), show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="out.mp4, out.gif, or a folder for PNG frames (frame_00000.png …). [default: IMAGE-zoom.mp4 beside IMAGE]")] = None,
    # MotionSettings' zoom fields, with their defaults here (typer shows them); the zoom's own rate.
    frames: int = 24,
    zoom: float = 1.05,
    rotate: float = 0.0,
    fps: Annotated[float, typer.Option(help="Frames per second of the output.")] = 12.0,
    mask: Annotated[Optional[Path], typer.Option(help=input_help("zoom", "mask"), show_default=False)] = None,
    # Dream settings (DreamSettings' help), with the zoom's fewer octaves (engines/zoom.py ZOOM_OCTAVES).
    layers: Optional[str] = None,
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
    from ..media.images import default_output_path
    from ..core.planning import Plan
    from ..core.job import Job
    from ..core.settings import MotionSettings
    from ..engines.zoom import ZOOM_OCTAVES

    quiet, verbose = opts["quiet"], opts["verbose"]
    check_chatter(quiet, verbose)
    motion = MotionSettings(frames=frames, zoom=zoom, rotate=rotate, fps=fps)
    flags = setting_flags(opts, layers=layers, channels=channels, octaves=octaves, octave_scale=octave_scale, jitter=jitter, smooth=smooth)
    # Fewer octaves by default, under a preset's: each frame starts from an already dreamed one.
    settings = settings_for(DreamSettings, "dream", opts["preset"], flags, {"octaves": ZOOM_OCTAVES})
    out = output or default_output_path(image, "zoom", ".mp4")
    show_settings(settings, None, verbose)
    inputs = {"image": str(image), **({"mask": str(mask)} if mask else {})}
    execute(Plan("image", [Job("zoom", inputs, settings, output=str(out), motion=motion)]),
            force=opts["force"], quiet=settings.quiet, verbose=verbose)  # fmt: skip
