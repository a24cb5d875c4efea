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
        except typer.Exit:
            raise
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


viz = typer.Typer(help="Show what a network has learned: filters, feature maps, channels, neurons, classes.", no_args_is_help=True)
app.add_typer(viz, name="visualize")

Layer = Annotated[Optional[str], typer.Option(help="Layer name (`dreamstyle layers MODEL` lists them).")]
Param = Annotated[Optional[str], typer.Option(help="Image parameterisation: fft (decorrelated colour) or pixel. [default: fft]")]
Transforms = Annotated[Optional[str], typer.Option(help="Robustness transforms: none, standard (lucid's) or strong. [default: standard]")]
Diversity = Annotated[Optional[float], typer.Option(help="With --batch > 1, push the images apart by this weight.")]
Batch = Annotated[Optional[int], typer.Option(help="Images per objective (use with --diversity). [default: 1]")]


def _viz_settings(**flags):
    from .settings import VisualizeSettings, build

    return build(VisualizeSettings, given(**flags))


def _viz_out(output: Path | None, stem: str, force: bool) -> Path:
    from .images import check_output_path

    return check_output_path(output or free_path(Path(f"{stem}.png")), force=force)


def _save_viz(img, out: Path, force: bool, quiet: bool) -> None:
    run_engine(lambda: img, out, force, quiet)


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
    force: Force = False, quiet: Quiet = False,
) -> None:
    """The first conv layer's kernels as an RGB grid; for a deeper --layer, what each filter responds to."""
    from .backbones import load_backbone
    from .settings import parse_int_list
    from .visualize import channel_sheet, filter_grid, first_conv

    s = _viz_settings(model=model or "vgg16", weights=str(weights) if weights else None, size=size or 128, steps=steps,
                      lr=lr, seed=seed, param=param, transforms=transforms, device=device, precision=precision, quiet=quiet)  # fmt: skip
    out = _viz_out(output, f"{s.model}-filters" + (f"-{layer}" if layer else ""), force)
    backbone = load_backbone(s.model, weights=s.weights, progress=not s.quiet)
    first, _ = first_conv(backbone)
    if layer is None or layer == first or (layer in backbone.layer_names and backbone.layer_names.index(layer) <= backbone.stage_names.index(first)):
        backbone.check_layers([layer] if layer else [])
        img = filter_grid(backbone)
        from .settings import metadata

        img.info["dreamstyle"] = metadata("visualize", s, backbone.weights, {"kind": "filters", "layer": first})
    else:
        img = channel_sheet(layer, parse_int_list(channels or "0-15"), s, backbone=backbone)
    _save_viz(img, out, force, s.quiet)


@viz.command("maps", epilog=examples("dreamstyle visualize maps photo.jpg --layer block3 --model efficientnet-lite0 --top 16"))
@guarded
def viz_maps(
    image: Annotated[Path, typer.Argument(help="The image to look at.", show_default=False)],
    layer: Annotated[str, typer.Option(help="Layer whose maps to show.")],
    top: Annotated[int, typer.Option(help="How many channels, strongest first.")] = 16,
    output: Out = None, model: Model = None, weights: Weights = None, size: Size = None,
    device: Device = None, max_pixels: MaxPixels = None, force: Force = False, quiet: Quiet = False,
) -> None:
    """IMAGE's feature maps at --layer as a grid, strongest channels first, numbered."""
    from .backbones import load_backbone
    from .images import default_output_path
    from .runtime import resolve_device
    from .settings import metadata
    from .visualize import feature_maps, load_for_maps

    if not 1 <= top <= 4096:
        fail(f"--top {top} is out of range", "use 1 to 4096")
    s = _viz_settings(model=model or "vgg16", weights=str(weights) if weights else None, size=size, device=device,
                      max_pixels=max_pixels, quiet=quiet)  # fmt: skip
    out = _viz_out(output or default_output_path(image, f"maps-{layer}"), "", force)
    dev = resolve_device(s.device)
    backbone = load_backbone(s.model, weights=s.weights, device=dev, progress=not s.quiet)
    img = feature_maps(backbone, load_for_maps(image, s.size, s.max_pixels, dev), layer, top)
    img.info["dreamstyle"] = metadata("visualize", s, backbone.weights, {"kind": "maps", "image": str(image), "layer": layer, "top": top})
    _save_viz(img, out, force, s.quiet)


@viz.command("channels", epilog=examples(
    "dreamstyle visualize channels --model efficientnet-lite0 --layer block6 --channels 0-15",
    "dreamstyle visualize channels --layer relu4_3 --channels 3,7,9 --steps 512",
))
@guarded
def viz_channels(
    layer: Annotated[str, typer.Option(help="Layer whose channels to render.")],
    channels: Annotated[str, typer.Option(help="Channels: 0-15 or 3,7,9.")] = "0-15",
    output: Out = None, model: Model = None, weights: Weights = None, size: Size = None, steps: Steps = None,
    lr: Lr = None, seed: Seed = None, param: Param = None, transforms: Transforms = None,
    device: Device = None, precision: Precision = None, force: Force = False, quiet: Quiet = False,
) -> None:
    """Activation maximisation of each channel, optimised together as one batch, on a labelled sheet."""
    from .settings import parse_int_list
    from .visualize import channel_sheet

    s = _viz_settings(model=model or "vgg16", weights=str(weights) if weights else None, size=size or 128, steps=steps,
                      lr=lr, seed=seed, param=param, transforms=transforms, device=device, precision=precision, quiet=quiet)  # fmt: skip
    out = _viz_out(output, f"{s.model}-{layer}-channels", force)
    _save_viz(channel_sheet(layer, parse_int_list(channels), s), out, force, s.quiet)


@viz.command("neuron", epilog=examples("dreamstyle visualize neuron --model efficientnet-lite0 --layer block9 --channel 12"))
@guarded
def viz_neuron(
    layer: Annotated[str, typer.Option(help="Layer of the neuron.")],
    channel: Annotated[int, typer.Option(help="Channel of the neuron.")],
    x: Annotated[Optional[int], typer.Option(help="Column in the layer's map. [default: centre]")] = None,
    y: Annotated[Optional[int], typer.Option(help="Row in the layer's map. [default: centre]")] = None,
    output: Out = None, model: Model = None, weights: Weights = None, size: Size = None, steps: Steps = None,
    lr: Lr = None, seed: Seed = None, param: Param = None, transforms: Transforms = None, diversity: Diversity = None,
    batch: Batch = None, device: Device = None, precision: Precision = None, force: Force = False, quiet: Quiet = False,
) -> None:
    """One unit: what makes channel C at (x, y) of --layer fire most."""
    from .objectives import neuron
    from .visualize import contact_sheet, render

    s = _viz_settings(model=model or "vgg16", weights=str(weights) if weights else None, size=size, steps=steps, lr=lr,
                      seed=seed, param=param, transforms=transforms, diversity=diversity, batch=batch,
                      device=device, precision=precision, quiet=quiet)  # fmt: skip
    out = _viz_out(output, f"{s.model}-{layer}-{channel}-neuron", force)
    images = render(neuron(layer, channel, x, y), s)
    img = images[0] if len(images) == 1 else contact_sheet(images, [f"{layer} #{channel} ({i})" for i in range(len(images))])
    img.info["dreamstyle"] = images[0].info["dreamstyle"]
    _save_viz(img, out, force, s.quiet)


@viz.command("class", epilog=examples(
    "dreamstyle visualize class goldfish --model efficientnet-lite0",
    "dreamstyle visualize class 980 --batch 4 --diversity 1",
))
@guarded
def viz_class(
    classes: Annotated[list[str], typer.Argument(help="ImageNet classes by name (goldfish, volcano) or index.", show_default=False)],
    output: Out = None, model: Model = None, weights: Weights = None, size: Size = None, steps: Steps = None,
    lr: Lr = None, seed: Seed = None, param: Param = None, transforms: Transforms = None, diversity: Diversity = None,
    batch: Batch = None, device: Device = None, precision: Precision = None, force: Force = False, quiet: Quiet = False,
) -> None:
    """What the network thinks a class looks like: maximise its pre-softmax logit."""
    from .visualize import class_images, class_index, class_names, contact_sheet

    s = _viz_settings(model=model or "vgg16", weights=str(weights) if weights else None, size=size, steps=steps, lr=lr,
                      seed=seed, param=param, transforms=transforms, diversity=diversity, batch=batch,
                      device=device, precision=precision, quiet=quiet)  # fmt: skip
    idx = [class_index(c) for c in classes]
    names = [class_names()[i] for i in idx]
    out = _viz_out(output, f"{s.model}-class-{names[0].replace(' ', '_')}" + ("-etc" if len(idx) > 1 else ""), force)
    images = class_images(idx, s)
    img = images[0] if len(images) == 1 else contact_sheet(images, [names[i // s.batch] for i in range(len(images))])
    img.info["dreamstyle"] = images[0].info["dreamstyle"]
    _save_viz(img, out, force, s.quiet)


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
