"""`dreamstyle dream`: a photo, a clip or a batch, dreamed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app
from .common import check_chatter, examples, execute, given, guarded, need, path_or_none, recorded, settings_for, show_settings
from .options import Blend, Channels, Device, Force, Fps, From, Jitter, Layers, Lr, MaxPixels, Model, OctaveScale, Out, Precision, Preset, Quiet, SaveEvery, Seed, Size, Smooth, Steps, Verbose, Weights


@app.command(epilog=examples(
    "dreamstyle dream photo.jpg",
    "dreamstyle dream photo.jpg --model efficientnet-lite0 --size 320 --seed 0 -o out.png",
    "dreamstyle dream photo.jpg --preset swirls",
    "dreamstyle dream photo.jpg --layers relu4_3:1,relu5_1:0.5 --octaves 5",
    "dreamstyle dream photo.jpg --layers block10 --channels 12,40",
    "dreamstyle dream photo.jpg --guide flowers.jpg",
    "dreamstyle dream --from photo-dream.png --seed 7 -o again.png",
    "dreamstyle dream clip.mp4 --model efficientnet-lite0 --size 320 --blend 0.5 -o clip-dream.mp4",
    "dreamstyle dream photos/ -o dreams/            # every picture; rerun to resume",
    "dreamstyle dream 'photos/*.jpg' -o dreams/",
))
@guarded
def dream(
    image: Annotated[Optional[Path], typer.Argument(help="The photo to dream on (with --from: the one recorded there).", show_default=False)] = None,
    output: Out = None,
    model: Model = None,
    weights: Weights = None,
    layers: Layers = None,
    channels: Channels = None,
    guide: Annotated[Optional[Path], typer.Option(help="Guide image: grow what the network sees in it instead.")] = None,
    size: Size = None,
    octaves: Annotated[Optional[int], typer.Option(help="Octave pyramid levels. [default: 4]")] = None,
    octave_scale: OctaveScale = None,
    steps: Steps = None,
    lr: Lr = None,
    jitter: Jitter = None,
    norm: Annotated[Optional[str], typer.Option(help="Gradient normalisation: mean-abs or std. [default: mean-abs]")] = None,
    smooth: Smooth = None,
    tile: Annotated[Optional[int], typer.Option(help="Compute the gradient in tiles of this many pixels (bounded memory at any size); 0: never. [default: auto, only when the image would not fit]")] = None,
    seed: Seed = None,
    save_every: SaveEvery = None,
    preset: Preset = None,
    device: Device = None,
    precision: Precision = None,
    max_pixels: MaxPixels = None,
    blend: Blend = None,
    fps: Fps = None,
    from_: From = None,
    force: Force = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """DeepDream IMAGE: amplify what a layer of the network sees in it, octave by octave.

    IMAGE may also be a video (.mp4 …) or a folder of frames (output .mp4/.gif or --blend), or a
    folder or quoted glob of pictures dreamed one by one into the -o folder (resumable).

    Defaults: model vgg16, size 512, 4 octaves x 10 steps, lr 0.01, seed 0.
    """
    from ..inputs import plan
    from ..settings import DreamSettings

    check_chatter(quiet, verbose)
    earlier, inputs = recorded(from_, "dream")
    image = need(image or inputs.get("image"), "IMAGE", "give the photo to dream on")
    flags = given(
        model=model, weights=path_or_none(weights), layers=layers, channels=channels, guide=path_or_none(guide),
        size=size, octaves=octaves, octave_scale=octave_scale, steps=steps, lr=lr, jitter=jitter, norm=norm,
        smooth=smooth, tile=tile, seed=seed, save_every=save_every, device=device, precision=precision,
        max_pixels=max_pixels, quiet=quiet,
    )  # fmt: skip
    settings = settings_for(DreamSettings, "dream", preset, flags, earlier)
    todo = plan("dream", image, settings, output=output, blend=blend, fps=fps)
    show_settings(settings, from_, verbose)
    execute(todo, force=force, quiet=settings.quiet, verbose=verbose, stage="dream")
