"""`python -m bench.video`: how true a styled clip stays to its own frames, and how steady it is,
on real footage (issue 25): the measures the video path is judged by when the motion is unknown.

    python -m bench.video                                   # tests/fixtures/walk-cut.mp4, none/blend/flow
    python -m bench.video --clip my.mp4 --style starry.jpg --size 256 --weights 0,10,50,200 \
        --sheet docs/video-footage.jpg --plot docs/video-balance.png

Each mode runs through `dreamstyle.stylize_frames` on the clip's path, as the CLI does (shot
changes found by the same rule, `--cuts auto`), one efficientnet-lite0 backbone for all.
`--weights` adds one flow run a temporal weight (the curve of structure kept against steadiness).

- structure kept: the Pearson correlation between the edges (Sobel gradient magnitude of the
  luminance) of an output frame and of its source frame at the output's size. Independent frames
  (`--temporal none`) set the bar: a temporal mode should keep ≥ 0.9x of their structure, over the
  whole clip, over the second half of each shot (drift) and in the frames just after a cut (a new
  shot must start clean).
- occlusion-aware warping error (Lai et al. 2018): as `flow.warping_error`, with the flow and its
  reliable pixels measured by DIS on the *source* frames (`flow.measured`), and no pair across a
  shot change counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

# Frames after a cut that count as "after the cut".
AFTER_CUT = 6


def edges(img: Image.Image, size: tuple[int, int] | None = None) -> np.ndarray:
    import cv2

    g = img.convert("L")
    if size is not None and g.size != size:
        g = g.resize(size, Image.LANCZOS)
    a = np.asarray(g, dtype=np.float32) / 255
    gx = cv2.Sobel(a, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(a, cv2.CV_32F, 0, 1, ksize=3)
    return np.sqrt(gx * gx + gy * gy)


def structure(out: Image.Image, src: Image.Image) -> float:
    """Edge correlation of `out` with its source frame `src` (1: the same edges)."""
    e, s = edges(out), edges(src, out.size)
    e, s = e - e.mean(), s - s.mean()
    return float((e * s).sum() / max(np.sqrt((e * e).sum() * (s * s).sum()), 1e-12))


def shots(count: int, cuts: Sequence[int]) -> list[range]:
    bounds = [0, *sorted(c for c in cuts if 0 < c < count), count]
    return [range(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def structure_report(outs: Sequence[Image.Image], srcs: Sequence[Image.Image], cuts: Sequence[int]) -> dict[str, float]:
    """Mean structure kept over the whole clip, over the second halves of its shots and over the
    first AFTER_CUT frames after each cut; and per frame."""
    per = [structure(o, s) for o, s in zip(outs, srcs)]
    parts = shots(len(per), cuts)
    second = [t for r in parts for t in r[len(r) // 2:]]
    after = [t for c in cuts for t in range(c, min(c + AFTER_CUT, len(per)))]
    mean = lambda ts: float(np.mean([per[t] for t in ts])) if ts else float("nan")  # noqa: E731
    return {"whole": mean(range(len(per))), "second_half": mean(second), "after_cut": mean(after), "per_frame": per}


def source_flows(srcs: Sequence[Image.Image], size: tuple[int, int]):
    """DIS flow(t, t+1) and its reliable pixels, on the source frames brought to `size`."""
    from dreamstyle.engines.flow import measured

    at = [s.convert("RGB").resize(size, Image.LANCZOS) if s.size != size else s.convert("RGB") for s in srcs]
    return measured(at)


def warping_error(outs: Sequence[Image.Image], srcs: Sequence[Image.Image], cuts: Sequence[int], flows=None) -> float:
    """Occlusion-aware warping error of `outs`, pairs across a cut left out."""
    from dreamstyle.engines.flow import warping_error as lai
    from dreamstyle.media.images import to_tensor

    size = outs[0].size
    fl, ms = flows if flows is not None else source_flows(srcs, size)
    errs = []
    for part in shots(len(outs), cuts):
        ts = list(part)
        if len(ts) < 2:
            continue
        t = [to_tensor(outs[k].convert("RGB")) for k in ts]
        errs.append((lai(t, [fl[k] for k in ts[:-1]], [ms[k] for k in ts[:-1]]), len(ts) - 1))
    total = sum(n for _, n in errs)
    return sum(e * n for e, n in errs) / total if total else 0.0


def edge_sheet(rows: dict[str, Sequence[Image.Image]], picks: Sequence[int], cell: int = 200) -> Image.Image:
    """Rows of frames side by side (the first row usually the input), labelled."""
    from PIL import ImageDraw

    first = next(iter(rows.values()))
    w0, h0 = first[0].size
    cw, ch = cell, round(cell * h0 / w0)
    label = 64
    sheet = Image.new("RGB", (label + len(picks) * (cw + 2), len(rows) * (ch + 2) + 14), "white")
    draw = ImageDraw.Draw(sheet)
    for c, k in enumerate(picks):
        draw.text((label + c * (cw + 2) + 2, len(rows) * (ch + 2)), f"frame {k}", fill="black")
    for r, (name, frames) in enumerate(rows.items()):
        draw.text((4, r * (ch + 2) + ch // 2 - 6), name, fill="black")
        for c, k in enumerate(picks):
            sheet.paste(frames[k].convert("RGB").resize((cw, ch), Image.LANCZOS), (label + c * (cw + 2), r * (ch + 2)))
    return sheet


MODEL = "efficientnet-lite0"
ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "tests" / "fixtures" / "walk-cut.mp4"
STYLE = ROOT / "samples" / "swirls.jpg"
# The issue's targets, relative to independent frames (--temporal none).
TARGETS = {"structure": 0.9, "warping_error": 0.5}


def run_mode(clip, style, backbone, size: int | None, mode: str, weight: float | None, frames: int | None):
    import time

    from dreamstyle import api

    kw = {"temporal": mode}
    if weight is not None:
        kw["temporal_weight"] = weight
    source = clip if frames is None else _frames(clip)[:frames]
    wall, cpu = time.perf_counter(), time.process_time()
    outs = list(api.stylize_frames(source, style, backbone=backbone, model=MODEL, size=size, quiet=True, seed=0, **kw))
    n = len(outs)
    return outs, {"seconds_per_frame": (time.perf_counter() - wall) / n, "cpu_seconds_per_frame": (time.process_time() - cpu) / n}


def _frames(clip) -> list[Image.Image]:
    from dreamstyle.media.video import open_clip

    return list(open_clip(clip).frames())


def plot(doc: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    none = doc["runs"]["none"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    pts = sorted((r for r in doc["runs"].values() if r["mode"] == "flow"), key=lambda r: r["weight"])
    xs = [r["warping_error"] / none["warping_error"] for r in pts]
    for key, label in (("whole", "whole clip"), ("second_half", "second half of each shot"), ("after_cut", "frames after a cut")):
        ax.plot(xs, [r["structure"][key] / none["structure"][key] for r in pts], "o-", label=label)
    for x, r in zip(xs, pts):
        ax.annotate(f"w={r['weight']:g}", (x, r["structure"]["whole"] / none["structure"]["whole"]), fontsize=7,
                    textcoords="offset points", xytext=(3, 4))
    if "blend" in doc["runs"]:
        b = doc["runs"]["blend"]
        ax.plot([b["warping_error"] / none["warping_error"]], [b["structure"]["whole"] / none["structure"]["whole"]], "s", color="grey", label="blend")
    ax.axhline(TARGETS["structure"], color="grey", linestyle=":", linewidth=1)
    ax.axvline(TARGETS["warping_error"], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("warping error / independent frames' (lower: steadier)")
    ax.set_ylabel("edges kept / independent frames' (higher: truer)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"--temporal flow by temporal weight: {doc['clip']} x {doc['style']}, {doc['size'][0]}x{doc['size'][1]} px", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None):
    import argparse
    import json

    from dreamstyle import load_backbone
    from dreamstyle.core.settings import TEMPORAL_WEIGHT
    from dreamstyle.engines.cuts import find_cuts

    from .worker import _cpu_name, result_path

    ap = argparse.ArgumentParser(prog="python -m bench.video", description=__doc__.splitlines()[0])
    ap.add_argument("--clip", default=str(CLIP), help="a video, GIF or frame folder (default: tests/fixtures/walk-cut.mp4)")
    ap.add_argument("--style", default=str(STYLE), help="the painting (default: samples/swirls.jpg)")
    ap.add_argument("--size", type=int, default=None, help="output size (default: the clip's)")
    ap.add_argument("--frames", type=int, default=None, help="only the first N frames")
    ap.add_argument("--modes", default="none,blend,flow", help="which --temporal modes (default: all three)")
    ap.add_argument("--weights", default="", help="more flow runs at these temporal weights, e.g. 0,10,200")
    ap.add_argument("--save", type=Path, help="write every frame under DIR/RUN/")
    ap.add_argument("--sheet", type=Path, help="write frames side by side (input and each mode)")
    ap.add_argument("--plot", type=Path, help="write the curve of structure kept against warping error")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="folder for the JSON result")
    args = ap.parse_args(argv)

    torch.manual_seed(0)
    bb = load_backbone(MODEL, progress=False)
    srcs = _frames(args.clip)[: args.frames]
    cuts = find_cuts(srcs)
    runs, saved = {}, {"input": srcs}
    plan = [(m, None) for m in args.modes.split(",") if m]
    plan += [("flow", float(w)) for w in args.weights.split(",") if w and float(w) != TEMPORAL_WEIGHT]
    run_mode(args.clip, args.style, bb, 64, "none", None, 1)  # warm-up: kernels and caches
    flows = None
    for mode, weight in plan:
        name = mode if weight is None else f"flow-w{weight:g}"
        outs, times = run_mode(args.clip, args.style, bb, args.size, mode, weight, args.frames)
        flows = flows or source_flows(srcs, outs[0].size)
        s = structure_report(outs, srcs, cuts)
        runs[name] = {"mode": mode, "weight": TEMPORAL_WEIGHT if (mode == "flow" and weight is None) else weight, "structure": s,
                      "warping_error": warping_error(outs, srcs, cuts, flows), **times}  # fmt: skip
        saved[name] = outs
        print(f"  {name}: structure {s['whole']:.3f} / {s['second_half']:.3f} / {s['after_cut']:.3f}, "
              f"warping error {runs[name]['warping_error']:.5f}, {times['seconds_per_frame']:.2f} s a frame", flush=True)  # fmt: skip
        if args.save:
            d = args.save / name
            d.mkdir(parents=True, exist_ok=True)
            for k, o in enumerate(outs):
                o.convert("RGB").save(d / f"frame_{k:05d}.png")
    cpu = _cpu_name()
    w, h = saved[next(iter(runs))][0].size
    at = [f.convert("RGB").resize((w, h), Image.LANCZOS) for f in srcs]
    inputs = {"warping_error": warping_error(at, srcs, cuts, flows)} if flows else {}
    print(f"\n**{cpu}** (torch {torch.__version__}, {torch.get_num_threads()} threads), {MODEL}, {Path(args.clip).name} "
          f"({len(srcs)} frames, new shots at {cuts or 'none'}), {w}x{h} px, after {Path(args.style).name}\n")  # fmt: skip
    print("| run | edges kept, whole | second half of shots | after a cut | warping error | s / frame |")
    print("|---|---:|---:|---:|---:|---:|")
    base = runs.get("none")
    for name, r in runs.items():
        s = r["structure"]
        rel = (lambda k: f" ({s[k] / base['structure'][k]:.2f}x)") if base else (lambda k: "")  # noqa: E731
        we = f"{r['warping_error']:.5f}" + (f" ({r['warping_error'] / base['warping_error']:.2f}x)" if base else "")
        print(f"| {name} | {s['whole']:.3f}{rel('whole')} | {s['second_half']:.3f}{rel('second_half')} | "
              f"{s['after_cut']:.3f}{rel('after_cut')} | {we} | {r['seconds_per_frame']:.2f} |")  # fmt: skip
    if inputs:
        print(f"| input | | | | {inputs['warping_error']:.5f} | |")
    if args.sheet:
        n = len(srcs)
        picks = sorted({1, n // 4, n // 2, (cuts[0] - 1) if cuts else n - 1, *(c + k for c in cuts[:1] for k in (0, 2)), n - 1} & set(range(n)))
        rows = {k: v for k, v in saved.items() if k in ("input", "none", "blend", "flow")}
        sheet = edge_sheet(rows, picks, cell=min(w, 200))
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(args.sheet, quality=88) if args.sheet.suffix.lower() in (".jpg", ".jpeg") else sheet.save(args.sheet)
        print(f"wrote {args.sheet}")
    doc = {"cpu": cpu, "torch": torch.__version__, "threads": torch.get_num_threads(), "model": MODEL, "clip": Path(args.clip).name,
           "style": Path(args.style).name, "size": [w, h], "frames": len(srcs), "cuts": cuts, "targets": TARGETS, "input": inputs,
           "runs": {k: {**v, "structure": {**v["structure"]}} for k, v in runs.items()}}  # fmt: skip
    if args.plot and "none" in runs and any(r["mode"] == "flow" for r in runs.values()):
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot(doc, args.plot)
        print(f"wrote {args.plot}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = result_path(args.out, "video-footage", Path(args.clip).stem, cpu)
    path.write_text(json.dumps(doc, indent=1))
    print(f"wrote {path}")
    return path
