"""`run(job)`: the one way anything runs, and the model cache behind it.

The CLI, batches, clips, the studio and cluster workers all make Jobs and call `run`; it checks
the job and its output before any model loads, loads the backbone once per process, decides
where and how it runs (`context_for`), reports progress as events, obeys a cancel flag, and
writes the output atomically with its record: the Job, what the engine told of the picture
(core/context.py) and where it was made (media/provenance.py). No engine writes a record.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

from ..models.backbones import Backbone, load_backbone
from ..errors import Interrupted, UserError, as_user_error
from ..events import Failed, Finished, ItemDone, Listener, Reporter, Started, Step, fan_out, snapshots
from ..media.images import check_output_path, partial_path, save_image
from . import registry, threads
from .context import Context, record_for, told
from .job import Job, Result
from ..models.runtime import device_settings, free_memory, precision_name, resolve_device, resolve_precision
from .settings import CommonSettings

# Where a dream or style over a clip's frames runs its frames: the one module every clip shares.
CLIPS = "dreamstyle.engines.clip"

# Loaded backbones, newest last. Two: a studio switching between two models keeps both; VGG19
# is ~0.55 GB, so more would cost memory a long-lived process never gives back.
CACHE_SIZE = 2
_cache: OrderedDict[tuple, Backbone] = OrderedDict()
_cache_lock = threading.Lock()
_loads = 0  # backbones this process has loaded: a cluster worker reports it, to show it loads once


def load(s: CommonSettings, device=None) -> Backbone:
    """The backbone for these settings, loaded once per process, on `device` (as `context_for`
    decided it; without one, the device `s` names).

    Keyed by model, weights (path, size and modification time, so an edited file loads again),
    device and pooling: what changes the loaded module. Precision is left out on purpose: the
    half-precision copy of the weights is made on first use inside the backbone, so one loaded
    model serves every precision.
    """
    device = device if device is not None else resolve_device(s.device)
    pooling = getattr(s, "pooling", "max")
    key = (s.model, _file_key(s.weights), str(device), pooling)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        backbone = load_backbone(s.model, weights=s.weights, device=device, pooling=pooling, progress=not s.quiet)
        global _loads
        _loads += 1
        _cache[key] = backbone
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return backbone


def context_for(s: CommonSettings, backbone: Backbone | None = None, report: Reporter | None = None, *, load_backbone: bool = True) -> Context:
    """What a run of `s` runs with, decided here alone: the device, the backbone (`backbone`, or
    the cached one for `s`) checked for the pooling `s` asks and placed on that device, the
    precision it runs in there, and the reporter (a silent one without `report`). `run` comes
    here for every job; an engine's public function called without a Context (tests, the bench,
    scripts) comes here too."""
    device = resolve_device(s.device)
    if not load_backbone:  # an engine that runs no backbone (a trained network paints on its own)
        # Its network is all dense convolutions, so `auto` takes bf16 wherever it is native: a
        # trained network's bf16 pictures differ from fp32's by 0.25 levels in 255 on average,
        # 3 at most (docs/fast.md), and paint 1.5-1.8x sooner.
        return Context(None, device, resolve_precision(s.precision, device), report or Reporter())
    backbone = backbone if backbone is not None else load(s, device)
    pooling = getattr(s, "pooling", "max")
    if getattr(backbone, "pooling", "max") != pooling:
        raise UserError(f"--pooling {pooling} needs the backbone loaded with it", f"load it with load_backbone(..., pooling={pooling!r})")
    backbone = backbone.to(device)
    return Context(backbone, device, resolve_precision(s.precision, device, backbone), report or Reporter())


def loads() -> int:
    """How many backbones this process has loaded so far (cache hits not counted)."""
    return _loads


def _file_key(path: str | None) -> tuple | None:
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return (str(path),)  # loading will say what is wrong with it
    return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def _is_frames(job: Job) -> bool:
    """A zoom or a clip: the output is a video, written frame by frame."""
    return bool(registry.engine(job.engine).frames) or job.is_clip


def snapshot_path(out: Path, step: int) -> Path:
    return out.with_name(f"{out.stem}.step{step:05d}{out.suffix}")


def _check_output(job: Job, force: bool) -> Path | None:
    """Refuse a bad or taken output before any work starts."""
    if job.output is None:
        return None
    if _is_frames(job):
        from ..media.video import check_output

        if job.motion.debug_flow is not None:
            registry.referenced(CLIPS + ":check_debug_flow")(job.motion.debug_flow, force)
        return check_output(job.output, force=force)
    if registry.engine(job.engine).output == "network":
        from ..media.network_file import check_network_output

        return check_network_output(job.output, force)
    out = check_output_path(job.output, force=force)
    if job.settings.save_every and not force:
        # Refuse up front rather than clobber snapshots of an earlier run halfway through this one.
        old = sorted(out.parent.glob(f"{out.stem}.step*{out.suffix}"))
        if old:
            raise UserError(f"snapshots of an earlier run exist ({old[0].name}, …)", "move them away or pass --force to overwrite")
    return out


def run(job: Job, *, on_event: Listener | None = None, cancel: threading.Event | None = None,
        backbone: Backbone | None = None, force: bool = False) -> Result:
    """Run `job`: write `job.output` when set (atomically, the Job embedded; an existing file
    only with `force`) and return the picture(s), each carrying its record in `.info["dreamstyle"]`
    (as do the pictures its Step events show).

    `on_event` hears Started, Step, ItemDone, Finished or Failed (events.py). `cancel` (a
    threading.Event) is checked every step; once set, the run stops and raises `Interrupted`
    with the picture as it stood, kept as OUT.partial.EXT when the job has an output. A given
    `backbone` is used instead of the cache (it must be loaded with the job's pooling).
    """
    report = Reporter(on_event, cancel)
    start = time.perf_counter()
    engine = registry.engine(job.engine)
    try:
        registry.check(job)
        out = _check_output(job, force)
        s = job.settings
        clip = None
        if job.is_clip:
            clip = registry.referenced(CLIPS + ":open_source")(job)  # a damaged video is refused before a model loads
        ctx = context_for(s, backbone, report, load_backbone=engine.backbone)
        frames = _is_frames(job)
        name = ctx.backbone.name if ctx.backbone is not None else engine.name
        total = 0
        if frames:
            total = registry.referenced(CLIPS + ":units")(job, clip.count) if clip else job.motion.frames
        weights = ctx.backbone.weights if ctx.backbone is not None else getattr(s, "net", "")
        report(Started(job, total, "frame" if frames else "step", f"{engine.label} {name}", name, weights,
                       str(ctx.device), precision_name(ctx.dtype)))  # fmt: skip
        # cuDNN benchmark (or determinism), and the CPU threads it computes with, for this run only
        with device_settings(ctx.device, s.deterministic), threads.applied(s.threads):
            if frames:
                result = _run_frames(job, clip, ctx.backbone, report, out, force)
            elif engine.output == "network":
                from .network_output import run_network

                result = run_network(job, ctx, out, force)
            else:
                result = _run_picture(job, ctx, out, force)
    except Interrupted as exc:
        report(Failed("interrupted", cancelled=True, partial=exc.path))
        raise
    except UserError as exc:
        report(Failed(exc.message, exc.hint))
        raise
    except (MemoryError, RuntimeError) as exc:
        err = as_user_error(exc)
        if err is None:
            raise  # a bug: it keeps its traceback
        free_memory(exc)  # the failed run's tensors and torch's GPU cache, for whatever runs next
        report(Failed(err.message, err.hint))
        raise err from None
    result.seconds = time.perf_counter() - start
    report(Finished(result, result.seconds))
    return result


def _finished(job: Job, img, ctx: Context, **ran):
    """`img` with its record: `job`, the settings as the engine ran them (the job's when it told
    none) naming the network that ran, where and how it ran, and the engine's facts."""
    made = told(img)
    img.info["dreamstyle"] = record_for(job, ctx, (made.settings or job.settings).to_dict(), made.facts, **ran)
    return img


def _recorded(job: Job, ctx: Context, listener: Listener | None) -> Listener | None:
    """`listener`, hearing this run's pictures as they stand already finished like its output
    (snapshots, the studio's previews)."""
    if listener is None:
        return None

    def finishing(picture):
        def finished():
            img = picture()
            return _finished(job, img, ctx) if img is not None else None

        return finished

    def forward(event) -> None:
        if isinstance(event, Step) and event.level == 0:
            event = dataclasses.replace(event, picture=finishing(event.picture))
        listener(event)

    return forward


def _run_picture(job: Job, ctx: Context, out: Path | None, force: bool) -> Result:
    def save_snapshot(step: int, img) -> None:
        save_image(img, snapshot_path(out, step), settings=img.info["dreamstyle"], force=force)

    snap = snapshots(job.settings.save_every, save_snapshot) if out is not None and job.settings.save_every else None
    where = _Position(job.engine)
    report = ctx.report
    inner = Reporter(fan_out(_recorded(job, ctx, fan_out(report.on_event, snap)), where), report.cancel)
    try:
        images = registry.engine(job.engine).make()(job, dataclasses.replace(ctx, report=inner))
    except Interrupted as exc:
        if exc.image is not None:
            exc.image = _finished(job, exc.image, ctx, interrupted=where.record())
            if out is not None:
                exc.path = save_image(exc.image, partial_path(out), settings=exc.image.info["dreamstyle"])
        raise
    images = [_finished(job, img, ctx) for img in images]
    if out is not None:
        save_image(images[0], out, settings=images[0].info["dreamstyle"], force=force)
    return Result(job, images, out)


def _run_frames(job: Job, clip, backbone: Backbone, report: Reporter, out: Path | None, force: bool) -> Result:
    """A zoom or a clip: frame after frame, each frame one run with the loaded backbone."""
    from ..media.video import write_frames

    run_one = frame_runner(backbone)
    if clip is None:
        frames, fps = registry.referenced(registry.engine(job.engine).frames)(job, report, run_one)
    else:
        frames, fps = registry.referenced(CLIPS + ":clip_frames")(job, clip, report, run_one), clip.fps
    if out is None:
        images = list(frames)
        return Result(job, images, None, frames=len(images))
    counted = _Counted(frames)
    path = write_frames(counted, out, fps, force=force)
    return Result(job, [], path, frames=counted.n)


def frame_runner(backbone: Backbone):
    """How a zoom or clip runs each of its frames: a run of its own, with the loaded backbone and
    the frame's events one level down."""

    def run_one(frame_job: Job, inner: Reporter) -> Result:
        return run(frame_job, on_event=inner.on_event, cancel=inner.cancel, backbone=backbone)

    return run_one


class _Position:
    """How far a picture's run got, for the record of what Ctrl-C keeps: its last step and the
    octaves or scales it had finished."""

    def __init__(self, engine: str):
        self.step = self.total = self.finished = 0
        self.part, self.parts = registry.engine(engine).parts, None  # what a run is made of, coarse to fine

    def __call__(self, event) -> None:
        if event.level != 0:
            return
        if isinstance(event, Step):
            self.step, self.total = event.step, event.total
        elif isinstance(event, ItemDone) and event.kind == self.part:
            self.finished, self.parts = event.index + 1, event.count

    def record(self) -> dict:
        at = {"step": self.step, "of": self.total}
        if self.part:
            at.update(part=self.part, finished=self.finished, parts=self.parts)
        return at


class _Counted:
    def __init__(self, frames):
        self.frames, self.n = frames, 0

    def __iter__(self):
        for f in self.frames:
            self.n += 1
            yield f


def clear_cache() -> None:
    """Forget the loaded backbones (tests, or a studio freeing memory)."""
    with _cache_lock:
        _cache.clear()

