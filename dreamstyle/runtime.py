"""Device and precision choice, shared by every engine."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from .errors import UserError
from .settings import DEVICES, PRECISIONS


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def resolve_device(name: str = "auto") -> torch.device:
    if name not in DEVICES and not name.startswith("cuda:"):
        raise UserError(f"unknown device {name!r}", "use one of: " + ", ".join(DEVICES))
    if name == "auto":
        if torch.cuda.is_available():
            return _tune(torch.device("cuda"))
        return torch.device("mps" if _mps_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is available", "use --device auto or --device cpu")
    if name == "mps" and not _mps_available():
        raise UserError("--device mps was asked for but Apple MPS is not available", "use --device auto or --device cpu")
    return _tune(torch.device(name))


def _tune(device: torch.device) -> torch.device:
    if device.type == "cuda":
        # Image sizes repeat for hundreds of steps, so cuDNN's one-off algorithm search pays back
        # at once. (fp32 convolutions already use TF32 by PyTorch's default; matmuls are left in
        # full fp32 because the Gram matrices and L-BFGS dot products are where precision matters.)
        torch.backends.cudnn.benchmark = True
    return device


def cpu_has_fast_bf16() -> bool:
    """True where the CPU multiplies bf16 natively (AVX512-BF16 or AMX): there a VGG step runs
    2-4x faster in bf16. Elsewhere bf16 is emulated and slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: macOS and Windows builds of torch fall back to fp32
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(name: str, device: torch.device, backbone=None) -> torch.dtype:
    """The autocast dtype; fp32 means no autocast.

    `auto` takes bf16 where the hardware runs it natively (CUDA GPUs from Ampere on, CPUs with
    AVX512-BF16/AMX): there it halves memory, cuts time 2-4x, and final losses stay within 1-2 % of
    fp32 (bench/). On the CPU only backbones of dense convolutions gain (`backbone.cpu_half`:
    VGG yes, EfficientNet's depthwise convs no), so those stay fp32. Only the backbone runs in
    bf16; losses and Gram matrices stay fp32. MPS stays fp32 until someone has measured it there. A seed reproduces the same bytes on the same machine
    in either precision; `--precision fp32` gives results comparable across machines.
    """
    if name not in PRECISIONS:
        raise UserError(f"unknown precision {name!r}", "use one of: " + ", ".join(PRECISIONS))
    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if device.type == "cpu" and cpu_has_fast_bf16() and getattr(backbone, "cpu_half", True):
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


def precision_name(dtype: torch.dtype) -> str:
    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
