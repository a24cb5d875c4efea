"""The benchmark harness itself runs and reports what the README's Performance table shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    # Same objective, same steps: the two final losses must agree (the ratio means nothing otherwise).
    a, b = naive["quality"]["final_loss"], ours["quality"]["final_loss"]
    assert abs(a - b) / a < 0.05
