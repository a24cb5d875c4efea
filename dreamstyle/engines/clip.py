"""Dream or style over the frames of a clip, each frame one run, held together over time.

How a frame takes from the ones before it (`--temporal flow|blend|none`) is temporal.py's; this
is the loop: frames in order (or, with `passes` > 1, alternating backward and forward passes, the
last one forward so the finished frames still come out in order), each run through `run_one`,
each finished frame yielded with the clip's Job and its frame number.

A caller may run part of a clip: `clip_frames(..., start=a, stop=b, warmup=k)` runs frames
a-k … b-1 and yields a … b-1. The warm-up frames are computed (their outputs discarded) only so
that frame a starts from the temporal state a run from the start would have had near it: a
cluster splitting a clip across workers gives each worker a range and a few frames of overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from PIL import Image

from ..errors import UserError
from ..events import ItemDone, Reporter
from ..core.job import Job, Result, record
from ..core.settings_fast import refuse_clip_flags
from .temporal import Carry
from ..media.video import FOLDER_FPS, Clip, open_clip

RunOne = Callable[[Job, Reporter], Result]


def check_motion(job: Job) -> None:
    """What a clip's motion settings cannot mean for its engine, refused before a model loads."""
    m = job.motion
    if job.engine == "dream" and (m.long_term is not None or m.passes > 1):
        raise UserError("--long-term and --passes apply to style clips", "drop them for a dream")
    if job.engine == "fast":  # --blend and --temporal-weight mean nothing without a temporal mode
        refuse_clip_flags([f for f, on in (("--temporal " + m.temporal, m.temporal != "none"), ("--long-term", m.long_term is not None),
                                           ("--passes", m.passes > 1)) if on])  # fmt: skip


def open_source(job: Job) -> Clip:
    """The clip a job names: a video, GIF or frame folder, an opened `Clip`, or (from the Python
    API) a list of PIL images."""
    check_motion(job)
    source = job.source
    if isinstance(source, Clip):
        return source
    if isinstance(source, list) and source and all(isinstance(f, Image.Image) for f in source):
        return Clip(None, job.motion.fps or FOLDER_FPS, len(source), source[0].size, lambda: iter(source))
    return open_clip(source, fps=job.motion.fps, max_pixels=job.settings.max_pixels)


def units(job: Job, count: int) -> int:
    """What a clip's progress bar counts: every frame of every pass."""
    return count * passes_of(job)


def passes_of(job: Job) -> int:
    return job.motion.passes if job.motion.temporal == "flow" else 1


def clip_frames(job: Job, clip: Clip, report: Reporter, run_one: RunOne, *,
                start: int = 0, stop: int | None = None, warmup: int = 0) -> Iterator[Image.Image]:  # fmt: skip
    """The finished frames start … stop-1 of a clip job, each carrying the clip's Job with its
    frame number; `warmup` frames before `start` are run first and not yielded (see above)."""
    stop = clip.count if stop is None else min(stop, clip.count)
    first = max(0, start - warmup)
    carry = Carry(job)
    run = _one_pass if passes_of(job) == 1 else _passes
    for t, out in run(job, clip, report, run_one, carry, first, start, stop):
        out.info["dreamstyle"] = record(job, out.info["dreamstyle"], frame=t)
        yield out
        # Reported once the frame has been taken (written), so a count shown is a count kept.
        report(ItemDone("frame", t, clip.count, image=out))
        report.check()


def _one_pass(job, clip, report, run_one, carry: Carry, first: int, start: int, stop: int) -> Iterator[tuple[int, Image.Image]]:
    inner = report.inner()
    for t, frame in enumerate(clip.frames()):
        if t >= stop:
            break
        if t < first:
            continue
        out = run_one(carry.frame_job(t, frame), inner).image
        carry.done(t, out)
        if t >= start:
            yield t, out


def _passes(job, clip, report, run_one, carry: Carry, first: int, start: int, stop: int) -> Iterator[tuple[int, Image.Image]]:
    """Ruder et al.'s multi-pass: alternating directions, each pass starting every frame from its
    previous result blended with the warped neighbour of this pass, so a frame is held to the
    frames after it as well as before it. Every input frame is kept in memory."""
    frames = {t: f for t, f in enumerate(clip.frames()) if first <= t < stop}
    inner = report.inner()
    n = passes_of(job)
    earlier: dict[int, Image.Image] = {}
    for k in range(n):
        direction = 1 if (n - 1 - k) % 2 == 0 else -1  # the last pass runs forward
        carry.new_pass()
        done: dict[int, Image.Image] = {}
        for t in sorted(frames, reverse=direction < 0):
            out = run_one(carry.frame_job(t, frames[t], direction, earlier.get(t)), inner).image
            carry.done(t, out, keep_all=True)
            done[t] = out
            if k < n - 1:
                report(ItemDone("pass", t, clip.count, message=f"pass {k + 1} of {n}"))
                report.check()
            elif t >= start:
                yield t, out
        earlier = done
