"""Dream or style over the frames of a clip, each frame one run, held together over time.

How a frame takes from the ones before it (`--temporal flow|blend|none`) is temporal.py's; this
is the loop: frames in order (or, with `passes` > 1, alternating backward and forward passes, the
last one forward so the finished frames still come out in order), each run through `run_one`,
each finished frame yielded with the clip's Job and its frame number.

A frame that starts a new shot (`--cuts`: found by cuts.py on a pre-scan of the source, or
given) runs as the first frame of a clip: the temporal state forgets the shot before
(`Carry.cut`), so nothing is warped, held to or blended across the cut. With passes, each shot
runs all its passes alone, so no pass reaches across a cut in either direction.

A caller may run part of a clip: `clip_frames(..., start=a, stop=b, warmup=k)` runs frames
a-k … b-1 and yields a … b-1. The warm-up frames are computed (their outputs discarded) only so
that frame a starts from the temporal state a run from the start would have had near it: a
cluster splitting a clip across workers gives each worker a range and a few frames of overlap.
A warm-up never reaches back across a cut: it would build a state the cut throws away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from PIL import Image

from ..errors import UserError
from ..events import ItemDone, Reporter
from ..core.job import Job, Result, record
from ..core.parsing import cut_frames
from ..core.settings_fast import refuse_clip_flags
from .flow_debug import FlowDebug, check_folder as check_debug_flow  # noqa: F401  (the runner checks --debug-flow through here)
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
        clip = source
    elif isinstance(source, list) and source and all(isinstance(f, Image.Image) for f in source):
        clip = Clip(None, job.motion.fps or FOLDER_FPS, len(source), source[0].size, lambda: iter(source))
    else:
        clip = open_clip(source, fps=job.motion.fps, max_pixels=job.settings.max_pixels)
    given = cut_frames(job.motion.cuts)
    if given and given[-1] >= clip.count:  # known before a frame is decoded or a model loaded
        raise UserError(f"--cuts {given[-1]} is past the clip's last frame, {clip.count - 1}", "give frames inside the clip, counted from 0")
    return clip


def units(job: Job, count: int) -> int:
    """What a clip's progress bar counts: every frame of every pass."""
    return count * passes_of(job)


def passes_of(job: Job) -> int:
    return job.motion.passes if job.motion.temporal == "flow" else 1


def carries(job: Job) -> bool:
    """Whether a frame takes anything from the frames before it, so that a cut matters."""
    return job.engine != "fast" and job.motion.temporal != "none"


def looks_for_cuts(job: Job) -> bool:
    """Whether a clip's record lists its shot starts: always for --cuts LIST or none (as given),
    for auto only where a cut changes something (no pre-scan for nothing)."""
    return cut_frames(job.motion.cuts) is not None or carries(job)


def shot_starts(job: Job, clip: Clip) -> list[int] | None:
    """The frames of `clip` where a new shot starts: `--cuts LIST` as given (open_source refused
    frames past the end), none, or for auto those cuts.py finds on a pre-scan of the source. None
    where nothing is looked for: auto on a clip whose frames take nothing from each other."""
    if not looks_for_cuts(job):
        return None
    given = cut_frames(job.motion.cuts)
    if given is not None:
        return [c for c in given if c < clip.count]
    from .cuts import find_cuts

    return find_cuts(clip.frames())


def cuts_note(cuts: list[int]) -> str:
    several = len(cuts) > 1
    where = ", ".join(map(str, cuts))
    return f"new shot{'s' if several else ''} start{'' if several else 's'} at frame{'s' if several else ''} {where}: nothing is carried across (--cuts none to hold them together)"


def clip_frames(job: Job, clip: Clip, report: Reporter, run_one: RunOne, *, start: int = 0, stop: int | None = None,
                warmup: int = 0, cuts: list[int] | None = None, recorded_cuts: list[int] | None = None) -> Iterator[Image.Image]:  # fmt: skip
    """The finished frames start … stop-1 of a clip job, each carrying the clip's Job with its
    frame number and the clip's shot starts (`ran.cuts`); `warmup` frames before `start` are run
    first and not yielded (see above). `cuts`: the shot starts, numbered in `clip`, when the
    caller knows them (a cluster chunk: its driver scanned the whole clip), recorded as
    `recorded_cuts` (None: not recorded); else `shot_starts` decides, and a note says where."""
    stop = clip.count if stop is None else min(stop, clip.count)
    if cuts is None:
        cuts = recorded_cuts = shot_starts(job, clip)
        if cuts and carries(job):
            report(ItemDone("note", 0, None, message=cuts_note(cuts)))
    starts = set(cuts or []) if carries(job) else set()
    first = max(0, start - warmup, *(c for c in starts if c <= start))
    carry = Carry(job)
    debug = FlowDebug(job.motion.debug_flow, sorted(starts)) if job.motion.debug_flow is not None else None
    run = _one_pass if passes_of(job) == 1 else _passes
    extra = {"cuts": recorded_cuts} if recorded_cuts is not None else {}
    for t, out in run(job, clip, report, run_one, carry, first, start, stop, starts, debug):
        out.info["dreamstyle"] = record(job, out.info["dreamstyle"], frame=t, **extra)
        yield out
        # Reported once the frame has been taken (written), so a count shown is a count kept.
        report(ItemDone("frame", t, clip.count, image=out))
        report.check()


def _one_pass(job, clip, report, run_one, carry: Carry, first: int, start: int, stop: int, starts: set[int], debug) -> Iterator[tuple[int, Image.Image]]:
    inner = report.inner()
    for t, frame in enumerate(clip.frames()):
        if t >= stop:
            break
        if t < first:
            continue
        if t in starts:
            carry.cut(t)
        frame_job = carry.frame_job(t, frame)
        if debug is not None:
            debug.seen(carry, t)
        out = run_one(frame_job, inner).image
        carry.done(t, out)
        if t >= start:
            yield t, out


def _passes(job, clip, report, run_one, carry: Carry, first: int, start: int, stop: int, starts: set[int], debug) -> Iterator[tuple[int, Image.Image]]:
    """Ruder et al.'s multi-pass: alternating directions, each pass starting every frame from its
    previous result blended with the warped neighbour of this pass, so a frame is held to the
    frames after it as well as before it. Shot by shot: all passes of a shot, then the next
    (frames still come out in order). Every input frame of a shot is kept in memory."""
    frames = {t: f for t, f in enumerate(clip.frames()) if first <= t < stop}
    inner = report.inner()
    n = passes_of(job)
    for shot in shots(sorted(frames), starts):
        carry.cut(shot[0])
        earlier: dict[int, Image.Image] = {}
        for k in range(n):
            direction = 1 if (n - 1 - k) % 2 == 0 else -1  # the last pass runs forward
            carry.new_pass()
            done: dict[int, Image.Image] = {}
            for t in sorted(shot, reverse=direction < 0):
                frame_job = carry.frame_job(t, frames[t], direction, earlier.get(t))
                if debug is not None:
                    debug.seen(carry, t)
                out = run_one(frame_job, inner).image
                carry.done(t, out, keep_all=True)
                done[t] = out
                if k < n - 1:
                    report(ItemDone("pass", t, clip.count, message=f"pass {k + 1} of {n}"))
                    report.check()
                elif t >= start:
                    yield t, out
            earlier = done


def shots(frames: list[int], starts: set[int]) -> list[list[int]]:
    """Increasing frame numbers split before each shot start."""
    out: list[list[int]] = []
    for t in frames:
        if not out or t in starts:
            out.append([])
        out[-1].append(t)
    return out
