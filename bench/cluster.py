"""`python -m bench.cluster`: the figures of docs/scale.md, measured on this machine.

1. Seconds per item of each engine, here, in one process (the model loaded once).
2. The same batch on a local Ray cluster with 1 and then 2 workers (each a process loading the
   model once): wall time, each item's own time on its worker, and what is left over per item
   (scheduling, the actor's start, the transfer of the output), the Ray overhead.
3. The flicker at the seams of a clip made in chunks, against inside a chunk: chunks that start
   cold, chunks that run lead-in frames and drop them, and chunks whose lead-in frames are
   cross-faded over the chunk before (what the cluster does).

Both sides of each comparison run in one go, one after the other, so a busy shared machine
slows both; `--repeat` runs the Ray part several times. Results go to
bench/results/cluster-<date>.json and a markdown table to stdout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
PHOTOS = ("cat.jpg", "coffee.jpg", "rocket.jpg", "astronaut.jpg", "stripes.png", "mosaic.png")


# --- the seam measure (tests/test_cluster.py uses it too) ---------------------------------------


def pan_frames(n: int, dx: int = 2, size: tuple[int, int] = (64, 48), photo: str = "astronaut.jpg") -> list[Image.Image]:
    """A pan across a photo, `dx` pixels a frame: a clip whose motion is known."""
    w, h = size
    src = Image.open(SAMPLES / photo).convert("RGB").resize((w + n * dx, h), Image.LANCZOS)
    return [src.crop((t * dx, 0, t * dx + w, h)) for t in range(n)]


def flicker_steps(outputs, inputs) -> list[float]:
    """For each pair of consecutive frames, the mean absolute change of the output beyond the
    change of the input, in 0-255 levels (tests/test_video.py's flicker, per step): a jump at a
    seam shows as one large step."""
    a = [np.asarray(f.convert("RGB"), dtype=np.float64) for f in outputs]
    b = [np.asarray(f.convert("RGB"), dtype=np.float64) for f in inputs]
    return [float(np.abs((a[t + 1] - a[t]) - (b[t + 1] - b[t])).mean()) for t in range(len(a) - 1)]


def seam_ratio(outputs, inputs, firsts, warmup: int) -> tuple[float, float]:
    """(the largest step across a seam over the mean step inside the chunks, that mean): how
    much a seam stands out. `firsts` are the chunks' first frames; the step into each and the
    `warmup` steps before it (where a lead-in is faded in) are the seam's."""
    steps = flicker_steps(outputs, inputs)
    seam = {t for f in firsts for t in range(max(0, f - warmup - 1), f)}
    inside = [s for t, s in enumerate(steps) if t not in seam]
    mean = statistics.mean(inside)
    return max(steps[t] for t in seam) / mean, mean


def chunked(job, chunks, modes=("whole", "cold", "drop", "fade")) -> dict[str, list[Image.Image]]:
    """The clip made chunk by chunk in this process and joined as each mode says: "cold" (no
    lead-in), "drop" (lead-in run, then dropped) or "fade" (lead-in cross-faded over the chunk
    before, as the cluster does); "whole" is the clip in one piece, as a local run makes it."""
    from dreamstyle.cluster.chunks import Chunk, join_frames, run_chunk

    bare = [Chunk(c.first, c.last, 0) for c in chunks]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for c in chunks:
            run_chunk(job, c, Path(tmp))
        for mode in ("drop", "fade"):
            if mode in modes:
                out[mode] = list(join_frames(bare if mode == "drop" else chunks, Path(tmp)))
    for mode, parts in (("cold", bare), ("whole", [Chunk(0, chunks[-1].last, 0)])):
        if mode in modes:
            with tempfile.TemporaryDirectory() as tmp:
                for c in parts:
                    run_chunk(job, c, Path(tmp))
                out[mode] = list(join_frames(parts, Path(tmp)))
    return out


def seams(engine: str, n: int = 24, length: int = 8, warmup: int = 3, blend: float = 0.5) -> dict:
    from dreamstyle.cluster.chunks import split_clip
    from dreamstyle.core.job import Job
    from dreamstyle.core.settings import DreamSettings, MotionSettings, StyleSettings

    frames = pan_frames(n)
    if engine == "dream":
        s = DreamSettings(model="efficientnet-lite0", size=64, steps=3, octaves=1, lr=0.05, jitter=4, quiet=True)
        job = Job("dream", {"image": frames}, s, motion=MotionSettings(blend=blend))
    else:
        s = StyleSettings(model="efficientnet-lite0", size=64, steps=10, style_weight=1e4, quiet=True)
        job = Job("style", {"content": frames, "styles": [str(SAMPLES / "swirls.jpg")]}, s, motion=MotionSettings(blend=blend))
    chunks = split_clip(n, 1, warmup, length)
    firsts = [c.first for c in chunks[1:]]
    out = {"engine": engine, "frames": n, "chunk": length, "warmup": warmup, "blend": blend}
    for mode, made in chunked(job, chunks).items():
        worst, inside = seam_ratio(made, frames, firsts, warmup)
        out[mode] = {"worst_seam_step": round(worst, 3), "inside_step_levels": round(inside, 2)}
    return out


# --- time per item, here and on a local Ray -----------------------------------------------------


def _jobs(engine: str, folder: Path, out: Path, size: int):
    from dreamstyle.core.planning import plan
    from dreamstyle.core.settings import DreamSettings, StyleSettings, VisualizeSettings

    common = dict(model="efficientnet-lite0", size=size, quiet=True)
    if engine == "dream":
        return plan("dream", folder, DreamSettings(**common), output=out).jobs
    if engine == "style":
        return plan("style", folder, StyleSettings(**common, steps=50, scales=[size]), output=out, inputs={"styles": [str(SAMPLES / "swirls.jpg")]}).jobs
    return plan("visualize.maps", folder, VisualizeSettings(**common), output=out, inputs={"layer": "block3", "top": 16}).jobs


def local_seconds(engine: str, folder: Path, size: int) -> float:
    from dreamstyle.core.batch import run_batch
    from dreamstyle.core.runner import load

    with tempfile.TemporaryDirectory() as tmp:
        jobs = _jobs(engine, folder, Path(tmp) / "out", size)
        load(jobs[0].settings)  # loading is paid once per worker, not per item
        start = time.perf_counter()
        run_batch(jobs)
        return (time.perf_counter() - start) / len(jobs)


def ray_run(engine: str, folder: Path, size: int, workers: int) -> dict:
    """One batch on the cluster, timed from the driver's call and by each worker's own clock:
    - item_s: an item's time on its worker (each worker's first item, which loads the model,
      left out), the same work as `local_seconds`;
    - gap_s: a worker's idle time between two of its items (Ray Data handing it the next row
      and taking the last one's status): the Ray overhead per item;
    - delivery_s: from an item's end on its worker to its status reaching the driver's loop;
    - startup_s: from the call to the first item starting (joining, starting the actors)."""
    from dreamstyle.cluster import run_batch_on_ray
    from dreamstyle.events import ItemDone
    from dreamstyle.core.settings import ClusterSettings

    arrived: dict[int, float] = {}

    def listen(event) -> None:
        if isinstance(event, ItemDone) and event.level == 0:
            arrived[event.index] = time.time()

    with tempfile.TemporaryDirectory() as tmp:
        jobs = _jobs(engine, folder, Path(tmp) / "out", size)
        called = time.time()
        result = run_batch_on_ray(jobs, ClusterSettings(backend="ray", workers=workers), on_event=listen)
        wall = time.time() - called
    per: dict[int, list] = {}
    for s in result.items:
        per.setdefault(s.pid, []).append(s)
    items, gaps = [], []
    for ran in per.values():
        ran.sort(key=lambda s: s.start)
        items += [s.seconds for s in ran[1:]]
        gaps += [b.start - (a.start + a.seconds) for a, b in zip(ran, ran[1:])]
    delivery = [arrived[s.index] - (s.start + s.seconds) for s in result.items]
    startup = min(s.start for s in result.items) - called
    return {"workers": workers, "items": len(result.items), "wall_s": round(wall, 2), "startup_s": round(startup, 2),
            "after_startup_s": round(wall - startup, 2), "item_s": round(statistics.mean(items), 3),
            "gap_s": round(statistics.mean(gaps), 4), "delivery_s": round(statistics.mean(delivery), 4),
            "first_item_s": round(statistics.mean(r[0].seconds for r in per.values()), 2), "summary": result.summary()}  # fmt: skip


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=12, help="pictures per batch")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--repeat", type=int, default=2, help="Ray runs of each pool size")
    p.add_argument("--skip-ray", action="store_true")
    p.add_argument("--skip-seams", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    doc: dict = {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "size": args.size, "items": args.items}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for k in range(args.items):
            name = PHOTOS[k % len(PHOTOS)]
            shutil.copy(SAMPLES / name, folder / f"{k:03d}-{name}")
        doc["local_s_per_item"] = {e: round(local_seconds(e, folder, args.size), 3) for e in ("dream", "style", "maps")}
        print(f"local, one process: {doc['local_s_per_item']} s per item", flush=True)
        if not args.skip_ray:
            import ray

            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # stay on 127.0.0.1
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
            start = time.perf_counter()
            ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False)
            doc["ray_init_s"] = round(time.perf_counter() - start, 2)
            runs = []
            for _ in range(args.repeat):
                for workers in (1, 2):
                    runs.append(ray_run("dream", folder, args.size, workers))
                    print(runs[-1], flush=True)
            ray.shutdown()
            doc["ray_dream"] = runs
    doc["seams"] = [] if args.skip_seams else [seams("dream"), seams("style")]
    for s in doc["seams"]:
        print(s, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    from .worker import result_path  # here: importing this module (tests do) needs no torch

    path = result_path(args.out, "cluster")
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
