"""A clip on a Ray cluster: its chunks (chunks.py) made by several workers at once, then joined
into the output by the driver.

The chunks' frames (with their lead-in frames, cross-faded in at the join) wait in a hidden
folder beside the output, named after the Job (`.OUT.<hash>.chunks/`), until the output is
written. A stopped or failed run keeps them, so the same command again makes only the missing
chunks; a Job with any other setting gets another folder, never stale frames.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from dataclasses import asdict
from pathlib import Path

from ..errors import Interrupted, UserError
from ..events import Finished, ItemDone, Listener, Reporter, Started
from ..media.images import write_atomically
from ..core.job import Job, Result
from ..core.settings import ClusterSettings
from ..core.threads import pinned
from .chunks import WARMUP, Chunk, join_frames, split_clip
from .reach import probes
from .session import RETRIES, import_ray, joined


def chunk_folder(job: Job, out: Path) -> Path:
    digest = hashlib.sha256(job.to_json().encode()).hexdigest()[:12]
    return out.parent / f".{out.name}.{digest}.chunks"


def run_clip_on_ray(job: Job, cluster: ClusterSettings, *, on_event: Listener | None = None,
                    cancel: threading.Event | None = None, force: bool = False, warmup: int = WARMUP,
                    chunk_frames: int | None = None, write_by: str = "auto", retries: int = RETRIES) -> Result:
    """The clip `job` (a dream or style over a video or frame folder, written to `job.output`),
    made in chunks of about `chunk_frames` frames (chunks.split's choice by default), each
    starting `warmup` frames early to be cross-faded in, on the workers of `cluster`. A chunk
    that fails, or whose worker kept dying, fails the run once the others are done (they are
    kept for the next run). Ctrl-C (or `cancel`) raises `Interrupted` with `.path` the folder of
    finished frames."""
    from ..engines.clip import carries, cuts_note, open_source, shot_starts
    from ..media.video import check_output, write_frames

    import_ray()
    job = pinned(job)  # the workers compute with this process's thread count: the local clip's bytes
    start = time.perf_counter()
    report = Reporter(on_event, cancel)
    if job.motion.debug_flow is not None:
        raise UserError("--debug-flow writes the flow where the frames are made, so it applies to a clip made here", "drop --backend ray to look at the flow")
    out = check_output(job.output, force=force)
    clip = open_source(job)  # here too: a damaged video is refused before the cluster is joined
    # Found once, on the whole clip, so that every chunk restarts at the same frames.
    cuts = shot_starts(job, clip) or []
    if job.motion.temporal == "none":
        # Every frame is made alone (a network's always are): no state for a lead-in to build
        # up, and the frames across a seam differ as any two neighbours do, so nothing to fade.
        warmup = 0
    parts = chunk_folder(job, out)
    failed: list[tuple[Chunk, str]] = []
    with joined(cluster) as session:
        chunks = _chunks(parts, lambda: split_clip(clip.count, session.pool.workers, warmup, chunk_frames, cuts))
        report(Started(job, clip.count, "frame", f"{job.engine} on ray"))
        if cuts and carries(job):
            report(ItemDone("note", 0, None, message=cuts_note(cuts)))
        todo: dict[int, Chunk] = {}
        for k, c in enumerate(chunks):
            if all((parts / name).exists() for name in c.names()):
                _frames_done(report, c, clip.count)
            else:
                todo[k] = c
        if todo:
            rows = [{"index": k, "job": job.to_json(), "chunk": json.dumps({**asdict(c), "folder": str(parts)})} for k, c in todo.items()]
            with probes([parts], write_by) as token:
                try:
                    for status in session.map(rows, {"folders": [str(parts)], "token": token, "force": True}, cancel, retries):
                        c = todo[status.index]
                        if status.status != "written":
                            failed.append((c, status.message))
                            continue
                        for name, data in zip(c.names(), status.data):
                            write_atomically(parts / name, data, force=True)
                        _frames_done(report, c, clip.count)
                except Interrupted:
                    raise Interrupted(None, path=parts, frames=len(list(parts.glob("frame_*.png")))) from None
    if failed:
        c, why = failed[0]
        more = f" (and {len(failed) - 1} more chunks)" if len(failed) > 1 else ""
        raise UserError(f"frames {c.first}-{c.last - 1}{more}: {why}",
                        "run the same command again: finished chunks are kept, only the missing ones are made")  # fmt: skip
    path = write_frames(join_frames(chunks, parts), out, clip.fps, force=force)
    shutil.rmtree(parts, ignore_errors=True)
    result = Result(job, [], path, frames=clip.count, seconds=time.perf_counter() - start)
    report(Finished(result, result.seconds))
    return result


def _chunks(parts: Path, make) -> list[Chunk]:
    """The chunks of an earlier run of this Job (kept in its folder), so a rerun on another
    number of workers still fits the frames already made; else new ones from `make()`."""
    plan = parts / "chunks.json"
    if plan.exists():
        return [Chunk(**c) for c in json.loads(plan.read_text())]
    chunks = make()
    parts.mkdir(exist_ok=True)
    write_atomically(plan, json.dumps([asdict(c) for c in chunks]).encode())
    return chunks


def _frames_done(report: Reporter, c: Chunk, count: int) -> None:
    for n in c.frames:
        report(ItemDone("frame", n, count))
