"""The `dreamstyle` command: parse, merge preset and flags, call the API, save. No maths here."""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from . import __version__
from .errors import UserError, as_user_error
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
        except typer.Exit:
            raise
        except UserError as exc:
            fail(exc.message, exc.hint)
        except (MemoryError, RuntimeError) as exc:
            err = as_user_error(exc)
            if err is None:
                raise
            fail(err.message, err.hint)

    return wrapper


def given(**flags: Any) -> dict[str, Any]:
    """Only the flags the user actually typed, so they override the preset and nothing else."""
    return {k: v for k, v in flags.items() if v is not None and v is not False}


def save_result(img, out: Path, force: bool) -> None:
    from .images import save_image

    save_image(img, out, settings=img.info.get("dreamstyle"), force=force)


def snapshot_path(out: Path, step: int) -> Path:
    return out.with_name(f"{out.stem}.step{step:05d}{out.suffix}")


def check_snapshots(out: Path, save_every: int | None, force: bool) -> None:
    """Refuse up front rather than clobber snapshots of an earlier run halfway through this one."""
    if save_every and not force:
        old = sorted(out.parent.glob(f"{out.stem}.step*{out.suffix}"))
        if old:
            fail(f"snapshots of an earlier run exist ({old[0].name}, …)", "move them away or pass --force to overwrite")


def run_engine(call, out: Path, force: bool, quiet: bool, verbose: bool = False) -> None:
    """Run an engine call, save its result; on Ctrl-C save what exists beside the output."""
    start = time.perf_counter()
    try:
        img = call()
    except Interrupted as exc:
        if exc.image is not None:
            from .images import partial_path

            where = partial_path(out)
            save_result(exc.image, where, force=False)
            typer.echo(f"interrupted: saved the image so far to {where}", err=True)
        else:
            typer.echo("interrupted before any image existed", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)
    save_result(img, out, force)
    if verbose:
        typer.echo(f"saved {out} after {time.perf_counter() - start:.1f} s", err=True)
    elif not quiet:
        typer.echo(f"saved {out}", err=True)


def finished(finish, call):
    """finish(call()); a Ctrl-C result (possibly a batch of images) goes through `finish` too, so
    the partial file is laid out and labelled as the output would have been."""
    try:
        return finish(call())
    except Interrupted as exc:
        raise Interrupted(finish(exc.image) if exc.image else None) from None


def run_frames(frames, out: Path, fps: float, force: bool, quiet: bool, verbose: bool = False) -> None:
    """Write an engine's frames as they come; on Ctrl-C keep the finished ones as OUT.partial.EXT."""
    from .video import write_frames

    start = time.perf_counter()
    try:
        path = write_frames(frames, out, fps, force=force)
    except Interrupted as exc:
        if exc.path is not None:
            typer.echo(f"interrupted: saved the {exc.frames} finished frames to {exc.path}", err=True)
        else:
            typer.echo("interrupted before any frame was finished", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)
    if verbose:
        typer.echo(f"saved {path} after {time.perf_counter() - start:.1f} s", err=True)
    elif not quiet:
        typer.echo(f"saved {path}", err=True)


def clip_mode(source: Path, output: Path | None, blend: float | None) -> bool:
    """A video file is a clip; a folder is one when the output is a video or --blend is given,
    otherwise it is a batch of independent pictures."""
    from .video import OUTPUT_SUFFIXES, is_video

    if is_video(source):
        return True
    return source.is_dir() and (blend is not None or (output is not None and output.suffix.lower() in OUTPUT_SUFFIXES))


def check_many(settings, blend: float | None, fps: float | None, clip: bool) -> None:
    """Refuse flags that mean nothing for this input (settings None: one picture)."""
    if settings is not None and settings.save_every:
        fail("--save-every does not apply to videos and batches", "drop it, or run one picture at a time")
    if not clip and (blend is not None or fps is not None):
        fail("--blend and --fps apply to a video input", "give an .mp4 file, or a folder of frames with -o out.mp4")


def run_many(engine: str, spec: Path, output: Path | None, render, force: bool, quiet: bool, verbose: bool) -> None:
    """One engine over a folder or glob into an output folder; existing outputs are skipped, so
    the same command resumes a stopped batch. Exit 2 at the end if any item failed."""
    from .batch import check_outdir, expand, run_batch

    inputs = expand(spec)
    if output is None and not spec.is_dir():
        fail("a batch needs an output folder", "add -o outdir/")
    outdir = check_outdir(output or spec.with_name(f"{spec.name}-{engine}"))
    start = time.perf_counter()
    try:
        result = run_batch(inputs, outdir, render, force=force, quiet=quiet, desc=engine)
    except Interrupted as exc:
        where = f"; saved the current picture so far to {exc.path}" if exc.path else ""
        typer.echo(f"interrupted{where}; run the same command again to resume", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)
    if verbose or not quiet or result.failed:
        took = f" in {time.perf_counter() - start:.1f} s" if verbose else ""
        typer.echo(f"{outdir}: {result.summary()}{took}", err=True)
    if result.failed:
        raise typer.Exit(EXIT_USER_ERROR)


# Settings that name layers or channels of one backbone: meaningless after --model changes.
_PER_MODEL = ("layers", "content_layers", "style_layers", "channels")


def recorded(source: Path | None, engine: str, kind: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings and inputs embedded in an earlier output (--from), or nothing."""
    if source is None:
        return {}, {}
    from .images import read_settings

    meta = read_settings(source)
    inputs = meta.get("inputs") if isinstance(meta.get("inputs"), dict) else {}
    made = " ".join(str(p) for p in (meta.get("engine"), inputs.get("kind") if kind else None) if p)
    wanted = " ".join(p for p in (engine, kind) if p)
    if made != wanted:
        hint = f"run `dreamstyle {made} --from {source}`" if made.split(" ")[0] in ("dream", "style", "visualize") else "pick an output of this command"
        raise UserError(f"{source} was made by `dreamstyle {made or '?'}`, not `dreamstyle {wanted}`", hint)
    if not isinstance(meta.get("settings"), dict):
        raise UserError(f"{source} carries no settings to re-run", "only images saved by dreamstyle carry them")
    return dict(meta["settings"]), dict(inputs)


def settings_for(cls: type, engine: str, preset: str | None, flags: dict[str, Any], earlier: dict[str, Any]):
    """defaults < an earlier output's settings (--from) < preset < the flags typed now."""
    from .presets import merge
    from .settings import build

    model = earlier.get("model", cls.model)
    values = merge(engine, preset, flags, model)
    if values.get("model", model) != model:
        earlier = {k: v for k, v in earlier.items() if k not in _PER_MODEL}
    return build(cls, {**earlier, **values})


def need(value, what: str, hint: str):
    if value is None or value == []:
        fail(f"missing {what}", hint)
    return value


def check_chatter(quiet: bool, verbose: bool) -> None:
    if quiet and verbose:
        fail("--quiet and --verbose contradict each other", "pick one")
    log = logging.getLogger("dreamstyle")  # the engines log their loss parts there as they go
    if not any(isinstance(h, _Stderr) for h in log.handlers):
        log.addHandler(_Stderr())
    log.setLevel(logging.DEBUG if verbose else logging.WARNING)


class _Stderr(logging.Handler):
    """Writes to whatever sys.stderr is at the time (a test runner swaps it per invocation), through
    tqdm so that a line never lands in the middle of the progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm.auto import tqdm

        tqdm.write(record.getMessage(), file=sys.stderr)


def describe(values: dict[str, Any], indent: str = "  ") -> list[str]:
    """key value lines with aligned values, for --verbose and `info`."""
    width = max((len(k) for k in values), default=0)
    return [f"{indent}{k:<{width}}  {json.dumps(v) if isinstance(v, (list, dict)) or v is None else v}" for k, v in values.items()]


def show_settings(settings, source: Path | None, verbose: bool) -> None:
    if verbose:
        typer.echo("settings" + (f" (from {source}, with your flags on top)" if source else "") + ":", err=True)
        for line in describe(settings.to_dict()):
            typer.echo(line, err=True)


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
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Also print the resolved settings and the time taken.")]
From = Annotated[Optional[Path], typer.Option("--from", help="Re-run an earlier output: its embedded settings and inputs, with the flags you give on top.", show_default=False)]
# Dream options that `zoom` shares.
Channels = Annotated[Optional[str], typer.Option(help="Dream only these channels of the layers: 12,40 or 0-15.")]
OctaveScale = Annotated[Optional[float], typer.Option(help="Size ratio between octaves. [default: 1.4]")]
Jitter = Annotated[Optional[int], typer.Option(help="Random shift in pixels each step; stops grid artefacts. [default: 32]")]
Smooth = Annotated[Optional[float], typer.Option(help="Gaussian sigma for smoothing the gradient; 0 for none. [default: 1]")]
Blend = Annotated[Optional[float], typer.Option(help="Video: frame t starts from frame t + BLEND x (output t-1 - frame t-1), against flicker; 0: independent frames. [default: 0.5]")]
Fps = Annotated[Optional[float], typer.Option(help="Video: frames per second of the output. [default: the input's; 24 for a frame folder]")]


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
    layers: Annotated[Optional[str], typer.Option(help="Layers to amplify, optionally weighted: relu4_3 or relu4_3:1,relu5_1:0.5. Default: the model's.")] = None,
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
    from .dream import dream as run_dream
    from .images import check_output_path, default_output_path
    from .settings import DreamSettings

    check_chatter(quiet, verbose)
    earlier, inputs = recorded(from_, "dream")
    image = need(image or inputs.get("image"), "IMAGE", "give the photo to dream on")
    flags = given(
        model=model, weights=str(weights) if weights else None, layers=layers, channels=channels,
        guide=str(guide) if guide else None, size=size, octaves=octaves, octave_scale=octave_scale,
        steps=steps, lr=lr, jitter=jitter, norm=norm, smooth=smooth, tile=tile, seed=seed, save_every=save_every,
        device=device, precision=precision, max_pixels=max_pixels, quiet=quiet,
    )  # fmt: skip
    settings = settings_for(DreamSettings, "dream", preset, flags, earlier)
    if _dream_many(Path(str(image)), output, settings, blend, fps, force, verbose):
        return
    out = check_output_path(output or default_output_path(image, "dream"), force=force)
    check_snapshots(out, settings.save_every, force)
    show_settings(settings, from_, verbose)

    def snap(step: int, img) -> None:
        save_result(img, snapshot_path(out, step), force)

    run_engine(lambda: run_dream(image, settings, on_snapshot=snap), out, force, settings.quiet, verbose)


@app.command(epilog=examples(
    "dreamstyle style photo.jpg starry_night.jpg",
    "dreamstyle style photo.jpg starry_night.jpg --model efficientnet-lite0 --size 256 --steps 200 -o out.png",
    "dreamstyle style photo.jpg a.jpg b.jpg --style-blend 0.7,0.3",
    "dreamstyle style photo.jpg painting.jpg --preserve-color luminance",
    "dreamstyle style photo.jpg painting.jpg --scales 256,512,1024 --preset hires",
    "dreamstyle style --from photo-style.png --style-weight 1000 -o stronger.png",
    "dreamstyle style clip.mp4 painting.jpg --model efficientnet-lite0 --size 320 --blend 0.5 -o clip-style.mp4",
    "dreamstyle style 'photos/*.jpg' painting.jpg -o painted/",
))
@guarded
def style(
    content: Annotated[Optional[Path], typer.Argument(help="The photo to paint (with --from: the one recorded there).", show_default=False)] = None,
    styles: Annotated[Optional[list[Path]], typer.Argument(help="One or more style images (blended).", show_default=False)] = None,
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
    scales: Annotated[Optional[str], typer.Option(help="Coarse-to-fine sizes, e.g. 256,512; with --size the ladder is rescaled to end at --size. Default: halve down to 256.")] = None,
    preserve_color: Annotated[Optional[str], typer.Option(help="none, luminance (keep the photo's colours) or histogram (recolour the style first). [default: none]")] = None,
    pooling: Annotated[Optional[str], typer.Option(help="max or avg pooling in VGG. [default: max]")] = None,
    tile: Annotated[Optional[int], typer.Option(help="Refine scales larger than this in tiles of it (Adam, global style targets); 0: never. [default: 0]")] = None,
    size: Size = None,
    steps: Steps = None,
    lr: Annotated[Optional[float], typer.Option(help="Adam step size. [default: 0.02; 0.005 when a --tile scale is refined]")] = None,
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
    """Paint CONTENT in the manner of STYLE (Gatys et al.): content + Gram-matrix style losses.

    CONTENT may also be a video or frame folder (see `dream`), or a folder or quoted glob of photos.

    Defaults: model vgg19, size 512 (solved at 256 then 512), 300 L-BFGS steps per scale.
    """
    from .images import check_output_path, default_output_path
    from .settings import StyleSettings
    from .style import stylize

    check_chatter(quiet, verbose)
    earlier, inputs = recorded(from_, "style")
    content = need(content or inputs.get("content"), "CONTENT", "give the photo to paint and one or more style images")
    styles = need(styles or inputs.get("styles"), "STYLE", "give one or more style images after the photo")
    if None in styles:
        fail(f"{from_} was painted from a style image that was never a file", "give the style images on the command line")
    flags = given(
        model=model, weights=str(weights) if weights else None, content_layers=content_layers,
        style_layers=style_layers, content_weight=content_weight, style_weight=style_weight,
        tv_weight=tv_weight, style_blend=style_blend, style_scale=style_scale, optimizer=optimizer,
        init=init, scales=scales, preserve_color=preserve_color, pooling=pooling, tile=tile, size=size,
        steps=steps, lr=lr, seed=seed, save_every=save_every, device=device, precision=precision,
        max_pixels=max_pixels, quiet=quiet,
    )  # fmt: skip
    settings = settings_for(StyleSettings, "style", preset, flags, earlier)
    if _style_many(Path(str(content)), [Path(p) for p in styles], output, settings, blend, fps, force, verbose):
        return
    out = check_output_path(output or default_output_path(content, "style"), force=force)
    check_snapshots(out, settings.save_every, force)
    show_settings(settings, from_, verbose)

    def snap(step: int, img) -> None:
        save_result(img, snapshot_path(out, step), force)

    run_engine(lambda: stylize(content, [Path(p) for p in styles], settings, on_snapshot=snap), out, force, settings.quiet, verbose)


def _loaded(settings, pooling: str = "max"):
    from .backbones import load_backbone
    from .runtime import resolve_device

    return load_backbone(settings.model, weights=settings.weights, device=resolve_device(settings.device), pooling=pooling, progress=not settings.quiet)


def _dream_many(source: Path, output, settings, blend, fps, force: bool, verbose: bool) -> bool:
    """Run `dream` over a clip or a batch; False when SOURCE is one picture."""
    import dataclasses

    from .batch import is_batch
    from .dream import dream as run_dream
    from .images import default_output_path
    from .video import check_output, dream_frames, open_clip

    clip = clip_mode(source, output, blend)
    if not clip and not is_batch(source):
        check_many(None, blend, fps, False)
        return False
    check_many(settings, blend, fps, clip)
    if clip:
        out = check_output(output or default_output_path(source, "dream", ".mp4"), force=force)
        frames = open_clip(source, fps=fps, max_pixels=settings.max_pixels)
        run_frames(dream_frames(frames, settings, blend=0.5 if blend is None else blend), out, frames.fps, force, settings.quiet, verbose)
        return True
    backbone, inner = _loaded(settings), dataclasses.replace(settings, quiet=True)
    run_many("dream", source, output, lambda p: run_dream(p, inner, backbone=backbone), force, settings.quiet, verbose)
    return True


def _style_many(source: Path, styles: list[Path], output, settings, blend, fps, force: bool, verbose: bool) -> bool:
    """Run `style` over a clip or a batch; False when CONTENT is one picture."""
    from .batch import is_batch
    from .images import default_output_path
    from .video import check_output, open_clip, stylize_frames, stylize_loaded

    clip = clip_mode(source, output, blend)
    if not clip and not is_batch(source):
        check_many(None, blend, fps, False)
        return False
    check_many(settings, blend, fps, clip)
    if clip:
        out = check_output(output or default_output_path(source, "style", ".mp4"), force=force)
        frames = open_clip(source, fps=fps, max_pixels=settings.max_pixels)
        run_frames(stylize_frames(frames, styles, settings, blend=0.5 if blend is None else blend), out, frames.fps, force, settings.quiet, verbose)
        return True
    backbone = _loaded(settings, settings.pooling)
    run_many("style", source, output, lambda p: stylize_loaded(p, styles, settings, backbone), force, settings.quiet, verbose)
    return True


@app.command("zoom", epilog=examples(
    "dreamstyle zoom photo.jpg --frames 48 -o zoom.mp4",
    "dreamstyle zoom photo.jpg --model efficientnet-lite0 --size 320 --frames 24 --zoom 1.04 --rotate 1 -o zoom.gif",
    "dreamstyle zoom photo.jpg --preset swirls --frames 120 --fps 24 -o frames/",
))
@guarded
def zoom_cmd(
    image: Annotated[Path, typer.Argument(help="The picture to start from.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="out.mp4, out.gif, or a folder for PNG frames (frame_00000.png …). Default: IMAGE-zoom.mp4 beside the input.")] = None,
    frames: Annotated[int, typer.Option(help="How many frames; frame 0 is the first dream.")] = 24,
    zoom: Annotated[float, typer.Option(help="Scale per frame about the centre; below 1 zooms out.")] = 1.05,
    rotate: Annotated[float, typer.Option(help="Degrees per frame, counter-clockwise.")] = 0.0,
    fps: Annotated[float, typer.Option(help="Frames per second of the output.")] = 12.0,
    model: Model = None,
    weights: Weights = None,
    layers: Annotated[Optional[str], typer.Option(help="Layers to amplify, optionally weighted (as for dream). Default: the model's.")] = None,
    channels: Channels = None,
    size: Size = None,
    octaves: Annotated[Optional[int], typer.Option(help="Octave pyramid levels per frame. [default: 2]")] = None,
    octave_scale: OctaveScale = None,
    steps: Steps = None,
    lr: Lr = None,
    jitter: Jitter = None,
    smooth: Smooth = None,
    seed: Seed = None,
    preset: Preset = None,
    device: Device = None,
    precision: Precision = None,
    max_pixels: MaxPixels = None,
    force: Force = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """The feedback zoom into a dream: dream IMAGE, zoom/rotate the dream about its centre, dream
    that, … for --frames frames, written as MP4, GIF or PNG frames.

    Dream settings as for `dream` (defaults: size 512, 2 octaves x 10 steps per frame).
    """
    from .images import default_output_path
    from .settings import DreamSettings
    from .video import ZOOM_OCTAVES, MotionSettings, check_output, zoom_frames

    check_chatter(quiet, verbose)
    MotionSettings(frames=frames, zoom=zoom, rotate=rotate, fps=fps)
    flags = given(
        model=model, weights=str(weights) if weights else None, layers=layers, channels=channels, size=size,
        octaves=octaves, octave_scale=octave_scale, steps=steps, lr=lr, jitter=jitter, smooth=smooth, seed=seed,
        device=device, precision=precision, max_pixels=max_pixels, quiet=quiet,
    )  # fmt: skip
    # Fewer octaves by default, under a preset's: each frame starts from an already dreamed one.
    settings = settings_for(DreamSettings, "dream", preset, flags, {"octaves": ZOOM_OCTAVES})
    out = check_output(output or default_output_path(image, "zoom", ".mp4"), force=force)
    show_settings(settings, None, verbose)
    run_frames(zoom_frames(image, frames, zoom=zoom, rotate=rotate, settings=settings), out, fps, force, settings.quiet, verbose)


viz = typer.Typer(
    help="Show what a network has learned: filters, feature maps, channels, neurons, classes.",
    no_args_is_help=True,
    epilog=examples(
        "dreamstyle visualize filters --model efficientnet-lite0",
        "dreamstyle visualize channels --model efficientnet-lite0 --layer block6 --channels 0-7",
        "dreamstyle visualize class goldfish --model efficientnet-lite0",
        "dreamstyle visualize channels --from efficientnet-lite0-block6-channels.png --steps 512",
    ),
)
app.add_typer(viz, name="visualize")

Layer = Annotated[Optional[str], typer.Option(help="Layer name (`dreamstyle layers MODEL` lists them).")]
Param = Annotated[Optional[str], typer.Option(help="Image parameterisation: fft (decorrelated colour) or pixel. [default: fft]")]
Transforms = Annotated[Optional[str], typer.Option(help="Robustness transforms: none, standard (lucid's) or strong. [default: standard]")]
Diversity = Annotated[Optional[float], typer.Option(help="With --batch > 1, push the images apart by this weight.")]
Batch = Annotated[Optional[int], typer.Option(help="Images per objective (use with --diversity). [default: 1]")]


def _viz_settings(kind: str, source: Path | None, defaults: dict[str, Any], quiet: bool, verbose: bool, **flags):
    """defaults < an earlier output of the same command (--from) < flags; plus its recorded inputs."""
    from .settings import VisualizeSettings

    check_chatter(quiet, verbose)
    earlier, inputs = recorded(source, "visualize", kind)
    if isinstance(inputs.get("batch"), int):  # commands that batch several objectives record the per-objective count
        earlier["batch"] = inputs["batch"]
    s = settings_for(VisualizeSettings, "visualize", None, given(quiet=quiet, **flags), {**defaults, **earlier})
    show_settings(s, source, verbose)
    return s, inputs


def _viz_out(output: Path | None, stem: str, force: bool) -> Path:
    from .images import check_output_path, free_path

    return check_output_path(output or free_path(Path(f"{stem}.png")), force=force)


def _tagged(img, kind: str, **inputs: Any):
    """Record which visualize command made `img` and its arguments, so --from can repeat it."""
    meta = img.info["dreamstyle"]
    img.info["dreamstyle"] = {**meta, "inputs": {**meta.get("inputs", {}), "kind": kind, **inputs}}
    return img


def _sheet(images, labels: list[str]):
    from .visualize import contact_sheet

    img = images[0] if len(images) == 1 else contact_sheet(images, labels[: len(images)])
    img.info["dreamstyle"] = images[0].info["dreamstyle"]
    return img


@viz.command("filters", epilog=examples(
    "dreamstyle visualize filters --model efficientnet-lite0",
    "dreamstyle visualize filters --model vgg16 --layer relu3_1 --channels 0-15",
))
@guarded
def viz_filters(
    output: Out = None, model: Model = None, weights: Weights = None, layer: Layer = None,
    channels: Annotated[Optional[str], typer.Option(help="With a deeper --layer: which channels to render. [default: 0-15]")] = None,
    size: Size = None, steps: Steps = None, lr: Lr = None, seed: Seed = None, param: Param = None,
    transforms: Transforms = None, device: Device = None, precision: Precision = None,
    from_: From = None, force: Force = False, quiet: Quiet = False, verbose: Verbose = False,
) -> None:
    """The first conv layer's kernels as an RGB grid; for a deeper --layer, what each filter responds to."""
    from .backbones import load_backbone
    from .settings import metadata, parse_int_list
    from .visualize import channel_sheet, filter_grid, first_conv

    s, inputs = _viz_settings("filters", from_, {"size": 128}, quiet, verbose, model=model, weights=str(weights) if weights else None,
                              size=size, steps=steps, lr=lr, seed=seed, param=param, transforms=transforms, device=device, precision=precision)  # fmt: skip
    layer = layer or inputs.get("layer")
    picked = parse_int_list(channels or inputs.get("channels") or "0-15")
    out = _viz_out(output, f"{s.model}-filters" + (f"-{layer}" if layer else ""), force)
    backbone = load_backbone(s.model, weights=s.weights, progress=not s.quiet)
    first, _ = first_conv(backbone)
    if layer is None or layer == first or (layer in backbone.layer_names and backbone.layer_names.index(layer) <= backbone.stage_names.index(first)):
        backbone.check_layers([layer] if layer else [])
        img = filter_grid(backbone)
        img.info["dreamstyle"] = metadata("visualize", s, backbone.weights)
        run_engine(lambda: _tagged(img, "filters", layer=first), out, force, s.quiet, verbose)
    else:
        def finish(img):
            return _tagged(img, "filters", layer=layer, channels=picked)

        run_engine(lambda: finished(finish, lambda: channel_sheet(layer, picked, s, backbone=backbone)), out, force, s.quiet, verbose)


@viz.command("maps", epilog=examples(
    "dreamstyle visualize maps photo.jpg --layer block3 --model efficientnet-lite0 --top 16",
    "dreamstyle visualize maps --from photo-maps-block3.png --layer block5",
    "dreamstyle visualize maps photos/ --layer block3 --model efficientnet-lite0 -o maps/",
))
@guarded
def viz_maps(
    image: Annotated[Optional[Path], typer.Argument(help="The image to look at (with --from: the one recorded there).", show_default=False)] = None,
    layer: Annotated[Optional[str], typer.Option(help="Layer whose maps to show.")] = None,
    top: Annotated[Optional[int], typer.Option(help="How many channels, strongest first. [default: 16]")] = None,
    output: Out = None, model: Model = None, weights: Weights = None, size: Size = None,
    device: Device = None, max_pixels: MaxPixels = None, from_: From = None, force: Force = False,
    quiet: Quiet = False, verbose: Verbose = False,
) -> None:
    """IMAGE's feature maps at --layer as a grid, strongest channels first, numbered."""
    from .backbones import load_backbone
    from .images import default_output_path
    from .runtime import resolve_device
    from .settings import metadata
    from .visualize import feature_maps, load_for_maps

    s, inputs = _viz_settings("maps", from_, {}, quiet, verbose, model=model, weights=str(weights) if weights else None,
                              size=size, device=device, max_pixels=max_pixels)  # fmt: skip
    image = need(image or inputs.get("image"), "IMAGE", "give the image to look at")
    layer = need(layer or inputs.get("layer"), "--layer", "e.g. --layer block3 (`dreamstyle layers MODEL` lists them)")
    top = top if top is not None else inputs.get("top", 16)
    if not 1 <= top <= 4096:
        fail(f"--top {top} is out of range", "use 1 to 4096")
    from .batch import is_batch

    if is_batch(image):
        dev = resolve_device(s.device)
        backbone = load_backbone(s.model, weights=s.weights, device=dev, progress=not s.quiet)
        backbone.check_layers([layer])

        def one(path):
            img = feature_maps(backbone, load_for_maps(path, s.size, s.max_pixels, dev), layer, top)
            img.info["dreamstyle"] = metadata("visualize", s, backbone.weights)
            return _tagged(img, "maps", image=str(path), layer=layer, top=top)

        run_many(f"maps-{layer}", Path(str(image)), output, one, force, s.quiet, verbose)
        return
    out = _viz_out(output or default_output_path(image, f"maps-{layer}"), "", force)
    dev = resolve_device(s.device)
    backbone = load_backbone(s.model, weights=s.weights, device=dev, progress=not s.quiet)
    img = feature_maps(backbone, load_for_maps(image, s.size, s.max_pixels, dev), layer, top)
    img.info["dreamstyle"] = metadata("visualize", s, backbone.weights)
    run_engine(lambda: _tagged(img, "maps", image=str(image), layer=layer, top=top), out, force, s.quiet, verbose)


@viz.command("channels", epilog=examples(
    "dreamstyle visualize channels --model efficientnet-lite0 --layer block6 --channels 0-15",
    "dreamstyle visualize channels --layer relu4_3 --channels 3,7,9 --steps 512",
))
@guarded
def viz_channels(
    layer: Annotated[Optional[str], typer.Option(help="Layer whose channels to render.")] = None,
    channels: Annotated[Optional[str], typer.Option(help="Channels: 0-15 or 3,7,9. [default: 0-15]")] = None,
    output: Out = None, model: Model = None, weights: Weights = None, size: Size = None, steps: Steps = None,
    lr: Lr = None, seed: Seed = None, param: Param = None, transforms: Transforms = None,
    device: Device = None, precision: Precision = None, from_: From = None, force: Force = False,
    quiet: Quiet = False, verbose: Verbose = False,
) -> None:
    """Activation maximisation of each channel, optimised together as one batch, on a labelled sheet."""
    from .settings import parse_int_list
    from .visualize import channel_sheet

    s, inputs = _viz_settings("channels", from_, {"size": 128}, quiet, verbose, model=model, weights=str(weights) if weights else None,
                              size=size, steps=steps, lr=lr, seed=seed, param=param, transforms=transforms, device=device, precision=precision)  # fmt: skip
    layer = need(layer or inputs.get("layer"), "--layer", "e.g. --layer block6 (`dreamstyle layers MODEL` lists them)")
    picked = parse_int_list(channels or inputs.get("channels") or "0-15")
    out = _viz_out(output, f"{s.model}-{layer}-channels", force)

    def finish(img):
        return _tagged(img, "channels", layer=layer, channels=picked)

    run_engine(lambda: finished(finish, lambda: channel_sheet(layer, picked, s)), out, force, s.quiet, verbose)


@viz.command("neuron", epilog=examples(
    "dreamstyle visualize neuron --model efficientnet-lite0 --layer block9 --channel 12",
    "dreamstyle visualize neuron --model efficientnet-lite0 --layer block9 --channel 12 --batch 4 --diversity 1",
))
@guarded
def viz_neuron(
    layer: Annotated[Optional[str], typer.Option(help="Layer of the neuron.")] = None,
    channel: Annotated[Optional[int], typer.Option(help="Channel of the neuron.")] = None,
    x: Annotated[Optional[int], typer.Option(help="Column in the layer's map. [default: centre]")] = None,
    y: Annotated[Optional[int], typer.Option(help="Row in the layer's map. [default: centre]")] = None,
    output: Out = None, model: Model = None, weights: Weights = None, size: Size = None, steps: Steps = None,
    lr: Lr = None, seed: Seed = None, param: Param = None, transforms: Transforms = None, diversity: Diversity = None,
    batch: Batch = None, device: Device = None, precision: Precision = None, from_: From = None, force: Force = False,
    quiet: Quiet = False, verbose: Verbose = False,
) -> None:
    """One unit: what makes channel C at (x, y) of --layer fire most."""
    from .objectives import neuron
    from .visualize import render

    s, inputs = _viz_settings("neuron", from_, {}, quiet, verbose, model=model, weights=str(weights) if weights else None,
                              size=size, steps=steps, lr=lr, seed=seed, param=param, transforms=transforms, diversity=diversity,
                              batch=batch, device=device, precision=precision)  # fmt: skip
    layer = need(layer or inputs.get("layer"), "--layer", "e.g. --layer block9 (`dreamstyle layers MODEL` lists them)")
    channel = need(channel if channel is not None else inputs.get("channel"), "--channel", "e.g. --channel 12")
    x = x if x is not None else inputs.get("x")
    y = y if y is not None else inputs.get("y")
    out = _viz_out(output, f"{s.model}-{layer}-{channel}-neuron", force)

    def finish(images):
        return _tagged(_sheet(images, [f"{layer} #{channel} ({i})" for i in range(len(images))]), "neuron", layer=layer, channel=channel, x=x, y=y)

    run_engine(lambda: finished(finish, lambda: render(neuron(layer, channel, x, y), s)), out, force, s.quiet, verbose)


@viz.command("class", epilog=examples(
    "dreamstyle visualize class goldfish --model efficientnet-lite0",
    "dreamstyle visualize class 980 --batch 4 --diversity 1",
))
@guarded
def viz_class(
    classes: Annotated[Optional[list[str]], typer.Argument(help="ImageNet classes by name (goldfish, volcano) or index.", show_default=False)] = None,
    output: Out = None, model: Model = None, weights: Weights = None, size: Size = None, steps: Steps = None,
    lr: Lr = None, seed: Seed = None, param: Param = None, transforms: Transforms = None, diversity: Diversity = None,
    batch: Batch = None, device: Device = None, precision: Precision = None, from_: From = None, force: Force = False,
    quiet: Quiet = False, verbose: Verbose = False,
) -> None:
    """What the network thinks a class looks like: maximise its pre-softmax logit."""
    from .visualize import class_images, class_index, class_names

    s, inputs = _viz_settings("class", from_, {}, quiet, verbose, model=model, weights=str(weights) if weights else None,
                              size=size, steps=steps, lr=lr, seed=seed, param=param, transforms=transforms, diversity=diversity,
                              batch=batch, device=device, precision=precision)  # fmt: skip
    classes = need(classes or inputs.get("classes"), "CLASSES", "name one or more ImageNet classes, e.g. goldfish")
    idx = [class_index(c) for c in classes]
    names = [class_names()[i] for i in idx]
    out = _viz_out(output, f"{s.model}-class-{names[0].replace(' ', '_')}" + ("-etc" if len(idx) > 1 else ""), force)

    def finish(images):
        return _tagged(_sheet(images, [names[i // s.batch] for i in range(len(images))]), "class", classes=list(classes), batch=s.batch)

    run_engine(lambda: finished(finish, lambda: class_images(idx, s)), out, force, s.quiet, verbose)


@app.command(epilog=examples("dreamstyle layers vgg19", "dreamstyle layers efficientnet-lite0 --size 320 --json"))
@guarded
def layers(
    model: Annotated[str, typer.Argument(help="Backbone name.")],
    size: Annotated[int, typer.Option(help="Input size (square) for shapes and FLOPs.")] = 224,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
    weights: Weights = None,
) -> None:
    """Every layer of MODEL: output shape, parameters, MACs/FLOPs, stride and receptive field."""
    from .backbones import MODELS
    from .errors import did_you_mean
    from .layers import report

    if model not in MODELS:
        fail(f"unknown model {model!r}", did_you_mean(model, MODELS))
    if not 16 <= size <= 4096:
        fail(f"--size {size} is out of range", "use 16 to 4096")
    backbone = _architecture(model, weights)
    typer.echo(report(backbone, size, as_json=json_out))


def _architecture(model: str, weights: Path | None):
    """The network with its weights if they are at hand, else with random ones: shapes, FLOPs and
    receptive fields do not depend on weight values, so the table never needs a download."""
    import os

    from .backbones import load_backbone
    from .errors import UserError

    try:
        old = os.environ.get("DREAMSTYLE_OFFLINE")
        os.environ["DREAMSTYLE_OFFLINE"] = "1"
        return load_backbone(model, weights=weights, progress=False)
    except UserError:
        if weights:
            raise
        return _random_backbone(model)
    finally:
        if old is None:
            os.environ.pop("DREAMSTYLE_OFFLINE", None)
        else:
            os.environ["DREAMSTYLE_OFFLINE"] = old


def _random_backbone(model: str):
    import tempfile

    import torch
    import torchvision

    from .backbones import load_backbone

    arch = {"vgg16": "vgg16", "vgg19": "vgg19", "vgg19-caffe": "vgg19", "googlenet": "googlenet"}[model]
    kw = {"aux_logits": False, "init_weights": False} if arch == "googlenet" else {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.pth"
        torch.save(getattr(torchvision.models, arch)(**kw).state_dict(), path)
        return load_backbone(model, weights=path, progress=False)


@app.command(epilog=examples("dreamstyle presets", "dreamstyle presets style"))
@guarded
def presets(
    engine: Annotated[Optional[str], typer.Argument(help="Only this engine's presets (dream, style, …).")] = None,
) -> None:
    """List the presets, built-in and yours ($XDG_CONFIG_HOME/dreamstyle/presets/*.toml), with one-line descriptions."""
    from .presets import preset_lines

    for line in preset_lines(engine):
        typer.echo(line)


@app.command(epilog=examples("dreamstyle info photo-dream.png", "dreamstyle info photo-dream.png --json"))
@guarded
def info(
    image: Annotated[Path, typer.Argument(help="An image written by dreamstyle (.png keeps its settings most reliably).", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the embedded JSON as it is.")] = False,
) -> None:
    """What made IMAGE: engine, inputs, model and weights, every setting, versions; and how to re-run it."""
    from .images import read_settings

    meta = read_settings(image)
    if json_out:
        typer.echo(json.dumps(meta, indent=2, sort_keys=True))
        return
    inputs = meta.get("inputs") or {}
    engine = " ".join(str(p) for p in (meta.get("engine"), inputs.get("kind")) if p)
    weights = meta.get("weights") or "(none)"
    ident = meta.get("weights_file")
    if isinstance(ident, dict):
        weights += f" ({ident.get('bytes', 0):,} bytes, sha256 {ident.get('sha256')}…)"
    rows = {
        "made by": f"dreamstyle {engine} (dreamstyle {meta.get('dreamstyle', '?')}, torch {meta.get('torch', '?')})",
        "weights": weights,
        "ran on": f"{meta.get('device') or '?'}, {meta.get('precision') or '?'}",
    }
    for line in describe(rows, indent=""):
        typer.echo(line)
    for title, values in (("inputs", {k: v for k, v in inputs.items() if k != "kind"}), ("settings", meta.get("settings") or {})):
        typer.echo(f"{title}:")
        for line in describe(values):
            typer.echo(line)
    if meta.get("engine") in ("dream", "style") or inputs.get("kind"):
        typer.echo(f"re-run:\n  dreamstyle {engine} --from {image}")


def _interrupt_once(signum, frame) -> None:
    # The first Ctrl-C stops the engine, which then saves what it has. From then on the default
    # action is back, so a second Ctrl-C ends the process at once, even inside a long native call
    # where a Python handler would not run.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    raise KeyboardInterrupt


def run() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not if the caller ignores SIGINT
        signal.signal(signal.SIGINT, _interrupt_once)
    try:
        app()
    except KeyboardInterrupt:
        # A Ctrl-C outside an engine loop (loading, saving): stop now, without a traceback.
        typer.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
