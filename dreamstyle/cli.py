"""The `dreamstyle` command: parse, merge preset and flags, call the API, save. No maths here."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from . import __version__
from .errors import UserError
from .optimize import Interrupted

app = typer.Typer(
    help="Pictures from pretrained CNN features: DeepDream, style transfer, feature visualisation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def fail(message: str, hint: str | None = None) -> None:
    typer.echo(f"error: {message}" + (f" — {hint}" if hint else ""), err=True)
    raise typer.Exit(EXIT_USER_ERROR)


def guarded(fn):
    """Turn user errors into one line and exit 2; running out of memory is a user error too."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            fail(exc.message, exc.hint)
        except MemoryError:
            fail("ran out of host memory", "lower --size")
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower():
                fail("ran out of GPU memory", "lower --size, or use --device cpu")
            raise

    return wrapper


def given(**flags: Any) -> dict[str, Any]:
    """Only the flags the user actually typed, so they override the preset and nothing else."""
    return {k: v for k, v in flags.items() if v is not None and v is not False}


def save_result(img, out: Path, force: bool) -> None:
    from .images import save_image

    save_image(img, out, settings=img.info.get("dreamstyle"), force=force)


def partial_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.partial{out.suffix}")


def snapshot_path(out: Path, step: int) -> Path:
    return out.with_name(f"{out.stem}.step{step:05d}{out.suffix}")


def check_snapshots(out: Path, save_every: int | None, force: bool) -> None:
    """Refuse up front rather than clobber snapshots of an earlier run halfway through this one."""
    if save_every and not force:
        old = sorted(out.parent.glob(f"{out.stem}.step*{out.suffix}"))
        if old:
            fail(f"snapshots of an earlier run exist ({old[0].name}, …)", "move them away or pass --force to overwrite")


def free_path(path: Path) -> Path:
    """`path`, or path-2, path-3 … if it exists: an interrupted run never overwrites a file."""
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


def run_engine(call, out: Path, force: bool, quiet: bool) -> None:
    """Run an engine call, save its result; on Ctrl-C save what exists beside the output."""
    try:
        img = call()
    except Interrupted as exc:
        if exc.image is not None:
            where = free_path(partial_path(out))
            save_result(exc.image, where, force=False)
            typer.echo(f"interrupted: saved the image so far to {where}", err=True)
        else:
            typer.echo("interrupted before any image existed", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)
    save_result(img, out, force)
    if not quiet:
        typer.echo(f"saved {out}", err=True)


def examples(*lines: str) -> str:
    """A help epilog; a fenced block keeps one example per line under rich's markdown."""
    return "**Examples**\n\n```\n" + "\n".join(lines) + "\n```"


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"dreamstyle {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[Optional[bool], typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version and exit.")] = None,
) -> None:
    pass


# Options shared by every engine, written once.
Out = Annotated[Optional[Path], typer.Option("--output", "-o", help="Output file (.png/.jpg/.webp). Default: IMAGE-dream.png (or -style) beside the input, with -2, -3 … added rather than overwrite.")]
Model = Annotated[Optional[str], typer.Option(help="Backbone: vgg16, vgg19, vgg19-caffe, googlenet, efficientnet-lite0 (bundled, offline).")]
Weights = Annotated[Optional[Path], typer.Option(help="Load the backbone's weights from this local state dict instead of the torch hub cache.")]
Size = Annotated[Optional[int], typer.Option(help="Longest side of the output in pixels.")]
Steps = Annotated[Optional[int], typer.Option(help="Optimisation steps (per octave/scale).")]
Lr = Annotated[Optional[float], typer.Option(help="Step size.")]
Seed = Annotated[Optional[int], typer.Option(help="Random seed; the same seed on the CPU gives identical files.")]
Device = Annotated[Optional[str], typer.Option(help="auto (cuda, then mps, then cpu), cpu, cuda or mps.")]
Precision = Annotated[Optional[str], typer.Option(help="auto (bf16 on CUDA, else fp32), fp32, bf16 or fp16.")]
SaveEvery = Annotated[Optional[int], typer.Option(help="Also save a snapshot OUT.stepNNNNN.png every N steps.")]
Preset = Annotated[Optional[str], typer.Option(help="Start from a preset (`dreamstyle presets`); flags you give override it.")]
Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing output file.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or log lines (for scripts).")]
MaxPixels = Annotated[Optional[int], typer.Option(help="Refuse input images with more pixels than this (decompression-bomb guard).")]


@app.command(epilog=examples(
    "dreamstyle dream photo.jpg",
    "dreamstyle dream photo.jpg --model efficientnet-lite0 --size 320 --seed 0 -o out.png",
    "dreamstyle dream photo.jpg --preset swirls",
    "dreamstyle dream photo.jpg --layers relu4_3:1,relu5_1:0.5 --octaves 5",
    "dreamstyle dream photo.jpg --layers block10 --channels 12,40",
    "dreamstyle dream photo.jpg --guide flowers.jpg",
))
@guarded
def dream(
    image: Annotated[Path, typer.Argument(help="The photo to dream on.", show_default=False)],
    output: Out = None,
    model: Model = None,
    weights: Weights = None,
    layers: Annotated[Optional[str], typer.Option(help="Layers to amplify, optionally weighted: relu4_3 or relu4_3:1,relu5_1:0.5. Default: the model's.")] = None,
    channels: Annotated[Optional[str], typer.Option(help="Dream only these channels of the layers: 12,40 or 0-15.")] = None,
    guide: Annotated[Optional[Path], typer.Option(help="Guide image: grow what the network sees in it instead.")] = None,
    size: Size = None,
    octaves: Annotated[Optional[int], typer.Option(help="Octave pyramid levels. [default: 4]")] = None,
    octave_scale: Annotated[Optional[float], typer.Option(help="Size ratio between octaves. [default: 1.4]")] = None,
    steps: Steps = None,
    lr: Lr = None,
    jitter: Annotated[Optional[int], typer.Option(help="Random shift in pixels each step; stops grid artefacts. [default: 32]")] = None,
    norm: Annotated[Optional[str], typer.Option(help="Gradient normalisation: mean-abs or std. [default: mean-abs]")] = None,
    smooth: Annotated[Optional[float], typer.Option(help="Gaussian sigma for smoothing the gradient; 0 for none. [default: 1]")] = None,
    seed: Seed = None,
    save_every: SaveEvery = None,
    preset: Preset = None,
    device: Device = None,
    precision: Precision = None,
    max_pixels: MaxPixels = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """DeepDream IMAGE: amplify what a layer of the network sees in it, octave by octave.

    Defaults: model vgg16, size 512, 4 octaves x 10 steps, lr 0.01, seed 0.
    """
    from .dream import dream as run_dream
    from .images import check_output_path, default_output_path
    from .presets import merge
    from .settings import DreamSettings, build

    flags = given(
        model=model, weights=str(weights) if weights else None, layers=layers, channels=channels,
        guide=str(guide) if guide else None, size=size, octaves=octaves, octave_scale=octave_scale,
        steps=steps, lr=lr, jitter=jitter, norm=norm, smooth=smooth, seed=seed, save_every=save_every,
        device=device, precision=precision, max_pixels=max_pixels, quiet=quiet,
    )  # fmt: skip
    settings = build(DreamSettings, merge("dream", preset, flags, DreamSettings.model))
    out = check_output_path(output or default_output_path(image, "dream"), force=force)
    check_snapshots(out, settings.save_every, force)

    def snap(step: int, img) -> None:
        save_result(img, snapshot_path(out, step), force)

    run_engine(lambda: run_dream(image, settings, on_snapshot=snap), out, force, settings.quiet)


@app.command(epilog=examples(
    "dreamstyle style photo.jpg starry_night.jpg",
    "dreamstyle style photo.jpg starry_night.jpg --model efficientnet-lite0 --size 256 --steps 200 -o out.png",
    "dreamstyle style photo.jpg a.jpg b.jpg --style-blend 0.7,0.3",
    "dreamstyle style photo.jpg painting.jpg --preserve-color luminance",
    "dreamstyle style photo.jpg painting.jpg --scales 256,512,1024 --preset hires",
))
@guarded
def style(
    content: Annotated[Path, typer.Argument(help="The photo to paint.", show_default=False)],
    styles: Annotated[list[Path], typer.Argument(help="One or more style images (blended).", show_default=False)],
    output: Out = None,
    model: Model = None,
    weights: Weights = None,
    content_layers: Annotated[Optional[str], typer.Option(help="Content layers, optionally weighted (relu4_2). Default: the model's.")] = None,
    style_layers: Annotated[Optional[str], typer.Option(help="Style layers, optionally weighted (relu1_1,relu2_1:0.5,…). Default: the model's.")] = None,
    content_weight: Annotated[Optional[float], typer.Option(help="Weight of the content loss. [default: 1]")] = None,
    style_weight: Annotated[Optional[float], typer.Option(help="Weight of the style loss; 0.3 is a hint of the painting, 1000 the full texture. [default: 100]")] = None,
    tv_weight: Annotated[Optional[float], typer.Option(help="Weight of total-variation smoothing. [default: 5]")] = None,
    style_blend: Annotated[Optional[str], typer.Option(help="Weights of several style images, e.g. 0.7,0.3.")] = None,
    style_scale: Annotated[Optional[float], typer.Option(help="Style image size relative to the output; smaller = finer strokes. [default: 1]")] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="lbfgs or adam. [default: lbfgs]")] = None,
    init: Annotated[Optional[str], typer.Option(help="Start from: content, noise, style or an image FILE. [default: content]")] = None,
    scales: Annotated[Optional[str], typer.Option(help="Coarse-to-fine sizes, e.g. 256,512 (last = output size). Default: halve down to 256.")] = None,
    preserve_color: Annotated[Optional[str], typer.Option(help="none, luminance (keep the photo's colours) or histogram (recolour the style first). [default: none]")] = None,
    pooling: Annotated[Optional[str], typer.Option(help="max or avg pooling in VGG. [default: max]")] = None,
    size: Size = None,
    steps: Steps = None,
    lr: Annotated[Optional[float], typer.Option(help="Adam step size. [default: 0.02]")] = None,
    seed: Seed = None,
    save_every: SaveEvery = None,
    preset: Preset = None,
    device: Device = None,
    precision: Precision = None,
    max_pixels: MaxPixels = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Paint CONTENT in the manner of STYLE (Gatys et al.): content + Gram-matrix style losses.

    Defaults: model vgg19, size 512 (solved at 256 then 512), 300 L-BFGS steps per scale.
    """
    from .images import check_output_path, default_output_path
    from .presets import merge
    from .settings import StyleSettings, build
    from .style import stylize

    flags = given(
        model=model, weights=str(weights) if weights else None, content_layers=content_layers,
        style_layers=style_layers, content_weight=content_weight, style_weight=style_weight,
        tv_weight=tv_weight, style_blend=style_blend, style_scale=style_scale, optimizer=optimizer,
        init=init, scales=scales, preserve_color=preserve_color, pooling=pooling, size=size,
        steps=steps, lr=lr, seed=seed, save_every=save_every, device=device, precision=precision,
        max_pixels=max_pixels, quiet=quiet,
    )  # fmt: skip
    settings = build(StyleSettings, merge("style", preset, flags, StyleSettings.model))
    out = check_output_path(output or default_output_path(content, "style"), force=force)
    check_snapshots(out, settings.save_every, force)

    def snap(step: int, img) -> None:
        save_result(img, snapshot_path(out, step), force)

    run_engine(lambda: stylize(content, styles, settings, on_snapshot=snap), out, force, settings.quiet)


@app.command()
@guarded
def presets(
    engine: Annotated[Optional[str], typer.Argument(help="Only this engine's presets (dream, style, …).")] = None,
) -> None:
    """List the presets with one-line descriptions."""
    from .presets import list_presets

    rows = list_presets(engine)
    if not rows:
        fail(f"no presets for {engine!r}", "run `dreamstyle presets` to see all")
    width = max(len(p.name) for p in rows)
    for p in rows:
        typer.echo(f"{p.engine:<6} {p.name:<{width}}  {p.description}")


def run() -> None:
    try:
        app()
    except KeyboardInterrupt:
        # A second Ctrl-C (or one outside an engine loop): stop now, without a traceback.
        typer.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
