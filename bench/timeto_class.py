"""`python -m bench.timeto_class`: time to a finished class visualisation, dreamstyle against a naive loop.

The class side of bench.timeto. Quality here is what the issue names: the classifier's confidence,
the softmax probability lite0 gives the class on the saved 8-bit picture (the classifier is the
network being optimised: for a class image that is the point, and no other ImageNet classifier can
be loaded offline).

1. dreamstyle: `dreamstyle visualize class CLASS --model efficientnet-lite0` as the Job the CLI
   builds, with the defaults (or `--steps N`), in a fresh process timed from start to end.
2. Its PNG is scored here, outside any timed process.
3. The naive loop (bench/naive.py's `visualize`: sigmoid pixels, random roll jitter, Adam lr 0.05,
   fp32, maximising the class logit) in its own fresh process checks the confidence every 10 steps
   and stops once it is at least dreamstyle's, or at `--ceiling` steps; the checks' own time is
   subtracted, as in bench.timeto.

With `--compare-steps N` a third process runs dreamstyle with `--steps N` (N=256 is the fixed
default before `auto`), so "defaults against the old fixed budget" is measured in the same run.
Prints a markdown table; writes bench/results/timeto-class-<cpu>-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from .naive import ascent_steps
from .timeto import MODEL, _net, _run_worker, quantised
from .worker import _cpu_name, result_path

HERE = Path(__file__).resolve().parent
CHECK_EVERY = 10


def confidence(bb, image: torch.Tensor, index: int) -> float:
    from dreamstyle.models.backbones import LOGITS

    with torch.no_grad():
        return float(bb(quantised(image), [LOGITS])[LOGITS].float().softmax(-1)[0, index])


def worker_ours(case: dict) -> dict:
    from dreamstyle import run
    from dreamstyle.core.job import Job
    from dreamstyle.core.settings import VisualizeSettings

    steps = case["steps"]
    extra = {"size": case["size"]} if case.get("size") else {}
    if steps != "default":
        extra["steps"] = steps if steps == "auto" else int(steps)
    s = VisualizeSettings(model=MODEL, quiet=True, **extra)
    result = run(Job("visualize.class", {"classes": [case["class"]]}, s, output=case["output"]))
    taken = result.images[0].info["dreamstyle"]["ran"].get("steps_taken")
    return {"steps": s.steps, "steps_taken": taken}


def worker_naive(case: dict) -> dict:
    from PIL import Image

    from dreamstyle.models.backbones import LOGITS
    from dreamstyle.engines.visualize import class_index

    bb = _net()
    index = class_index(case["class"])
    gen = torch.Generator().manual_seed(0)
    check_seconds, conf = 0.0, 0.0
    for step, raw in ascent_steps(lambda x: bb(x, [LOGITS])[LOGITS][0, index], case["size"], lr=0.05, jitter=8, generator=gen):
        if step and step % CHECK_EVERY == 0:
            t0 = time.perf_counter()
            conf = confidence(bb, torch.sigmoid(raw.detach()), index)
            check_seconds += time.perf_counter() - t0
            if conf >= case["target"]:
                break
        if step >= case["ceiling"]:
            break
    arr = (quantised(torch.sigmoid(raw.detach()))[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    Image.fromarray(arr).save(case["output"])
    return {"steps": step, "reached": conf >= case["target"], "eval_seconds": check_seconds}


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(prog="python -m bench.timeto_class", description=__doc__.split("\n")[0])
    ap.add_argument("--classes", default="goldfish,volcano", help="comma-separated ImageNet classes, one run each")
    ap.add_argument("--steps", default="default", help="dreamstyle's --steps: default (its defaults), auto or a number")
    ap.add_argument("--compare-steps", default="256", help="also time dreamstyle with this fixed --steps ('' to skip)")
    ap.add_argument("--size", type=int, default=None, help="picture size for both sides (default: dreamstyle's, 224)")
    ap.add_argument("--ceiling", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)

    from dreamstyle.media.images import load_image, to_tensor
    from dreamstyle.engines.visualize import class_index

    bb = _net()
    runs = []
    for cls in [c.strip() for c in args.classes.split(",") if c.strip()]:
        index = class_index(cls)
        with tempfile.TemporaryDirectory() as tmp:
            def ours(steps: str) -> dict:
                info, seconds = _run_worker("ours", {"class": cls, "steps": steps, "size": args.size, "output": f"{tmp}/ours-{steps}.png"}, module="bench.timeto_class")
                conf = confidence(bb, to_tensor(load_image(f"{tmp}/ours-{steps}.png").rgb), index)
                return {"side": "dreamstyle", "steps": info["steps"], "steps_taken": info["steps_taken"], "seconds": seconds, "confidence": conf}

            rows = [ours(args.steps)]
            if args.compare_steps:
                rows.append(ours(args.compare_steps))
            naive, naive_s = _run_worker("naive", {"class": cls, "size": args.size or 224, "ceiling": args.ceiling,
                                                   "target": rows[0]["confidence"], "output": f"{tmp}/naive.png"},
                                         module="bench.timeto_class")  # fmt: skip
            naive_conf = confidence(bb, to_tensor(load_image(f"{tmp}/naive.png").rgb), index)
            rows.append({"side": "naive fp32 Adam", "steps": naive["steps"], "reached": naive["reached"],
                         "seconds": naive_s - naive["eval_seconds"], "eval_seconds": naive["eval_seconds"], "confidence": naive_conf})  # fmt: skip
        runs.append({"class": cls, "rows": rows})

    cpu = _cpu_name()
    print(f"\n**{cpu}** (torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads), visualize class, {MODEL}\n")  # fmt: skip
    print("| class | side | steps | steps taken | seconds | confidence |")
    print("|---|---|---:|---:|---:|---:|")
    for r in runs:
        for row in r["rows"]:
            steps = str(row["steps"]) + ("" if row.get("reached", True) else " (did not reach)")
            print(f"| {r['class']} | {row['side']} | {steps} | {row.get('steps_taken') or ''} | {row['seconds']:.1f} | {row['confidence']:.4f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    path = result_path(args.out, "timeto-class", cpu)
    path.write_text(json.dumps({"cpu": cpu, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                                "threads": torch.get_num_threads(), "torch": torch.__version__, "model": MODEL,
                                "runs": runs}, indent=1))  # fmt: skip
    print(f"\nwrote {path}")
    return path


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        side, case = sys.argv[2], json.loads(sys.argv[3])
        print(json.dumps((worker_ours if side == "ours" else worker_naive)(case)))
    else:
        main()
