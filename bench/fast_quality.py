"""`python -m bench.fast_quality ART`: how good a trained network's pictures are, against training
iterations, beside the optimisation path's picture of the same photo at the same size.

1. Trains one network with `dreamstyle train`'s defaults (lite0, small network, 256 px crops,
   batch 4), in this process, for `--iterations` (no minute limit, so a loaded machine trains as
   far as an idle one; the seconds per iteration measured on this machine turn iterations into
   minutes). After the iterations in `--marks` it keeps a copy of the network as it stood.
2. Paints each held-out photo (`--held-out`, photos it never trained on) with each copy, and
   runs the optimisation path's defaults (`stylize(photo, ART, model=lite0, size=…)`) once.
3. Judges every picture with bench.timeto's `Evaluator` (style and content distance at lite0
   layers neither side optimises, the border left out): the issue's target is a network within
   1.25x of the optimisation path on both.

Writes bench/results/fast-quality-CPU-DATE.json, the side-by-side sheet (`--sheet`: photo,
optimisation, network after each mark) and the curve (`--plot`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch

from .timeto import MODEL, Evaluator, _net, load_images
from .worker import _cpu_name, result_path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "images"


def train_with_copies(art: list[Path], photos: Path | None, iterations: int, marks: list[int], keep: Path, size: int,
                      style_weight: float | None, temporal_weight: float | None = None) -> tuple[dict[int, Path], float]:  # fmt: skip
    """Train, keeping NAME-<iterations>.pt after each mark; returns the copies and seconds per iteration."""
    import dreamstyle
    import dreamstyle.engines.fast_train as fast_train
    from dreamstyle.core.job import Job
    from dreamstyle.core.settings_fast import TrainSettings
    from dreamstyle.events import Step
    from dreamstyle.media.network_file import load_network

    fast_train.CHECKPOINT_S = 0  # the engine hands over its network after every iteration
    out = keep / "net.pt"
    partial = keep / "net.partial.pt"
    copies: dict[int, Path] = {}
    times: list[float] = []

    def watch(e) -> None:
        if isinstance(e, Step) and e.level == 0:
            times.append(time.perf_counter())
            done = e.step - 1  # the checkpoint on disk was written after the previous iteration
            if done in marks and partial.exists():
                copies[done] = shutil.copy(partial, keep / f"net-{done}.pt")

    extra = {k: v for k, v in (("style_weight", style_weight), ("temporal_weight", temporal_weight)) if v is not None}
    settings = TrainSettings(model=MODEL, iterations=iterations, minutes=None, size=size, quiet=True, seed=0, **extra)
    inputs = {"styles": [str(a) for a in art], "photos": str(photos) if photos else None}
    dreamstyle.run(Job("train", inputs, settings, output=str(out)), on_event=watch)
    copies[iterations] = out
    assert all(load_network(p).iterations == k for k, p in copies.items())
    per_it = (times[-1] - times[0]) / max(1, len(times) - 1)
    return dict(sorted(copies.items())), per_it


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(prog="python -m bench.fast_quality", description=__doc__.split("\n")[0])
    ap.add_argument("art", type=Path, nargs="+")
    ap.add_argument("--photos", type=Path, default=None, help="training photos (default: the bundled samples)")
    ap.add_argument("--held-out", type=Path, nargs="*", default=None, help="photos to judge on (default: ../shared/images/tubingen.jpg)")
    ap.add_argument("--iterations", type=int, default=1100, help="about 15 minutes of an idle 2-core EPYC")
    ap.add_argument("--marks", default="50,100,200,400,700")
    ap.add_argument("--size", type=int, default=384, help="size of the judged pictures")
    ap.add_argument("--train-size", type=int, default=256)
    ap.add_argument("--style-weight", type=float, default=None)
    ap.add_argument("--temporal-weight", type=float, default=None)
    ap.add_argument("--sheet", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--tag", default="")
    ap.add_argument("--seconds-per-iteration", type=float, default=None,
                    help="turn iterations into minutes with this (measured on the idle machine) instead of this run's own rate")
    args = ap.parse_args(argv)

    from dreamstyle import stylize
    from dreamstyle.core.settings_fast import FastSettings
    from dreamstyle.engines.fast_paint import paint
    from dreamstyle.core.context import Context
    from dreamstyle.events import Reporter
    from dreamstyle.media.images import to_pil, to_tensor, load_image, resize_longest

    held = args.held_out or [SHARED / "tubingen.jpg"]
    marks = [int(m) for m in args.marks.split(",") if m]
    keep = Path(tempfile.mkdtemp(prefix="fastq-"))
    copies, per_it = train_with_copies(args.art, args.photos, args.iterations, marks, keep, args.train_size, args.style_weight, args.temporal_weight)
    print(f"trained {args.iterations} iterations, {per_it:.2f} s each; copies in {keep}", flush=True)
    per_it = args.seconds_per_iteration or per_it

    bb = _net()
    ctx = Context(None, torch.device("cpu"), torch.float32, Reporter())
    rows, sheet_rows = [], []
    for photo in held:
        content_t, style_t = load_images(photo, args.art[0], args.size)
        judge = Evaluator(bb, content_t, style_t)
        t = time.perf_counter()
        optimised = stylize(str(photo), str(args.art[0]), model=MODEL, size=args.size, quiet=True, seed=0)
        opt_s = time.perf_counter() - t
        opt = judge(to_tensor(optimised.convert("RGB")))
        row = {"photo": photo.name, "optimisation": {**opt, "seconds": opt_s}, "network": {}}
        cells = [to_pil(content_t), optimised.convert("RGB")]
        for k, path in copies.items():
            x = to_tensor(resize_longest(load_image(photo).rgb, args.size))
            y = paint(x, FastSettings(net=str(path)), ctx)
            row["network"][k] = {**judge(y), "minutes": k * per_it / 60}
            cells.append(to_pil(y))
        rows.append(row)
        sheet_rows.append(cells)
        last = row["network"][args.iterations]
        print(f"{photo.name}: optimisation style {opt['style']:.3f} content {opt['content']:.3f}; "
              f"network style {last['style']:.3f} ({last['style'] / opt['style']:.2f}x) content {last['content']:.3f} "
              f"({last['content'] / opt['content']:.2f}x)", flush=True)  # fmt: skip

    cpu = _cpu_name()
    doc = {"cpu": cpu, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
           "torch": torch.__version__, "art": [a.name for a in args.art], "photos": str(args.photos or "samples"),
           "train_size": args.train_size, "size": args.size, "seconds_per_iteration": per_it,
           "style_weight": args.style_weight, "temporal_weight": args.temporal_weight, "rows": rows}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = result_path(args.out, "fast-quality" + (f"-{args.tag}" if args.tag else ""), cpu, f"{args.size}px")
    path.write_text(json.dumps(doc, indent=1))
    print(f"wrote {path}")
    if args.sheet:
        from dreamstyle.engines.visualize import contact_sheet

        labels = ["photo", "optimisation"] + [f"network, {k} it" for k in copies]
        cells = [c for r in sheet_rows for c in r]
        contact_sheet(cells, labels * len(sheet_rows), cols=len(labels), title=f"{args.art[0].stem}: held-out photos").save(args.sheet)
        print(f"wrote {args.sheet}")
    if args.plot:
        plot(doc, args.plot)
        print(f"wrote {args.plot}")
    return path


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for r in doc["rows"]:
        pts = sorted(r["network"].items(), key=lambda kv: int(kv[0]))
        for ax, key in zip(axes, ("style", "content")):
            ax.plot([p["minutes"] for _, p in pts], [p[key] for _, p in pts], marker="o", label=f"network, {r['photo']}")
            ax.axhline(r["optimisation"][key], ls="--", color="grey", label="optimisation path")
            ax.axhline(1.25 * r["optimisation"][key], ls=":", color="grey", label="1.25x of it")
    for ax, key in zip(axes, ("style distance", "content distance")):
        ax.set_xlabel("training minutes (idle machine)")
        ax.set_ylabel(key + " (lower is better)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
