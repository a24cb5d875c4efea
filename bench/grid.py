"""`python -m bench.grid`: the figures of docs/grids.md, measured on this machine.

A 3x3 grid of 256 px style pictures (style weight x seed, efficientnet-lite0) three ways, each a
fresh command as a user types it: the nine runs one after another (nine commands, each loading
the model), the grid here (`--grid … --grid-y …`, one command), and the grid on a local Ray
cluster of 2 workers (`--backend ray --workers 2`). Prints the times and their ratios and writes
bench/results/grid-<date>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
WEIGHTS, SEEDS = (10, 100, 1000), (0, 1, 2)


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    cli = "from dreamstyle.cli import main; main()"
    env = {**os.environ, "DREAMSTYLE_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", cli, *args], check=True, cwd=ROOT, env=env)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", default="60")
    ap.add_argument("--no-ray", action="store_true")
    a = ap.parse_args()
    common = ["--model", "efficientnet-lite0", "--size", str(a.size), "--steps", a.steps, "--scales", str(a.size), "-q"]
    photo = [str(SAMPLES / "cat.jpg"), str(SAMPLES / "swirls.jpg")]
    grid = ["--grid", "style_weight=" + ",".join(map(str, WEIGHTS)), "--grid-y", "seed=" + ",".join(map(str, SEEDS))]
    found: dict = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "size": a.size, "steps": a.steps}
    with tempfile.TemporaryDirectory(prefix="grid-bench-") as tmp:
        t = Path(tmp)
        found["nine_runs_s"] = sum(timed(["style", *photo, *common, "--style-weight", str(w), "--seed", str(s), "-o", str(t / f"run-{w}-{s}.png")])
                                   for s in SEEDS for w in WEIGHTS)  # fmt: skip
        found["grid_s"] = timed(["style", *photo, *common, *grid, "-o", str(t / "grid.png")])
        if not a.no_ray:
            found["grid_ray2_s"] = timed(["style", *photo, *common, *grid, "--backend", "ray", "--workers", "2", "-o", str(t / "ray.png")])
    found["grid_ratio"] = found["grid_s"] / found["nine_runs_s"]
    if "grid_ray2_s" in found:
        found["ray2_ratio"] = found["grid_ray2_s"] / found["nine_runs_s"]
    print(json.dumps(found, indent=2))
    out = ROOT / "bench" / "results" / f"grid-{datetime.date.today()}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(found, indent=2) + "\n")


if __name__ == "__main__":
    main()
