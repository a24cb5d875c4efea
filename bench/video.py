"""`python -m bench.video --synthetic`: how well a styled clip holds together, `--temporal
none|blend|flow`, on clips of known motion. Without --synthetic, `python -m bench.video` scores
real footage (bench/footage.py).

Three synthetic clips are made from samples/ with known motion, so the true flow and the true
occlusions are known rather than estimated: a diagonal pan across coffee.jpg (3 px right, 1 px
down a frame), a zoom into rocket.jpg (3 % a frame about the centre), and a square of cat.jpg
sliding 4 px a frame over a still coffee.jpg. Each is styled after swirls.jpg with the bundled
efficientnet-lite0 in each mode, in this process, one backbone for all, and scored by:

- warping error (Lai et al. 2018, dreamstyle.engines.flow.warping_error): mean over t of the masked MSE
  between output t and output t+1 warped back to t by the true flow, pixels in [0, 1], the mask
  the pixels of frame t still seen in frame t+1. Lower is steadier; the input frames' own score
  (0 but for the zoom's resampling) is the floor.
- style distance: bench.timeto's Evaluator (relative Gram distance to the painting at lite0
  layers the engine does not optimise), averaged over the frames. Lower is more painted.
- seconds per frame: this process's CPU time, flow included (the machine may be shared, so the
  wall clock is recorded in the JSON but not compared).

Prints a markdown table and writes bench/results/video-<engine>-<cpu>-<date>.json. `--engine
dream` runs the same clips through `dream` instead (warping error and time only). `--save DIR` also
writes every frame (DIR/CLIP/MODE/frame_NNNNN.png) and `--strip FILE` a picture of frames side
by side per mode, for looking at them (docs/video.md shows one).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .timeto import Evaluator
from .worker import _cpu_name, result_path

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent / "samples"
STYLE = SAMPLES / "swirls.jpg"
MODEL = "efficientnet-lite0"
MODES = ("none", "blend", "flow")
DREAM_OCTAVES = 2  # --engine dream: each frame 2 octaves of --steps
# The targets, relative to the other modes.
TARGETS = {"vs_none": 1 / 3, "vs_blend": 1 / 2, "style_within": 0.10, "time_vs_blend": 1.3}


# --------------------------------------------------------------------------- clips with known motion


def _rgb(name: str) -> Image.Image:
    return Image.open(SAMPLES / name).convert("RGB")


def _grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs, ys


def _inside(x: np.ndarray, y: np.ndarray, w: int, h: int) -> np.ndarray:
    return (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)


def pan(n: int, w: int, h: int, dx: int = 3, dy: int = 1):
    """A window sliding over the photo: frame t+1 shows at p what frame t showed at p + (dx, dy),
    so frame t's pixel p is at p - (dx, dy) in frame t+1."""
    src = _rgb("coffee.jpg")
    k = max((w + dx * n) / src.width, (h + dy * n) / src.height)
    src = src.resize((round(src.width * k) + 1, round(src.height * k) + 1), Image.LANCZOS)
    frames = [src.crop((dx * t, dy * t, dx * t + w, dy * t + h)) for t in range(n)]
    xs, ys = _grid(w, h)
    flow = np.stack([np.full_like(xs, -dx), np.full_like(ys, -dy)], -1)
    mask = _inside(xs - dx, ys - dy, w, h)
    return frames, [flow] * (n - 1), [mask] * (n - 1)


def zoom(n: int, w: int, h: int, z: float = 1.03):
    """Into the middle of the photo by `z` a frame: frame t shows the source at c + (p - p0) / s_t
    (s_t = s_0 z^t), so frame t's pixel p is at p0 + (p - p0) z in frame t+1."""
    import cv2

    src = np.asarray(_rgb("rocket.jpg"))
    sh, sw = src.shape[:2]
    s0 = max(w / sw, h / sh) * 1.02  # frame 0 shows (nearly) the whole picture
    c = np.array([(sw - 1) / 2, (sh - 1) / 2])
    p0 = np.array([(w - 1) / 2, (h - 1) / 2])
    frames = []
    for t in range(n):
        s = s0 * z**t
        # dst(p) = src(A p + b): A = 1/s, b = c - p0 / s (cv2's inverse map, pixel centres at integers)
        m = np.array([[1 / s, 0, c[0] - p0[0] / s], [0, 1 / s, c[1] - p0[1] / s]])
        frames.append(Image.fromarray(cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
                                                     borderMode=cv2.BORDER_REFLECT)))  # fmt: skip
    xs, ys = _grid(w, h)
    flow = np.stack([(xs - p0[0]) * (z - 1), (ys - p0[1]) * (z - 1)], -1).astype(np.float32)
    mask = _inside(xs + flow[..., 0], ys + flow[..., 1], w, h)
    return frames, [flow] * (n - 1), [mask] * (n - 1)


def moving_object(n: int, w: int, h: int, dx: int = 4, side_frac: float = 0.4):
    """A square of the cat sliding right over the still coffee table."""
    bg = _rgb("coffee.jpg").resize((w, h), Image.LANCZOS)
    side = round(side_frac * h)
    cat = _rgb("cat.jpg")
    obj = cat.crop((cat.width // 2 - 90, 40, cat.width // 2 + 90, 220)).resize((side, side), Image.LANCZOS)
    top = (h - side) // 2
    left = [round(0.1 * w) + dx * t for t in range(n)]
    frames = []
    for t in range(n):
        f = bg.copy()
        f.paste(obj, (left[t], top))
        frames.append(f)
    xs, ys = _grid(w, h)
    flows, masks = [], []
    for t in range(n - 1):
        on = (xs >= left[t]) & (xs < left[t] + side) & (ys >= top) & (ys < top + side)
        covered_next = (xs >= left[t + 1]) & (xs < left[t + 1] + side) & (ys >= top) & (ys < top + side)
        flow = np.stack([np.where(on, dx, 0), np.zeros_like(ys)], -1).astype(np.float32)
        # Background the square covers in frame t+1 is not seen there; the square itself is.
        masks.append(np.where(on, _inside(xs + dx, ys, w, h), ~covered_next))
        flows.append(flow)
    return frames, flows, masks


CLIPS = {"pan": pan, "zoom": zoom, "object": moving_object}


# --------------------------------------------------------------------------- running and scoring


def style_clip(frames, mode: str, backbone, size: int, steps: int, temporal_weight: float | None,
               engine: str = "style") -> tuple[list[Image.Image], dict]:  # fmt: skip
    from dreamstyle import api

    kw = {"temporal": mode}
    if mode == "blend" or engine == "dream":
        kw["blend"] = 0.5  # dream's flow carries this share of the warped detail too
    if mode == "flow" and temporal_weight is not None and engine == "style":
        kw["temporal_weight"] = temporal_weight
    wall, cpu = time.perf_counter(), time.process_time()
    common = dict(backbone=backbone, model=MODEL, size=size, steps=steps, quiet=True, seed=0)
    if engine == "dream":
        outs = list(api.dream_frames(frames, octaves=DREAM_OCTAVES, **common, **kw))
    else:
        outs = list(api.stylize_frames(frames, STYLE, **common, **kw))
    n = len(frames)
    return outs, {"seconds_per_frame": (time.process_time() - cpu) / n, "wall_seconds_per_frame": (time.perf_counter() - wall) / n}


def score(outs, frames, flows, masks, judge_for) -> dict[str, float]:
    from dreamstyle.engines.flow import warping_error
    from dreamstyle.media.images import to_tensor

    t = [to_tensor(o.convert("RGB")) for o in outs]
    fl = [torch.from_numpy(f) for f in flows]
    ms = [torch.from_numpy(m.astype(np.float32)) for m in masks]
    out = {"warping_error": warping_error(t, fl, ms)}
    if judge_for is not None:
        out["style_distance"] = float(np.mean([judge_for(f)(x)["style"] for f, x in zip(frames, t)]))
    return out


def verdict(rows: dict[str, dict]) -> dict[str, float | None]:
    none, blend, flow = (rows[m] for m in MODES)
    return {
        "flow_vs_none": flow["warping_error"] / none["warping_error"],
        "flow_vs_blend": flow["warping_error"] / blend["warping_error"],
        "style_vs_none": flow["style_distance"] / none["style_distance"] - 1 if "style_distance" in flow else None,
        "time_vs_blend": flow["seconds_per_frame"] / blend["seconds_per_frame"],
    }


def strip(saved: dict[str, dict[str, list[Image.Image]]], path: Path, clip: str, picks: list[int], cell: int) -> Path:
    """Rows: the input and each mode; columns: the picked frames of one clip."""
    from PIL import ImageDraw

    rows = [("input", saved[clip]["input"])] + [(m, saved[clip][m]) for m in MODES]
    w0, h0 = rows[0][1][0].size
    cw, ch = cell, round(cell * h0 / w0)
    label = 56
    sheet = Image.new("RGB", (label + len(picks) * (cw + 2), len(rows) * (ch + 2)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (name, frames) in enumerate(rows):
        draw.text((4, r * (ch + 2) + ch // 2 - 6), name, fill="black")
        for c, k in enumerate(picks):
            sheet.paste(frames[k].convert("RGB").resize((cw, ch), Image.LANCZOS), (label + c * (cw + 2), r * (ch + 2)))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=88) if path.suffix.lower() in (".jpg", ".jpeg") else sheet.save(path)
    return path


def main(argv: list[str] | None = None) -> Path:
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--synthetic" not in argv:
        from .footage import main as footage

        return footage(argv)
    argv.remove("--synthetic")
    return synthetic(argv)


def synthetic(argv: list[str]) -> Path:
    ap = argparse.ArgumentParser(prog="python -m bench.video --synthetic", description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=160, help="frame width in pixels (default 160)")
    ap.add_argument("--frames", type=int, default=8, help="frames per clip (default 8)")
    ap.add_argument("--steps", type=int, default=100, help="style steps per frame (default 100)")
    ap.add_argument("--clips", default=",".join(CLIPS), help="which clips (default: all)")
    ap.add_argument("--temporal-weight", type=float, default=None, help="flow's --temporal-weight (default: dreamstyle's)")
    ap.add_argument("--engine", choices=("style", "dream"), default="style",
                    help="dream: the same clips dreamed (2 octaves of --steps, blend 0.5), warping error and time only")  # fmt: skip
    ap.add_argument("--save", type=Path, help="write every frame under this folder")
    ap.add_argument("--strip", type=Path, help="write a strip of frames of the first clip, input and each mode")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="folder for the JSON result")
    args = ap.parse_args(argv)

    from dreamstyle import load_backbone
    from dreamstyle.engines.flow import warping_error
    from dreamstyle.media.images import load_image, resize_longest, to_tensor

    torch.manual_seed(0)
    bb = load_backbone(MODEL, progress=False)
    painting = load_image(STYLE).rgb
    w, h = args.size, round(args.size * 2 / 3)
    results, saved = {}, {}
    style_clip([pan(2, w, h)[0][0]], "none", bb, w, 2, None)  # warm-up: kernels and caches
    for name in args.clips.split(","):
        frames, flows, masks = CLIPS[name](args.frames, w, h)
        judges = {}

        def judge_for(frame, judges=judges):
            key = id(frame)
            if key not in judges:
                judges[key] = Evaluator(bb, to_tensor(frame), to_tensor(resize_longest(painting, max(frame.size))))
            return judges[key]

        judge = judge_for if args.engine == "style" else None

        fl = [torch.from_numpy(f) for f in flows]
        ms = [torch.from_numpy(m.astype(np.float32)) for m in masks]
        rows = {"input": {"warping_error": warping_error([to_tensor(f) for f in frames], fl, ms)}}
        saved[name] = {"input": frames}
        for mode in MODES:
            outs, times = style_clip(frames, mode, bb, w, args.steps, args.temporal_weight, args.engine)
            rows[mode] = {**score(outs, frames, flows, masks, judge), **times}
            saved[name][mode] = outs
            print(f"  {name} {mode}: {rows[mode]}", flush=True)
            if args.save:
                d = args.save / name / mode
                d.mkdir(parents=True, exist_ok=True)
                for k, o in enumerate(outs):
                    o.convert("RGB").save(d / f"frame_{k:05d}.png")
        results[name] = {"rows": rows, "verdict": verdict(rows)}

    from dreamstyle.core.settings import TEMPORAL_WEIGHT

    cpu = _cpu_name()
    tw = args.temporal_weight if args.temporal_weight is not None else TEMPORAL_WEIGHT
    what = (f"{args.steps} L-BFGS steps a frame, swirls.jpg, flow's temporal weight {tw:g}" if args.engine == "style"
            else f"dream, {DREAM_OCTAVES} octaves x {args.steps} steps a frame, blend 0.5")  # fmt: skip
    print(f"\n**{cpu}** (torch {torch.__version__}, {torch.get_num_threads()} threads), {MODEL}, {w}x{h} px, "
          f"{args.frames} frames, {what}\n")  # fmt: skip
    print("| clip | mode | warping error | x none | style distance | CPU s / frame |")
    print("|---|---|---:|---:|---:|---:|")
    for name, r in results.items():
        base = r["rows"]["none"]["warping_error"]
        print(f"| {name} | input | {r['rows']['input']['warping_error']:.5f} | | | |")
        for mode in MODES:
            x = r["rows"][mode]
            style = f"{x['style_distance']:.4f}" if "style_distance" in x else "–"
            print(f"| {name} | {mode} | {x['warping_error']:.5f} | {x['warping_error'] / base:.2f} | {style} | "
                  f"{x['seconds_per_frame']:.2f} |")  # fmt: skip
    print("\n| clip | flow / none (≤ 0.33) | flow / blend (≤ 0.5) | style vs none (within ±10 %) | time / blend (≤ 1.3) |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        v = r["verdict"]
        style = f"{100 * v['style_vs_none']:+.1f} %" if v["style_vs_none"] is not None else "–"
        print(f"| {name} | {v['flow_vs_none']:.2f} | {v['flow_vs_blend']:.2f} | {style} | {v['time_vs_blend']:.2f} |")

    if args.strip:
        first = next(iter(saved))
        picks = sorted({0, args.frames // 3, 2 * args.frames // 3, args.frames - 1})
        print(f"\nwrote {strip(saved, args.strip, first, picks, min(w, 160))}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = result_path(args.out, "video", args.engine, cpu)
    doc = {"cpu": cpu, "torch": torch.__version__, "threads": torch.get_num_threads(), "model": MODEL, "engine": args.engine, "style": STYLE.name,
           "size": [w, h], "frames": args.frames, "steps": args.steps, "temporal_weight": tw, "targets": TARGETS,
           "clips": results}  # fmt: skip
    path.write_text(json.dumps(doc, indent=1))
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
