"""The options several commands take, each written once, and `shared`, which adds them to a
command: its help text, its default and its place in `--help` then cannot drift between commands."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Annotated, Optional

import typer

Model = Annotated[Optional[str], typer.Option(help="Backbone: vgg16, vgg19, vgg19-caffe, googlenet, efficientnet-lite0 (bundled, offline).")]
Weights = Annotated[Optional[Path], typer.Option(help="Load the backbone's weights from this local state dict instead of the torch hub cache.")]
Size = Annotated[Optional[int], typer.Option(help="Longest side of the output in pixels.")]
Steps = Annotated[Optional[str], typer.Option(help="Optimisation steps (per octave/scale); style also takes auto: stop each scale when the picture stops changing.")]
Lr = Annotated[Optional[float], typer.Option(help="Step size.")]
Seed = Annotated[Optional[int], typer.Option(help="Random seed; the same seed on the CPU gives identical files.")]
Device = Annotated[Optional[str], typer.Option(help="auto (cuda, then mps, then cpu), cpu, cuda or mps.")]
Precision = Annotated[Optional[str], typer.Option(help="auto (bf16 on GPUs of compute capability 8.0+ and on CPUs with native bf16, else fp32), fp32 or bf16; fp16 is refused.")]
SaveEvery = Annotated[Optional[int], typer.Option(help="Also save a snapshot OUT.stepNNNNN.png every N steps.")]
Preset = Annotated[Optional[str], typer.Option(help="Start from a preset (`dreamstyle presets`); flags you give override it.")]
Deterministic = Annotated[bool, typer.Option("--deterministic", help="The same seed gives the same bytes on a GPU too (no cuDNN autotuning, no TF32, deterministic kernels), at some speed; the CPU is repeatable already.")]
Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing output file.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or log lines (for scripts).")]
MaxPixels = Annotated[Optional[int], typer.Option(help="Refuse input images with more pixels than this (decompression-bomb guard).")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Also print the resolved settings and the time taken.")]
From = Annotated[Optional[Path], typer.Option("--from", help="Re-run an earlier output: its embedded settings and inputs, with the flags you give on top.", show_default=False)]
Out = Annotated[Optional[Path], typer.Option("--output", "-o", help="Output file (.png/.jpg/.webp). Default: IMAGE-dream.png (or -style) beside the input, with -2, -3 … added rather than overwrite.")]
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
}  # fmt: skip
# What the visualize commands that optimise a picture share.
OPTIMISING = ("output", "model", "weights", "size", "steps", "lr", "seed", "param", "transforms")
RUNNING = ("device", "precision", "deterministic", "from_", "force", "quiet", "verbose")


def shared(*names: str):
    """Add the named OPTIONS to a command after its own parameters; the command receives them as
    keyword arguments (`**opts`)."""

    def add(fn):
        own = inspect.signature(fn, eval_str=True)
        params = [p for p in own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        for name in names:
            annotation, default = OPTIONS[name]
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))

        @functools.wraps(fn)
        def command(**kwargs):
            return fn(**kwargs)

        command.__signature__ = own.replace(parameters=params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return add
