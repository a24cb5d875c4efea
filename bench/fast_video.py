"""`python -m bench.fast_video --net NAME.pt`: how much a clip painted by a trained network
flickers, and how fast it is, beside the optimisation path.

Clips with known motion, from bench/video.py (a diagonal pan over coffee.jpg, a zoom into
rocket.jpg), so the true flow and the pixels that
stay in view are known, not estimated. Each is painted

- by the network (engine "fast", every frame alone: `style clip --net NAME.pt`),
- by the optimisation path with `--temporal flow` (its default), after the painting the network
  learnt (read from the network's own record, or `--style`), efficientnet-lite0, same size,
- by the optimisation path with `--temporal none`,

and scored by bench/video.py's warping error (Lai et al. 2018: output t against output t+1 warped
back by the true motion, over the pixels still in view; lower is steadier; the input's own score
is the floor), its style distance (bench/timeto.py's judge against the painting, lower is more
painted: a steadier clip that is less painted has not won) and CPU seconds per frame. The optimisation path runs `--opt-frames` frames only
(it takes seconds a frame); the 240-frame time and the speed-up (wall clock on both sides) are
extrapolated from them.
Then the whole command, `style clip.mp4 --net NAME.pt -o out.mp4` (decode, paint, encode), is
timed on a `--fps-frames` frame 256 px pan written as MP4: frames per second end to end.

Writes bench/results/fast-video-<cpu>-<date>.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .timeto import Evaluator
from .video import CLIPS, MODEL, score
from .worker import _cpu_name, result_path

HERE = Path(__file__).resolve().parent
CLIP_FRAMES = 240  # the clip the speed-up is extrapolated to


def painting_of(net: str, given: Path | None) -> Path:
    """The painting the network learnt, as its record names it (or `--style`)."""
    from dreamstyle.core.job import Job
    from dreamstyle.media.network_file import load_network

    if given is not None:
        return given
    job = Job.from_json(load_network(net).record)
    path = Path(str(job.inputs["styles"][0])).expanduser()
    if not path.is_file():
        raise SystemExit(f"the painting {path} the network learnt is not here: give it with --style")
    return path


def timed(make) -> tuple[list[Image.Image], dict[str, float]]:
    wall, cpu = time.perf_counter(), time.process_time()
    outs = list(make())
    n = max(1, len(outs))
    return outs, {"seconds_per_frame": (time.process_time() - cpu) / n, "wall_seconds_per_frame": (time.perf_counter() - wall) / n}


def by_network(frames, net: str, size: int):
    """The frames painted by the network through the clip machinery (engine "fast", a clip Job)."""
    import dreamstyle
    from dreamstyle.core.job import Job
    from dreamstyle.core.settings import MotionSettings
    from dreamstyle.core.settings_fast import FastSettings

    job = Job("fast", {"content": frames}, FastSettings(net=net, size=size, quiet=True), motion=MotionSettings(temporal="none"))
    return lambda: dreamstyle.run(job).images


def by_optimisation(frames, painting: Path, backbone, size: int, steps: int, temporal: str):
    from dreamstyle import api

    return lambda: api.stylize_frames(frames, str(painting), backbone=backbone, model=MODEL, size=size, steps=steps, quiet=True,
                                      seed=0, temporal=temporal)  # fmt: skip


def end_to_end(net: str, size: int, n: int) -> dict[str, float]:
    """`style clip.mp4 --net NET -o out.mp4` in this process (the CLI's own code path, after
    imports): decode, paint, encode, on an n-frame pan written as MP4 at `size` px."""
    from typer.testing import CliRunner

    from dreamstyle.cli import app
    from dreamstyle.media.video import write_frames

    frames, _, _ = CLIPS["pan"](n, size, round(size * 2 / 3))
    with tempfile.TemporaryDirectory(prefix="fast-video-") as tmp:
        clip = write_frames(frames, Path(tmp) / "clip.mp4", fps=24)
        args = ["style", str(clip), "--net", net, "-o", str(Path(tmp) / "out.mp4"), "-q"]
        CliRunner().invoke(app, [*args[:-2], str(Path(tmp) / "warm.mp4"), "-q"])  # the network built, the codec warm
        wall = time.perf_counter()
        res = CliRunner().invoke(app, args)
        took = time.perf_counter() - wall
        if res.exit_code != 0:
            raise SystemExit(res.output)
    return {"frames": n, "seconds": took, "fps": n / took}


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(prog="python -m bench.fast_video", description=__doc__.splitlines()[0])
    ap.add_argument("--net", required=True, help="the trained network (.pt)")
    ap.add_argument("--style", type=Path, help="the painting for the optimisation path (default: the one the network learnt)")
    ap.add_argument("--size", type=int, default=256, help="frame width in pixels (default 256)")
    ap.add_argument("--frames", type=int, default=12, help="frames per clip painted by the network (default 12)")
    ap.add_argument("--opt-frames", type=int, default=5, help="frames per clip painted by optimisation (default 5)")
    ap.add_argument("--steps", type=int, default=100, help="optimisation steps per frame (default 100, as bench.video)")
    ap.add_argument("--clips", default="pan,zoom", help="pan, zoom, object (bench/video.py's); default pan,zoom")
    ap.add_argument("--fps-frames", type=int, default=48, help="frames of the clip timed end to end (default 48)")
    ap.add_argument("--no-optimisation", action="store_true", help="the network only (e.g. comparing two networks)")
    ap.add_argument("--note", default="", help="what else ran on the machine, for the record")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)

    from dreamstyle import load_backbone
    from dreamstyle.core.job import Job
    from dreamstyle.media.images import load_image, resize_longest, to_tensor
    from dreamstyle.media.network_file import load_network
    from dreamstyle.engines.flow import warping_error

    torch.manual_seed(0)
    net = str(Path(args.net).expanduser().resolve())
    record = Job.from_json(load_network(net).record)
    painting = painting_of(net, args.style)
    bb = load_backbone(MODEL, progress=False)
    art = load_image(painting).rgb
    w, h = args.size, round(args.size * 2 / 3)
    results = {}
    for name in args.clips.split(","):
        frames, flows, masks = CLIPS[name](args.frames, w, h)
        fl = [torch.from_numpy(f) for f in flows]
        ms = [torch.from_numpy(m.astype(np.float32)) for m in masks]
        rows = {"input": {"warping_error": warping_error([to_tensor(f) for f in frames], fl, ms)}}
        judges: dict[int, Evaluator] = {}

        def judge_for(frame, judges=judges):
            """bench/video.py's style distance: how painted a frame is (lower: more)."""
            if id(frame) not in judges:
                judges[id(frame)] = Evaluator(bb, to_tensor(frame), to_tensor(resize_longest(art, max(frame.size))))
            return judges[id(frame)]

        by_network(frames[:2], net, w)()  # warm-up: the network built once
        outs, times = timed(by_network(frames, net, w))
        rows["network"] = {**score(outs, frames, flows, masks, judge_for), **times, "frames": len(frames)}
        # The same first frames for all three, so the warping errors compare like with like.
        k = min(args.opt_frames, args.frames)
        outs_k = outs[:k]
        rows["network"]["warping_error_first_frames"] = score(outs_k, frames[:k], flows[: k - 1], masks[: k - 1], None)["warping_error"]
        if not args.no_optimisation:
            for mode in ("flow", "none"):
                outs, times = timed(by_optimisation(frames[:k], painting, bb, w, args.steps, mode))
                rows[f"optimisation {mode}"] = {**score(outs, frames[:k], flows[: k - 1], masks[: k - 1], judge_for), **times, "frames": k}
        results[name] = rows
        print(f"  {name}: {json.dumps(rows)}", flush=True)

    fps = end_to_end(net, args.size, args.fps_frames)
    # Wall clock on both sides, as the end-to-end figure is: what a user waits.
    net_s = float(np.mean([r["network"]["wall_seconds_per_frame"] for r in results.values()]))
    speed = {"network_wall_seconds_per_frame": net_s, "clip_frames": CLIP_FRAMES, "network_clip_seconds": CLIP_FRAMES / fps["fps"]}
    if not args.no_optimisation:
        opt_s = float(np.mean([r["optimisation flow"]["wall_seconds_per_frame"] for r in results.values()]))
        speed.update(optimisation_flow_wall_seconds_per_frame=opt_s, optimisation_clip_seconds_extrapolated=CLIP_FRAMES * opt_s,
                     speedup_extrapolated=(CLIP_FRAMES * opt_s) / (CLIP_FRAMES / fps["fps"]))  # fmt: skip

    cpu = _cpu_name()
    print(f"\n**{cpu}** (torch {torch.__version__}, {torch.get_num_threads()} threads), {w}x{h} px, network "
          f"{Path(net).name} ({load_network(net).iterations} iterations, temporal weight "
          f"{trained_temporal_weight(net):g}), optimisation {args.steps} steps a frame {MODEL}\n")  # fmt: skip
    print("| clip | painted by | frames | warping error (all) | warping error (first frames) | style distance | CPU s / frame |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, rows in results.items():
        for who, r in rows.items():
            first = r.get("warping_error_first_frames", r["warping_error"] if who.startswith("optimisation") else None)
            print(f"| {name} | {who} | {r.get('frames', args.frames)} | {r['warping_error']:.5f} | "
                  f"{'' if first is None else f'{first:.5f}'} | {r.get('style_distance', float('nan')):.4f} | "
                  f"{r.get('seconds_per_frame', 0):.3f} |")  # fmt: skip
    print(f"\nend to end (`style clip.mp4 --net`, {fps['frames']} frames, {args.size} px wide): {fps['fps']:.1f} frames/s")
    if "speedup_extrapolated" in speed:
        print(f"240 frames: network {speed['network_clip_seconds']:.0f} s end to end; optimisation --temporal flow "
              f"{speed['optimisation_clip_seconds_extrapolated']:.0f} s (extrapolated from {args.opt_frames} frames): "
              f"{speed['speedup_extrapolated']:.0f}x")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = result_path(args.out, "fast-video", cpu.split("@")[0][:24])
    doc = {"cpu": cpu, "torch": torch.__version__, "threads": torch.get_num_threads(), "note": args.note, "net": Path(net).name,
           "net_iterations": load_network(net).iterations, "net_settings": record.settings.to_dict(),
           "painting": painting.name, "model": MODEL, "size": [w, h], "frames": args.frames,
           "opt_frames": args.opt_frames, "steps": args.steps, "clips": results, "end_to_end": fps, "speed": speed}  # fmt: skip
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path}")
    return path


def trained_temporal_weight(net) -> float:
    """The temporal weight the network was trained with, as its file says: a network trained
    before the setting existed had none (its Job read back would show today's default)."""
    from dreamstyle.media.network_file import load_network

    return float(((load_network(net).record or {}).get("settings") or {}).get("temporal_weight", 0.0))


if __name__ == "__main__":
    main()
