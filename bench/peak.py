"""A CPU's peak FLOP/s, from what it says it is: cores x clock x FLOP per cycle for its ISA.

    peak = cores x clock (GHz) x FLOP/cycle/core

FLOP per cycle per core counts fused multiply-adds as 2 FLOP, times the vector lanes, times the
FMA units: fp32 SSE 2 x 4 x 2 = 16, AVX2 2 x 8 x 2 = 32, AVX-512 2 x 16 x 2 = 64 on cores with two
512-bit FMA units (Intel's server cores); AMD's Zen 4 runs AVX-512 as two 256-bit halves, so 32.
bf16: AVX512-BF16's dot products double fp32's rate (128); AMX's tile unit does 1024 per cycle.
The clock is the one /proc/cpuinfo reports (turbo may run above it, so the fraction can pass 1).
torch.backends.cpu.get_cpu_capability() names the ISA torch's kernels use, which is what counts.
"""

from __future__ import annotations

import os
from pathlib import Path

FP32_FLOP_PER_CYCLE = {"DEFAULT": 16, "NO AVX": 16, "AVX2": 32, "AVX512": 64}


def flop_per_cycle(capability: str, precision: str, flags: str, vendor: str) -> int:
    fp32 = FP32_FLOP_PER_CYCLE.get(capability, 16)
    if capability == "AVX512" and "AMD" in vendor:
        fp32 = 32  # Zen 4: 512-bit ops in two 256-bit halves
    if precision == "bf16":
        if "amx_bf16" in flags:
            return 1024
        if "avx512_bf16" in flags:
            return 2 * fp32
    return fp32


def cpu_peak_tflops(precision: str, *, cores: int | None = None, cpuinfo: str | None = None, capability: str | None = None) -> float | None:
    """The peak in TFLOP/s of the CPU this process may use, or None where it cannot be read."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    if capability is None:
        import torch

        capability = torch.backends.cpu.get_cpu_capability()
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    lines = [l.split(":", 1) for l in cpuinfo.splitlines() if ":" in l]
    mhz = [float(v) for k, v in lines if k.strip() == "cpu MHz"]
    if not mhz:
        return None
    flags = next((v for k, v in lines if k.strip() == "flags"), "")
    vendor = next((v for k, v in lines if k.strip() in ("vendor_id", "model name")), "")
    return cores * max(mhz) / 1000 * flop_per_cycle(capability, precision, flags, vendor) / 1000
