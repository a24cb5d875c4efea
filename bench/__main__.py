"""`python -m bench` (or `make bench`): dreamstyle against the naive baseline on this machine.

Every case runs in its own process (its peak memory is its own) on the same inputs, layers and
steps for both implementations, with VGG19 random weights (speed does not depend on them; the
file is saved in torchvision's format and loaded through the real `--weights` path). Prints a
markdown table and writes bench/results/<device>-<date>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent

# The targets: CPU sizes are what 2 cores finish in a few minutes; GPU sizes are the
# published anchors' settings (neural-style: 512 px, 500 steps).
PROFILES = {
    "cpu": [
        dict(name="style 256 px, 100 steps (Adam)", engine="style", size=256, steps=100, optimizer="adam", scales=[256], ratio=True),
        dict(name="style 256 px, 100 steps (L-BFGS, default)", engine="style", size=256, steps=100, optimizer="lbfgs", scales=[256], ours_only=True),
        dict(name="dream 384 px, 3 octaves x 10 steps", engine="dream", size=384, steps=10, octaves=3, ratio=True),
        dict(name="visualize 8 channels x 64 steps, 128 px", engine="visualize", size=128, steps=64, channels=8, layer="relu4_1", ratio=True),
        dict(name="memory: style 512 px", engine="style", size=512, steps=2, optimizer="lbfgs", ours_only=True, warmup=1),
        dict(name="memory: style 1024 px", engine="style", size=1024, steps=2, optimizer="lbfgs", ours_only=True, warmup=1),
        dict(name="memory: style 2048 px", engine="style", size=2048, steps=2, optimizer="lbfgs", ours_only=True, warmup=1),
    ],
    # In the order a lent GPU's time limit should cut them (bench/gpu.sh): the headline first; last
    # the naive visualisation, 64 x 514 launch-bound steps one channel at a time.
    "gpu": [
        dict(name="style 512 px, 500 steps (Adam)", engine="style", size=512, steps=500, optimizer="adam", scales=[512], ratio=True),
        dict(name="style 512 px, 500 steps (L-BFGS, default)", engine="style", size=512, steps=500, optimizer="lbfgs", scales=[512], ours_only=True),
        dict(name="dream 1024 px, 4 octaves x 10 steps", engine="dream", size=1024, steps=10, octaves=4, ratio=True),
        dict(name="memory: style 512 px", engine="style", size=512, steps=5, optimizer="lbfgs", ratio=True),
        dict(name="memory: style 1024 px", engine="style", size=1024, steps=5, optimizer="lbfgs", ratio=True),
        dict(name="memory: style 2048 px", engine="style", size=2048, steps=5, optimizer="lbfgs", ratio=True),
        dict(name="visualize 64 channels x 512 steps, 224 px", engine="visualize", size=224, steps=512, channels=64, layer="relu4_1", ratio=True),
    ],
    # A smoke run for tests and for checking the harness itself.
    "quick": [
        dict(name="style 64 px, 3 steps (Adam)", engine="style", size=64, steps=3, optimizer="adam", scales=[64], ratio=True, warmup=1),
    ],
}

# Dense tensor-core peak (TFLOP/s) by precision, from the vendors' datasheets. Naive fp32 convs
# run as TF32 on these GPUs (PyTorch's default for cuDNN), so fp32 is charged at the TF32 peak.
PEAKS = {
    "H100 PCIe": {"bf16": 756, "fp16": 756, "fp32": 378},
    "H100": {"bf16": 989, "fp16": 989, "fp32": 494},
    "H200": {"bf16": 989, "fp16": 989, "fp32": 494},
    "A100": {"bf16": 312, "fp16": 312, "fp32": 156},
}


def peak_tflops(device_name: str, precision: str) -> float | None:
    for key, table in PEAKS.items():  # most specific names first
        if key in device_name:
            return table.get(precision)
    return None


def random_vgg19(path: Path) -> None:
    import torchvision

    torch.manual_seed(0)
    torch.save(torchvision.models.vgg19().state_dict(), path)


class CaseFailed(Exception):
    pass


def run_worker(case: dict) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.worker", json.dumps(case)], cwd=HERE.parent,
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        raise CaseFailed(f"bench case {case['name']} ({case['impl']}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def quality_text(r: dict) -> str:
    (key, value), = r["quality"].items()
    return f"{key.replace('_', ' ')} {value:.4g}"


def table(rows: list[dict]) -> str:
    lines = [
        "| case | impl | precision | s/step | run s | GFLOP/s | % of peak | peak mem MB | quality | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        frac = f"{100 * r['peak_fraction']:.1f}" if r.get("peak_fraction") is not None else "–"
        speed = f"**{r['speedup']:.2f}x**" if r.get("speedup") else ""
        lines.append(
            f"| {r['name']} | {r['impl']} | {r['precision']} | {r['seconds_per_step']:.4f} | {r['seconds']:.2f} | "
            f"{1e3 * r['tflops']:.0f} | {frac} | {r['peak_memory_mb']:.0f} | {quality_text(r)} | {speed} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default: auto)")
    ap.add_argument("--profile", choices=[*PROFILES, "auto"], default="auto", help="settings to run (auto: gpu on CUDA, else cpu)")
    ap.add_argument("--only", default="", help="comma-separated words; run only cases whose name contains one")
    ap.add_argument("--precision", default="auto", help="dreamstyle's --precision for its side (the baseline is always fp32)")
    ap.add_argument("--steps", type=int, help="override every case's steps (a quicker, rougher run)")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="folder for the JSON results")
    args = ap.parse_args(argv)

    from dreamstyle.models.runtime import resolve_device

    device = resolve_device(args.device)
    profile = args.profile if args.profile != "auto" else ("gpu" if device.type == "cuda" else "cpu")
    cases = [c for c in PROFILES[profile] if not args.only or any(w in c["name"] for w in args.only.split(","))]
    rows: list[dict] = []
    failed: list[dict] = []
    out = None

    def save() -> Path:
        """The results so far, rewritten after every case: a run stopped part-way (a time limit on a
        lent GPU) still leaves the cases it finished."""
        if rows:
            device_name = rows[0]["device_name"]
        else:  # only failures so far: name the device as a worker would
            from bench.worker import _cpu_name

            device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
        args.out.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", f"{device.type}-{device_name}".lower()).strip("-")
        path = args.out / f"{slug}-{datetime.date.today().isoformat()}{'-' + profile if profile != 'cpu' and profile != 'gpu' else ''}.json"
        doc = {"device": device_name, "profile": profile, "torch": torch.__version__, "cuda": torch.version.cuda,
               "cases_run": len({r["name"] for r in rows}), "cases_in_profile": len(cases), "rows": rows, "failed": failed}  # fmt: skip
        path.write_text(json.dumps(doc, indent=1))
        return path

    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "vgg19-random.pth"
        random_vgg19(weights)
        for case in cases:
            base = {**case, "device": str(device), "weights": str(weights), "precision": args.precision}
            if args.steps:
                base["steps"] = args.steps
            try:
                ours = run_worker({**base, "impl": "dreamstyle"})
                new = [ours]
                if not case.get("ours_only"):
                    ref = run_worker({**base, "impl": "naive"})
                    ours["speedup"] = ref["seconds"] / ours["seconds"]
                    new = [ref, ours]
            except CaseFailed as exc:  # the other cases still run: a lent GPU's time is not to be lost
                print(exc, file=sys.stderr, flush=True)
                failed.append({"name": case["name"], "error": str(exc)[-3000:]})
                out = save()
                continue
            for r in new:
                peak = peak_tflops(r["device_name"], r["precision"])
                if peak is None and device.type == "cpu":  # the formula in bench/peak.py
                    from .peak import cpu_peak_tflops

                    peak = cpu_peak_tflops(r["precision"])
                r["peak_fraction"] = r["tflops"] / peak if peak else None
                r.pop("weights", None)
            rows.extend(new)
            out = save()
            print(f"  {case['name']}: {ours['seconds']:.2f} s" + (f", {ours['speedup']:.2f}x the baseline" if "speedup" in ours else ""),
                  file=sys.stderr, flush=True)  # fmt: skip

    device_name = rows[0]["device_name"] if rows else str(device)
    print(f"\n**{device_name}** ({device.type}, torch {torch.__version__}, {os.cpu_count()} CPU threads visible), profile `{profile}`\n")
    print(table(rows))
    if out is not None:
        print(f"\nwrote {out}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} case(s) failed: {', '.join(f['name'] for f in failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
