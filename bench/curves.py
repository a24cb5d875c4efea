"""`python -m bench.curves`: quality against seconds for each way of spending a style run's steps.

Issue 13 asks that the ladder, the per-scale budgets, the optimiser and its step size be chosen
from measured time-to-quality curves, not from habit. This runs each choice in one process, one
after another on the same loaded lite0, with a fixed number of steps per scale (no early stop),
and every `--every` steps scores the picture as it stands with bench.timeto's `Evaluator` (style
and content distance at layers no side optimises). The evaluator's own time is not counted, so a
point's seconds are what the engine had spent to reach that picture (targets, optimiser, render).
One more curve is what a user gets: the defaults with `--steps auto`, ending where it stopped.

Writes bench/results/curves-<cpu>-<date>.json and, with `--plot FILE`, the two panels
(style distance and content distance against seconds) that docs/performance.md shows.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from .timeto import LR, MODEL, Evaluator, _net, load_images, naive_steps
from .worker import _cpu_name, result_path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# name -> StyleSettings overrides (steps are per scale). Each is one way to spend the budget.
# "full": one scale at the final size; "half": half the size first. init "content" starts from
# the photo as it is, "palette" from the photo recoloured in the painting's colours.
CHOICES = {
    "L-BFGS, 1 scale, content init": {"optimizer": "lbfgs", "scales": "full", "init": "content"},
    "L-BFGS, 2 scales (half, full), content init": {"optimizer": "lbfgs", "scales": "half", "init": "content"},
    "L-BFGS, 1 scale, palette init": {"optimizer": "lbfgs", "scales": "full", "init": "palette"},
    "L-BFGS, 2 scales (half, full), palette init": {"optimizer": "lbfgs", "scales": "half", "init": "palette"},
    "Adam lr 0.02, 1 scale, palette init": {"optimizer": "adam", "lr": 0.02, "scales": "full", "init": "palette"},
    "Adam lr 0.05, 1 scale, palette init": {"optimizer": "adam", "lr": 0.05, "scales": "full", "init": "palette"},
    # What a user gets: the defaults, stopped by --steps auto (its curve ends where it stopped).
    "defaults (--steps auto)": {"steps": "auto"},
}


class Clock:
    """Seconds spent by the engine only: paused while the evaluator scores a picture."""

    def __init__(self):
        self.start, self.paused = time.perf_counter(), 0.0

    def now(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def pause(self):
        return _Pause(self)


class _Pause:
    def __init__(self, clock):
        self.clock = clock

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        self.clock.paused += time.perf_counter() - self.t0


def curve_ours(bb, judge: Evaluator, content: Path, style: Path, size: int, steps: int, every: int, overrides: dict) -> list[dict]:
    from dreamstyle import StyleSettings, stylize
    from dreamstyle.events import ItemDone, Step
    from dreamstyle.media.images import to_tensor

    o = dict(overrides)
    if "scales" in o:
        o["scales"] = {"half": [size // 2, size], "full": [size]}[o["scales"]]
    o.setdefault("steps", steps)
    points: list[dict] = []
    last = {"scale": 0}
    clock = Clock()

    def listen(event):
        if isinstance(event, ItemDone) and event.kind == "scale":
            last["scale"] += 1
        if isinstance(event, Step) and event.level == 0 and event.step % every == 0:
            seconds = clock.now()  # read before the pause: scoring must not count
            with clock.pause():
                x = to_tensor(event.picture().convert("RGB"))
                score = judge(x)
                points.append({"step": event.step, "scale": last["scale"], "seconds": seconds, **score})

    s = StyleSettings(model=MODEL, size=size, seed=0, quiet=True, **o)
    clock.start = time.perf_counter()
    stylize(content, style, s, backbone=bb, on_event=listen)
    return points


def curve_naive(bb, judge: Evaluator, content_t, style_t, steps: int, every: int, lr: float = LR) -> list[dict]:
    points = []
    clock = Clock()
    for step, image in naive_steps(bb, content_t, style_t, lr):
        if step % every == 0:
            seconds = clock.now()
            with clock.pause():
                points.append({"step": step, "seconds": seconds, **judge(image.detach())})
        if step >= steps:
            break
    return points


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, run in doc["curves"].items():
        xs = [p["seconds"] for p in run["points"]]
        style = "--" if name.startswith("naive") else "-"
        width = 3 if name.startswith("defaults") else 1.4
        for ax, key in zip(axes, ("style", "content")):
            (line,) = ax.plot(xs, [p[key] for p in run["points"]], style, label=name, linewidth=width)
            if name.startswith("defaults"):  # where --steps auto stopped
                ax.plot(xs[-1:], [run["points"][-1][key]], "o", color=line.get_color(), markersize=8)
    # A coarse scale is scored at its own size, which the painting's Grams at the final size do not
    # fit (0.7-0.9): the panel shows the range where the finished pictures differ.
    finals = [run["points"][-1]["style"] for run in doc["curves"].values()]
    axes[0].set_ylim(0.9 * min(finals), 2.5 * min(finals))
    axes[0].set_ylabel("style distance (lower: closer to the painting)")
    axes[1].set_ylabel("content distance (lower: closer to the photo)")
    for ax in axes:
        ax.set_xlabel("seconds (engine only, evaluator excluded)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Style at {doc['size']} px, {doc['model']}, {doc['content']} x {doc['style']}: quality against time "
                 f"({doc['cpu']}, {doc['threads']} thread(s)); dot: where the defaults stopped", fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(prog="python -m bench.curves", description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--content", type=Path, default=ROOT / "samples" / "cat.jpg")
    ap.add_argument("--style", type=Path, default=ROOT / "samples" / "swirls.jpg")
    ap.add_argument("--steps", type=int, default=300, help="steps per scale for each choice (default 300)")
    ap.add_argument("--naive-steps", type=int, default=600)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--only", default="", help="';'-separated parts of choice names to run, 'naive' for the loop (default: all)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--plot", type=Path, default=None)
    args = ap.parse_args(argv)

    bb = _net()
    content_t, style_t = load_images(args.content, args.style, args.size)
    judge = Evaluator(bb, content_t, style_t)
    curves = {}
    wanted = [c.strip() for c in args.only.split(";") if c.strip()] or [*CHOICES, "naive"]
    for name, o in CHOICES.items():
        if not any(w in name for w in wanted):
            continue
        points = curve_ours(bb, judge, args.content, args.style, args.size, args.steps, args.every, o)
        curves[name] = {"settings": o, "points": points}
        last = points[-1]
        print(f"{name}: {last['seconds']:.1f} s for {last['step']} steps, style {last['style']:.4f}, content {last['content']:.4f}", flush=True)
    if "naive" in wanted:
        points = curve_naive(bb, judge, content_t, style_t, args.naive_steps, args.every)
        curves[f"naive fp32 Adam lr {LR}"] = {"points": points}
        print(f"naive: {points[-1]['seconds']:.1f} s for {points[-1]['step']} steps, style {points[-1]['style']:.4f}", flush=True)

    cpu = _cpu_name()
    doc = {"cpu": cpu, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
           "torch": torch.__version__, "size": args.size, "model": MODEL, "content": args.content.name,
           "style": args.style.name, "curves": curves}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = result_path(args.out, "curves", cpu, f"{args.size}px")
    path.write_text(json.dumps(doc, indent=1))
    print(f"wrote {path}")
    if args.plot:
        plot(doc, args.plot)
        print(f"wrote {args.plot}")
    return path


if __name__ == "__main__":
    main()
