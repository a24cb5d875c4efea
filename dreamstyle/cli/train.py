"""`dreamstyle train`: a network that paints like one or more paintings, trained on photos, for
`dreamstyle style PHOTO --net NAME.pt` to paint with in one pass."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .app import app
from .common import check_chatter, checked, examples, execute, guarded, setting_flags, settings_for, show_settings
from .options import input_help, shared
from ..core.settings_fast import TrainSettings


@app.command(epilog=examples(
    "dreamstyle train starry_night.jpg --photos photos/ -o starry.pt",
    "dreamstyle train a.jpg b.jpg c.jpg --photos photos/ -o three.pt --minutes 30",
    "dreamstyle train starry_night.jpg -o quick.pt --iterations 200 --size 128",
    "dreamstyle train starry_night.jpg --photos photos/ --resume starry.partial.pt -o starry.pt",
    "dreamstyle style photo.jpg --net starry.pt -o painted.png",
))
@guarded
@shared("model", "weights", "size", "lr", "seed", "batch", "device", "precision", "deterministic", "max_pixels", "force", "quiet", "verbose",
        settings=TrainSettings)  # fmt: skip
def train(
    styles: Annotated[Optional[list[Path]], typer.Argument(metavar="ART...", help=input_help("train", "styles"), show_default=False)] = None,
    photos: Annotated[Optional[Path], typer.Option(help=input_help("train", "photos"), show_default=False)] = None,
    resume: Annotated[Optional[Path], typer.Option(help=input_help("train", "resume"), show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="The network file (.pt); an existing one is refused without --force. [default: the first painting's name, .pt, in this folder]")] = None,
    iterations: Optional[int] = None,
    minutes: Optional[float] = None,
    net_size: Optional[str] = None,
    content_layers: Optional[str] = None,
    style_layers: Optional[str] = None,
    content_weight: Optional[float] = None,
    style_weight: Optional[float] = None,
    tv_weight: Optional[float] = None,
    style_scale: Optional[float] = None,
    preserve_color: Optional[str] = None,
    preview_minutes: Optional[float] = None,
    temporal_weight: Optional[float] = None,
    **opts: Any,
) -> None:
    """Train a network on photos to paint like ART (Johnson et al.), with the style engine's own
    losses; several paintings make one network that can also mix them (--mix when painting).

    Writes NAME.pt and NAME.preview.png (photos painted by the network so far, every few minutes).
    Ctrl-C keeps the network so far as NAME.partial.pt: it paints, and --resume goes on from it.
    """
    from ..core.planning import Plan

    quiet, verbose = opts["quiet"], opts["verbose"]
    check_chatter(quiet, verbose)
    flags = setting_flags(
        opts, iterations=iterations, minutes=minutes, net_size=net_size, content_layers=content_layers, style_layers=style_layers,
        content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight, style_scale=style_scale,
        preserve_color=preserve_color, preview_minutes=preview_minutes, temporal_weight=temporal_weight,
    )  # fmt: skip
    settings = settings_for(TrainSettings, "train", None, flags, {})
    inputs = {"styles": [str(p) for p in styles or []], "photos": str(photos) if photos else None, "resume": str(resume) if resume else None}
    job = checked("train", inputs, settings)
    out = output or Path(f"{Path(inputs['styles'][0]).stem}.pt")
    if photos is None and not quiet:
        typer.echo("note: training on the 4 bundled sample photos; 20 or more of your own (--photos DIR) generalise better", err=True)
    show_settings(settings, None, verbose)
    execute(Plan("image", [job.replace(output=str(out))]), force=opts["force"], quiet=settings.quiet, verbose=verbose, stage="train")
