"""Device and precision choice, shared by every engine."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator
from pathlib import Path

import torch

from ..errors import UserError
from .names import DEVICES, PRECISIONS


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


@contextlib.contextmanager
def device_settings(device: torch.device, deterministic: bool = False) -> Iterator[None]:
    """The backend settings for one run on `device`, put back as they were afterwards (also after
    an error or a cancel): a library must not leave process-wide flags changed for its caller.

    On CUDA, cuDNN's benchmark mode: image sizes repeat for hundreds of steps, so its one-off
    algorithm search per shape pays back at once. (fp32 convolutions already use TF32 by
    PyTorch's default; matmuls are left in full fp32 because the Gram matrices and L-BFGS dot
    products are where precision matters.) Tiled passes turn it off again (tiling.py).

    `deterministic`: the same seed gives the same bytes on a GPU too. By default it does not
    there: benchmark mode may pick another algorithm per run, the backward passes of
    grid_sample and interpolate add with atomics in any order, and TF32 rounds convolutions.
    So: no benchmark, cuDNN's deterministic algorithms, no TF32, and torch's deterministic
    mode, which raises rather than run an op that has no deterministic form. (On the CPU runs
    are repeatable already; the mode only checks that.)
    """
    if deterministic:
        with _deterministic():
            yield
        return
    if device.type != "cuda":
        yield
        return
    with cudnn_benchmark(True):
        yield


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    import os

    # cuBLAS needs a fixed workspace to be repeatable; it reads this when it starts, so it counts
    # only if no CUDA matmul ran before in this process (a fresh `dreamstyle` run).
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    before = (torch.are_deterministic_algorithms_enabled(), cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32)
    torch.use_deterministic_algorithms(True)
    cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = True, False, False, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = before[1:]


@contextlib.contextmanager
def cudnn_benchmark(on: bool) -> Iterator[None]:
    """torch.backends.cudnn.benchmark set to `on` inside, restored on the way out."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = on
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


def free_memory(exc: BaseException) -> None:
    """After a run failed for lack of memory: let go of what it held, so the next item of a batch
    (or the studio's next job) starts with the device's memory free.

    The exception's traceback keeps every frame of the failed run alive, and with them its
    activations; clearing those frames' locals frees the tensors (the traceback itself stays).
    Then torch's caching allocator hands its now unused blocks back to the driver, which other
    processes and a later mem_get_info (the automatic tile size) see as free again.
    """
    traceback.clear_frames(exc.__traceback__)
    if torch.cuda.is_initialized():  # only when this process used CUDA: never start it up here
        torch.cuda.empty_cache()
    if _mps_available() and hasattr(torch.mps, "empty_cache"):
        torch.mps.empty_cache()


def cuda_bf16_is_native(device: torch.device) -> bool:
    """True where the GPU has bf16 tensor cores (compute capability 8.0, Ampere, or newer).

    torch.cuda.is_bf16_supported() also says yes for older cards (T4, V100, P100: Colab's and
    Kaggle's) where bf16 is emulated: their bf16 convolutions take a slow path, slower than fp32.
    The capability asked is the chosen device's, not the current one's (cuda:1 may differ).
    """
    return torch.cuda.is_available() and torch.cuda.get_device_capability(device) >= (8, 0)


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
    bf16; losses and Gram matrices stay fp32. MPS stays fp32 until someone has measured it there.
    fp16 is refused on every device (no loss scaling, see below). A seed reproduces the same
    bytes on the same machine in either precision; `--precision fp32` gives results comparable
    across machines.
    """
    if name not in PRECISIONS:
        raise UserError(f"unknown precision {name!r}", "use one of: " + ", ".join(PRECISIONS))
    if name == "auto":
        if device.type == "cuda" and cuda_bf16_is_native(device):
            return torch.bfloat16
        if device.type == "cpu" and cpu_has_fast_bf16() and getattr(backbone, "cpu_half", True):
            return torch.bfloat16
        return torch.float32
    if name == "fp16" and device.type == "cpu":
        raise UserError("fp16 is not supported on the CPU", "use --precision bf16 or fp32")
    if name == "fp16":
        # Without loss scaling, fp16's gradients underflow: DeepDream's and the Gram losses' come
        # back through the backbone at 1e-6 to 1e-8, below fp16's smallest normal (6e-5; its
        # subnormals end at 6e-8), and the picture barely changes. Scaling is not trivially right
        # here: the objectives' gradients differ by orders of magnitude, so no one static scale
        # fits all without overflowing somewhere; a dynamic one skips overflowed steps, which
        # would corrupt L-BFGS's curvature history; and tiled runs take their gradients tile by
        # tile inside the loss (tiling.py), where the scale would have to be applied and undone
        # too. bf16 has fp32's range and needs none of this.
        raise UserError(
            "fp16 is not supported: its gradients underflow without loss scaling",
            "use --precision bf16 (on GPUs of compute capability 8.0 or newer) or fp32",
        )
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
