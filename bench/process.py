"""`python -m bench.process`: whole processes, dreamstyle's command line against a plain loop's script.

`python -m bench` times steps inside one warm process; a user waits for a whole process: Python
starting, imports, the weights file read (and hashed, for the output's record), the images, the
targets, the steps, the PNG written. Here each side is a fresh process timed from outside, the
two sides alternating, each `--repeats` times (the best counts: a shared machine only ever adds
time). The plain side is bench/plain.py; dreamstyle's is its CLI with the same settings (VGG19
with random weights through `--weights`, the photo as the start, one scale, Adam), at
`--precision fp32` and at its automatic precision. One more dreamstyle run under cProfile gives
the per-phase breakdown. Both pictures are judged by bench/worker.py's fp32 evaluator.

    python -m bench.process                      # style 256 px, 100 Adam steps (issue 29's case)
    python -m bench.process --only dream,visualize --repeats 1

Prints markdown tables; writes bench/results/process-<cpu>-<date>.json.
"""

from __future__ import annotations

import argparse
import cProfile  # noqa: F401  (run in the child as `-m cProfile`)
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from .worker import _cpu_name, result_path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CASES = {
    "style": dict(size=256, steps=100, args=["style", "samples/cat.jpg", "samples/swirls.jpg", "--scales", "{size}",
                                              "--optimizer", "adam", "--init", "content", "--style-layers",
                                              "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1", "--content-layers", "relu4_2"]),
    "dream": dict(size=384, steps=10, args=["dream", "samples/cat.jpg", "--octaves", "3", "--layers", "relu4_4", "--smooth", "0"]),
    "visualize": dict(size=128, steps=64, args=["visualize", "channels", "--layer", "relu4_1", "--channels", "0-7"]),
    # The bundled backbone, whose depthwise convolutions have no fast bf16 path on most CPUs: fp32
    # against bf16 (no plain loop: bench/naive.py is VGG's), judged by bench/timeto.py's evaluator.
    "lite0": dict(size=256, steps=100, model="efficientnet-lite0", precisions=["fp32", "bf16", None],
                  args=["style", "samples/cat.jpg", "samples/swirls.jpg", "--scales", "{size}", "--optimizer", "adam", "--init", "content"]),
}
# Where each phase of a dreamstyle run is, as cProfile names it: (file suffix, function).
PHASES = {
    "weights (read, build)": ("models/backbones.py", "load_backbone"),
    "weights digest (record)": ("media/provenance.py", "weights_identity"),
    "targets": ("engines/style.py", "_objectives"),
    "steps": ("optim/loop.py", "optimise"),
    "save": ("media/images.py", "save_image"),
}


def dreamstyle_command(case: str, weights: Path, out: Path, precision: str | None) -> list[str]:
    c = CASES[case]
    args = [a.format(size=c["size"]) for a in c["args"]]
    model = ["--model", c["model"]] if "model" in c else ["--model", "vgg19", "--weights", str(weights)]
    cmd = [*args, *model, "--size", str(c["size"]), "--steps", str(c["steps"]), "--seed", "0", "-o", str(out), "-f", "-q"]
    return cmd + (["--precision", precision] if precision else [])


def entry() -> list[str]:
    """The `dreamstyle` command as a user runs it (the console script beside this Python)."""
    script = Path(sys.executable).with_name("dreamstyle")
    return [str(script)] if script.exists() else [shutil.which("dreamstyle") or "dreamstyle"]


def timed(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def breakdown(case: str, weights: Path, out: Path, precision: str | None) -> dict[str, float]:
    """The phases of one more dreamstyle run, under cProfile (its overhead is small against the
    convolutions' time), and that run's whole time."""
    prof = out.with_suffix(".prof")
    total, _ = timed([sys.executable, "-m", "cProfile", "-o", str(prof), *entry(), *dreamstyle_command(case, weights, out, precision)])
    stats = pstats.Stats(str(prof)).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    found = {}
    for phase, (suffix, name) in PHASES.items():
        found[phase] = sum(v[3] for (f, _, n), v in stats.items() if n == name and f.endswith(suffix)
                           and not any(cf.endswith(suffix) and cn == name for (cf, _, cn) in v[4]))  # fmt: skip
    found["imports, start-up and the rest"] = max(0.0, total - sum(found.values()))
    found["total (this run)"] = total
    # Remembered after a file's first run (media/digests.py): what that first run pays.
    import hashlib

    t = time.perf_counter()
    with open(weights, "rb") as f:
        hashlib.file_digest(f, "sha256")
    found["digest of a new weights file (its first run only)"] = time.perf_counter() - t
    return {k: round(v, 3) for k, v in found.items()}


def quality(case: str, weights: Path, picture: Path) -> float | None:
    """bench/worker.py's evaluator for style (the engine's loss on the 8-bit picture)."""
    if case not in ("style", "lite0"):
        return None
    from dreamstyle.media.images import load_image, to_tensor

    from .worker import _images, _style_quality

    content, style = _images(CASES[case]["size"], torch.device("cpu"))
    image = to_tensor(load_image(picture).rgb)
    if case == "lite0":
        from .timeto import Evaluator, _net

        scores = Evaluator(_net(), content, style)(image)
        return f"style {scores['style']:.4f} / content {scores['content']:.4f}"
    return f"final loss {_style_quality(torch.load(weights, weights_only=True), content, style, image, torch.device('cpu')):.4f}"


def run_case(case: str, weights: Path, tmp: Path, repeats: int) -> dict:
    c = CASES[case]
    sides = {} if "model" in c else {
        "plain loop (fp32)": lambda out: [sys.executable, "-m", "bench.plain", case, str(weights), str(out), str(c["size"]), str(c["steps"])]}
    for precision in c.get("precisions", ["fp32", None]):
        name = f"dreamstyle --precision {precision}" if precision else "dreamstyle (automatic precision)"
        sides[name] = lambda out, p=precision: [*entry(), *dreamstyle_command(case, weights, out, p)]
    seconds: dict[str, list[float]] = {k: [] for k in sides}
    plain_phases = None
    for r in range(repeats):
        for i, (name, cmd) in enumerate(sides.items() if r % 2 == 0 else reversed(sides.items())):
            out = tmp / f"{case}-{list(sides).index(name)}.png"
            s, stdout = timed(cmd(out))
            seconds[name].append(s)
            if name.startswith("plain"):
                plain_phases = json.loads(stdout.strip().splitlines()[-1])
    best = {k: min(v) for k, v in seconds.items()}
    base = best[next(iter(sides))]  # the plain loop, or lite0's fp32
    rows = [dict(side=k, seconds=round(best[k], 2), runs=[round(x, 2) for x in seconds[k]], vs_first=round(base / best[k], 3),
                 quality=quality(case, weights, tmp / f"{case}-{i}.png")) for i, k in enumerate(sides)]  # fmt: skip
    phases = {"plain loop (fp32)": {k: round(v, 3) for k, v in plain_phases.items() if k != "total"}} if plain_phases else {}
    phases["dreamstyle --precision fp32"] = breakdown(case, weights, tmp / f"{case}-prof.png", "fp32")
    return dict(case=case, size=c["size"], steps=c["steps"], rows=rows, phases=phases)


def table(result: dict) -> str:
    lines = [f"**{result['case']}**, {result['size']} px, {result['steps']} steps, whole process (best of the runs)", "",
             f"| side | seconds | runs | × {result['rows'][0]['side']} | quality |", "|---|---:|---|---:|---|"]  # fmt: skip
    for r in result["rows"]:
        lines.append(f"| {r['side']} | {r['seconds']} | {', '.join(map(str, r['runs']))} | {r['vs_first']:.2f}× | {r['quality'] or ''} |")
    lines += ["", "| phase | " + " | ".join(result["phases"]) + " |", "|---|" + "---:|" * len(result["phases"])]
    names = dict.fromkeys(k for p in result["phases"].values() for k in p)
    for n in names:
        lines.append(f"| {n} | " + " | ".join(f"{p.get(n, '')}" for p in result["phases"].values()) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.process", description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="style", help="comma-separated cases: style, dream, visualize, lite0 (default: style)")
    ap.add_argument("--repeats", type=int, default=2, help="runs of each side, alternating (default: 2)")
    ap.add_argument("--steps", type=int, help="override every case's steps (a smoke run)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    from .__main__ import random_vgg19

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "vgg19-random.pth"
        random_vgg19(weights)
        if args.steps:
            for c in CASES.values():
                c["steps"] = args.steps
        for case in args.only.split(","):
            results.append(run_case(case.strip(), weights, Path(tmp), args.repeats))
            print(table(results[-1]) + "\n", flush=True)
    doc = {"cpu": _cpu_name(), "capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
           "torch": torch.__version__, "cores": os.cpu_count(), "results": results}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = result_path(args.out, "process", doc["cpu"])
    path.write_text(json.dumps(doc, indent=1))
    print(f"{doc['cpu']} ({doc['capability']}, {doc['threads']} threads): wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
