"""How fast a trained network paints: milliseconds per picture for each network size, picture size
and precision, on this machine, and the optimisation path's time for one picture beside it.

    python -m bench.fast [--sizes 256,384,512,1024] [--repeats 5] [--threads N]

Speed only: the networks have their initial weights (a trained one runs the same operations).
Both precisions and both network sizes are timed in one process, one after another, so their
ratios hold on this machine; absolute times do not carry to another CPU. Results go to
bench/results/fast-CPU-DATE.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from dreamstyle.models.runtime import autocast, cpu_has_fast_bf16
from dreamstyle.models.transformer_net import SIZES, TransformerNet, mix_vector

from .worker import _cpu_name, result_path

RESULTS = Path(__file__).resolve().parent / "results"


def time_paint(net: TransformerNet, side: int, dtype: torch.dtype, repeats: int) -> float:
    """Median seconds of one forward pass at side x side, after a warm-up pass."""
    x = torch.rand(1, 3, side, side).contiguous(memory_format=torch.channels_last)
    mix = mix_vector(None, net.styles)
    times = []
    with torch.inference_mode(), autocast(torch.device("cpu"), dtype):
        net(x, mix)
        for _ in range(repeats):
            t = time.perf_counter()
            net(x, mix)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="256,384,512,1024")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sides = [int(s) for s in args.sizes.split(",")]
    dtypes = {"fp32": torch.float32, **({"bf16": torch.bfloat16} if cpu_has_fast_bf16() else {})}
    rows = []
    for size in SIZES:
        net = TransformerNet(1, size).eval().to(memory_format=torch.channels_last)
        for side in sides:
            for name, dtype in dtypes.items():
                ms = 1000 * time_paint(net, side, dtype, args.repeats)
                rows.append({"net": size, "side": side, "precision": name, "ms": round(ms, 1)})
                print(f"{size:5s} {side:5d} px {name}: {ms:8.1f} ms", flush=True)
    cpu = _cpu_name()
    out = result_path(RESULTS, "fast", cpu.split("@")[0][:24])
    report = {"cpu": cpu, "capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
              "bf16_native": cpu_has_fast_bf16(), "rows": rows}  # fmt: skip
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
