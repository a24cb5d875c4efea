"""The benchmark harness itself runs and reports what the README's Performance table shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_quick_bench_compares_against_the_naive_baseline(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench", "--profile", "quick", "--device", "cpu", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| style 64 px" in proc.stdout and "naive" in proc.stdout
    (result,) = tmp_path.glob("cpu-*.json")
    rows = json.loads(result.read_text())["rows"]
    naive, ours = rows
    assert naive["impl"] == "naive" and naive["precision"] == "fp32"
    assert ours["speedup"] > 0 and ours["seconds"] > 0 and ours["peak_memory_mb"] > 100
    # % of the CPU's peak (bench/peak.py) is filled in: above 0, and not absurdly above the peak.
    assert 0 < naive["peak_fraction"] < 3 and 0 < ours["peak_fraction"] < 3
    # Same objective, same steps: the two final losses must agree (the ratio means nothing otherwise).
    a, b = naive["quality"]["final_loss"], ours["quality"]["final_loss"]
    assert abs(a - b) / a < 0.05


def test_cpu_peak_is_cores_times_clock_times_flop_per_cycle():
    """The formula in bench/peak.py, on what /proc/cpuinfo and torch would say."""
    from bench.peak import cpu_peak_tflops

    def info(vendor: str, mhz: float, flags: str = "fma avx2") -> str:
        return f"vendor_id\t: {vendor}\ncpu MHz\t\t: {mhz}\nflags\t\t: {flags}\n" * 2

    intel, amd = info("GenuineIntel", 2500.0, "avx512f"), info("AuthenticAMD", 2500.0, "avx512f avx512_bf16")
    assert cpu_peak_tflops("fp32", cores=2, cpuinfo=info("AuthenticAMD", 2500.0), capability="AVX2") == pytest.approx(0.160)
    assert cpu_peak_tflops("fp32", cores=2, cpuinfo=intel, capability="AVX512") == pytest.approx(0.320)
    assert cpu_peak_tflops("fp32", cores=2, cpuinfo=amd, capability="AVX512") == pytest.approx(0.160)  # Zen 4: 2 x 256 bit
    assert cpu_peak_tflops("bf16", cores=2, cpuinfo=amd, capability="AVX512") == pytest.approx(0.320)
    assert cpu_peak_tflops("bf16", cores=2, cpuinfo=info("GenuineIntel", 2000.0, "amx_bf16"), capability="AVX512") == pytest.approx(4.096)
    assert cpu_peak_tflops("fp32", cores=2, cpuinfo="flags : avx2\n", capability="AVX2") is None  # no clock: no claim
