"""Device and precision choice, shared by every engine."""

from __future__ import annotations

import contextlib

import torch

from .errors import UserError

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def resolve_device(name: str = "auto") -> torch.device:
    if name not in DEVICES and not name.startswith("cuda:"):
        raise UserError(f"unknown device {name!r}", "use one of: " + ", ".join(DEVICES))
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is available", "use --device auto or --device cpu")
    if name == "mps" and not _mps_available():
        raise UserError("--device mps was asked for but Apple MPS is not available", "use --device auto or --device cpu")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """The autocast dtype; fp32 means no autocast.

    `auto` takes bf16 only on CUDA GPUs that run it natively: there it halves memory and time with
    no visible change. On CPU and MPS it stays fp32 so that a seed reproduces the same bytes
    everywhere a user is likely to compare them.
    """
    if name not in PRECISIONS:
        raise UserError(f"unknown precision {name!r}", "use one of: " + ", ".join(PRECISIONS))
    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if name == "fp16" and device.type == "cpu":
        raise UserError("fp16 is not supported on the CPU", "use --precision bf16 or fp32")
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def autocast(device: torch.device, dtype: torch.dtype):
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """All randomness flows from this; it lives on the CPU so a seed means the same everywhere."""
    g = torch.Generator("cpu")
    if seed is None:
        g.seed()
    else:
        g.manual_seed(seed)
    return g


def announce(engine: str, model: str, weights: str, device: torch.device, dtype: torch.dtype, quiet: bool) -> None:
    """The one log line that says what actually ran, so a surprising result can be explained."""
    if quiet:
        return
    import sys

    print(f"dreamstyle {engine}: model {model}, weights {weights}, device {device}, precision {precision_name(dtype)}", file=sys.stderr)


def precision_name(dtype: torch.dtype) -> str:
    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
