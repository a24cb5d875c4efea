"""The options several commands take, each written once, and `shared`, which adds them to a
command: its help text, its default and its place in `--help` then cannot drift between commands.

The options' Python defaults are None ("not typed": a preset or `--from` may fill it in), so the
default `--help` shows is the settings dataclass's, added per command by `shared(defaults=…)`."""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
from pathlib import Path
from typing import Annotated, Any, Optional, get_args

import typer

Model = Annotated[Optional[str], typer.Option(help="Backbone: vgg16, vgg19, vgg19-caffe, googlenet, efficientnet-lite0 (bundled, offline).")]
Weights = Annotated[Optional[Path], typer.Option(help="Load the backbone's weights from this local state dict instead of the torch hub cache.")]
Size = Annotated[Optional[int], typer.Option(help="Longest side of the output in pixels.")]
Steps = Annotated[Optional[str], typer.Option(help="Optimisation steps (per octave/scale), or auto (the default for style and visualize): stop each scale when the picture is done, at most 500 (style) or 512 (visualize) steps.")]
Lr = Annotated[Optional[float], typer.Option(help="Step size.")]
Seed = Annotated[Optional[int], typer.Option(help="Random seed; the same seed on the CPU gives identical files.")]
Device = Annotated[Optional[str], typer.Option(help="auto (cuda, then mps, then cpu), cpu, cuda or mps.")]
Precision = Annotated[Optional[str], typer.Option(help="auto (bf16 where the hardware multiplies it natively: CUDA GPUs of compute capability 8.0+, and CPUs with AVX512-BF16 or AMX for the VGG and GoogLeNet backbones; else fp32), fp32 or bf16; fp16 is refused.")]
SaveEvery = Annotated[Optional[int], typer.Option(help="Also save a snapshot OUT.stepNNNNN.png every N steps; 0: never.")]
Preset = Annotated[Optional[str], typer.Option(help="Start from a preset (`dreamstyle presets`); flags you give override it.")]
Deterministic = Annotated[bool, typer.Option("--deterministic", help="The same seed gives the same bytes on a GPU too (no cuDNN autotuning, no TF32, deterministic kernels), at some speed; the CPU is repeatable already.")]
Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing output file.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or log lines (for scripts).")]
MaxPixels = Annotated[Optional[int], typer.Option(help="Refuse input images with more pixels than this (decompression-bomb guard).")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Also print the resolved settings and the time taken.")]
From = Annotated[Optional[Path], typer.Option("--from", help="Re-run an earlier output: its embedded settings and inputs, with the flags you give on top.", show_default=False)]
# Its default (a name made from the input) is the command's: see `shared(defaults=…)`.
Out = Annotated[Optional[Path], typer.Option("--output", "-o", help="Output file (.png/.jpg/.webp); an existing one is refused without --force.")]
# Dream options that `zoom` shares.
Layers = Annotated[Optional[str], typer.Option(help="Layers to amplify, optionally weighted: relu4_3 or relu4_3:1,relu5_1:0.5. Default: the model's.")]
Channels = Annotated[Optional[str], typer.Option(help="Dream only these channels of the layers: 12,40 or 0-15.")]
OctaveScale = Annotated[Optional[float], typer.Option(help="Size ratio between octaves. [default: 1.4]")]
Jitter = Annotated[Optional[int], typer.Option(help="Random shift in pixels each step; stops grid artefacts. [default: 32]")]
Smooth = Annotated[Optional[float], typer.Option(help="Gaussian sigma for smoothing the gradient; 0 for none. [default: 1]")]
# Clip options of dream and style.
Temporal = Annotated[Optional[str], typer.Option(help="Video: how frames hold together: flow (the earlier frames warped by optical flow), blend (carried unwarped), none (independent). Marks a frame folder as a clip. [default: flow]")]
Blend = Annotated[Optional[float], typer.Option(help="Video: share of frame t-1's added detail carried onto frame t (--temporal blend, and dream's flow); alone it means --temporal blend. [default: 0.5]")]
TemporalWeight = Annotated[Optional[float], typer.Option(help="Video, style, flow: how firmly each frame holds to the warped earlier ones (content weight is 1). [default: 50]")]
LongTerm = Annotated[bool, typer.Option("--long-term", help="Video, style, flow: hold each frame to frames t-1, t-2 and t-4 (Ruder et al.'s long-term consistency): what an object hid comes back as it was.")]
Passes = Annotated[Optional[int], typer.Option(help="Video, style, flow: alternating backward/forward passes over the clip, each of --steps per frame (final renders). [default: 1]")]
Fps = Annotated[Optional[float], typer.Option(help="Video: frames per second of the output. [default: the input's; 24 for a frame folder]")]
# Where a batch, sweep or clip runs (cluster/).
Backend = Annotated[Optional[str], typer.Option(help="local, or ray: a batch, sweep or clip spread over the workers of a Ray cluster (pip install 'dreamstyle[ray]'). [default: local]")]
RayAddress = Annotated[Optional[str], typer.Option(help="With --backend ray: the cluster to join, its head node's HOST:PORT. Default: Ray's own rules (RAY_ADDRESS, a cluster `ray start` began here, else a new one on this machine).")]
Workers = Annotated[Optional[int], typer.Option(help="With --backend ray: how many workers, each loading the model once. [default: one per GPU, else one per CPU]")]
GpusPerWorker = Annotated[Optional[float], typer.Option(help="With --backend ray: GPUs each worker takes (0.5: two share one; 0: CPU workers). [default: 1 where the cluster has GPUs, else 0]")]
Layer = Annotated[Optional[str], typer.Option(help="Layer name (`dreamstyle layers MODEL` lists them).")]
Param = Annotated[Optional[str], typer.Option(help="Image parameterisation: fft (decorrelated colour) or pixel. [default: fft]")]
Transforms = Annotated[Optional[str], typer.Option(help="Robustness transforms: none, standard (lucid's) or strong. [default: standard]")]
Diversity = Annotated[Optional[float], typer.Option(help="With --batch > 1, push the images apart by this weight.")]
Batch = Annotated[Optional[int], typer.Option(help="Images per objective (use with --diversity). [default: 1]")]

# name -> (annotation, default), in the order --help lists them.
OPTIONS = {
    "output": (Out, None), "model": (Model, None), "weights": (Weights, None), "size": (Size, None),
    "steps": (Steps, None), "lr": (Lr, None), "seed": (Seed, None), "param": (Param, None),
    "transforms": (Transforms, None), "diversity": (Diversity, None), "batch": (Batch, None),
    "save_every": (SaveEvery, None), "preset": (Preset, None), "device": (Device, None),
    "precision": (Precision, None), "deterministic": (Deterministic, False), "max_pixels": (MaxPixels, None), "temporal": (Temporal, None), "blend": (Blend, None), "temporal_weight": (TemporalWeight, None),
    "long_term": (LongTerm, False), "passes": (Passes, None), "fps": (Fps, None),
    "from_": (From, None), "force": (Force, False), "quiet": (Quiet, False), "verbose": (Verbose, False),
    "backend": (Backend, None), "ray_address": (RayAddress, None), "workers": (Workers, None), "gpus_per_worker": (GpusPerWorker, None),
}  # fmt: skip
# What the visualize commands that optimise a picture share.
OPTIMISING = ("output", "model", "weights", "size", "steps", "lr", "seed", "param", "transforms")
RUNNING = ("device", "precision", "deterministic", "from_", "force", "quiet", "verbose")
# What every command taking a folder or glob batch, a sweep or a clip shares: where it runs.
CLUSTER = ("backend", "ray_address", "workers", "gpus_per_worker")


def documented(settings: type, **extra: Any) -> dict[str, str]:
    """What `--help` gives as the defaults of a command running on `settings`: each field's value
    (a None field is decided at run time, which the option's own help says), with `extra` on top:
    the command's own defaults (a sheet's smaller --size) and its default output name."""
    shown = {f.name: f.default for f in dataclasses.fields(settings) if f.default is not dataclasses.MISSING}
    return {k: default_text(v) for k, v in {**shown, **extra}.items() if v is not None and not isinstance(v, bool)}


def default_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(default_text, value))
    return str(value)


def _with_default(annotation, text: str):
    """`annotation` with " [default: TEXT]" after its help (unless the help gives its own)."""
    kind, info = get_args(annotation)[:2]
    if "[default:" in (info.help or ""):
        return annotation
    info = copy.copy(info)
    info.help = f"{info.help} [default: {text}]"
    return Annotated[kind, info]


def shared(*names: str, defaults: dict[str, str] | None = None):
    """Add the named OPTIONS to a command after its own parameters; the command receives them as
    keyword arguments (`**opts`). `defaults` (see `documented`) are shown in their help."""
    defaults = defaults or {}

    def add(fn):
        own = inspect.signature(fn, eval_str=True)
        params = [p for p in own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        for name in names:
            annotation, default = OPTIONS[name]
            if name in defaults:
                annotation = _with_default(annotation, defaults[name])
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))

        @functools.wraps(fn)
        def command(**kwargs):
            return fn(**kwargs)

        command.__signature__ = own.replace(parameters=params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return add
