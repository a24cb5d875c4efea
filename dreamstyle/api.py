"""The Python API's everyday calls: each builds a Job and runs it.

`dreamstyle.dream(photo, steps=20)` is `run(Job("dream", {"image": photo}, DreamSettings(steps=20)))`
with the picture returned; keywords are the settings' fields plus `preset=`. Without a listener
of the caller's (`on_event`), a run shows the terminal's progress bar unless `quiet=True`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from .models.backbones import Backbone
from .core.console import Console
from .errors import Interrupted
from .events import ItemDone, Listener, Reporter, fan_out, snapshots
from .core.job import Job
from .core.presets import merge, resolve
from .core.runner import run
from .core.settings import CommonSettings, DreamSettings, MotionSettings, StyleSettings
from .core.settings_fast import FastSettings, TrainSettings

SnapshotFn = Callable[[int, Image.Image], None]


def _listener(s: CommonSettings, on_event: Listener | None, on_snapshot: SnapshotFn | None = None) -> Listener | None:
    shown = on_event if on_event is not None else (None if s.quiet else Console())
    return fan_out(shown, snapshots(s.save_every, on_snapshot) if on_snapshot and s.save_every else None)


def _model(backbone: Backbone | None) -> str | None:
    return backbone.name if backbone is not None else None


def dream(image: Any, settings: DreamSettings | None = None, *, mask: Any = None, backbone: Backbone | None = None,
          on_snapshot: SnapshotFn | None = None, on_event: Listener | None = None,
          cancel: threading.Event | None = None, **overrides: Any) -> Image.Image:
    """DeepDream `image` (a path, PIL image or Picture); returns a PIL image carrying its Job in
    `.info["dreamstyle"]` and keeping the input's alpha. On Ctrl-C (or `cancel`) raises
    `Interrupted` holding the picture as it stood. `on_snapshot(step, picture)` is called every
    `save_every` steps. `mask`: dream only where it is white (docs/regions.md)."""
    s = resolve(DreamSettings, "dream", settings, overrides, _model(backbone))
    job = Job("dream", {"image": image, **({"mask": mask} if mask is not None else {})}, s)
    return run(job, on_event=_listener(s, on_event, on_snapshot), cancel=cancel, backbone=backbone).image


def stylize(content: Any, style: Any, settings: StyleSettings | None = None, *, masks: Sequence[Any] | None = None, regions: Any = None,
            style_masks: Sequence[Any] | None = None, backbone: Backbone | None = None, on_snapshot: SnapshotFn | None = None,
            on_event: Listener | None = None, cancel: threading.Event | None = None, **overrides: Any) -> Image.Image:  # fmt: skip
    """Paint `content` in the manner of `style` (a path/PIL image, or a list of them to blend).
    Settings are the fields of StyleSettings as keywords (or `settings=`, or `preset=`). By
    region (docs/regions.md): `masks`, one per style, or `regions`, a colour map or "auto:K";
    `style_masks`, the part of each painting to take."""
    s = resolve(StyleSettings, "style", settings, overrides, _model(backbone))
    parts = {k: v for k, v in (("masks", masks and list(masks)), ("regions", regions), ("style_masks", style_masks and list(style_masks))) if v}
    job = Job("style", {"content": content, "styles": _styles(style), **parts}, s)
    return run(job, on_event=_listener(s, on_event, on_snapshot), cancel=cancel, backbone=backbone).image


def stylize_sweep(content: Any, style: Any, style_weights: Sequence[float], settings: StyleSettings | None = None, *,
                  backbone: Backbone | None = None, on_event: Listener | None = None, **overrides: Any) -> list[Image.Image]:
    """One picture per style weight, optimised together as one batch (one pass of the network
    per step for all of them, which keeps a GPU busy); each carries its own weight in its Job."""
    s = resolve(StyleSettings, "style", settings, overrides, _model(backbone))
    job = Job("style", {"content": content, "styles": _styles(style), "sweep": list(style_weights)}, s)
    return run(job, on_event=_listener(s, on_event), backbone=backbone).images


def train_network(styles: Any, output, *, photos=None, resume=None, settings: TrainSettings | None = None,
                  on_event: Listener | None = None, cancel: threading.Event | None = None, force: bool = False,
                  **overrides: Any) -> Path:  # fmt: skip
    """Train a network that paints like `styles` (a painting's path, or a list: one network holds
    them all) on the photos of the folder `photos` (the bundled samples without one), as
    `dreamstyle train` does; writes `output` (.pt) and returns its path. `resume`: a network to
    go on training. On Ctrl-C (or `cancel`) raises `Interrupted`; OUTPUT.partial.pt is kept.
    Settings are TrainSettings' fields as keywords (`minutes=5`, `iterations=…`)."""
    s = resolve(TrainSettings, "train", settings, overrides)
    inputs = {"styles": [str(p) for p in _styles(styles)], "photos": str(photos) if photos else None, "resume": str(resume) if resume else None}
    return run(Job("train", inputs, s, output=str(output)), on_event=_listener(s, on_event), cancel=cancel, force=force).output


def stylize_with_network(content: Any, net, settings: FastSettings | None = None, **overrides: Any) -> Image.Image:
    """Paint `content` (a path, PIL image or Picture) with a network `train_network` made (the
    .pt file's path), in one pass; `mix=[0.3, 0.7]` blends the paintings it holds, `size=`
    sets the longest side. Returns a PIL image carrying its Job, as `stylize` does."""
    s = resolve(FastSettings, "fast", settings, {**overrides, "net": str(net)})
    return run(Job("fast", {"content": content}, s), on_event=_listener(s, None)).image


def _styles(style: Any) -> list:
    return list(style) if isinstance(style, (list, tuple)) else [style]


# --- motion ----------------------------------------------------------------------------------


def _zoom_job(image: Any, frames: int, zoom: float, rotate: float, fps: float | None, settings, backbone, overrides) -> Job:
    """Settings as for `dream()`, but `octaves` defaults to 2 under a preset and keywords: each
    frame starts from an already dreamed one."""
    from .engines.zoom import ZOOM_OCTAVES

    motion = MotionSettings(frames=frames, zoom=zoom, rotate=rotate, fps=fps)
    if settings is None and "octaves" not in overrides:
        model = _model(backbone) or overrides.get("model", DreamSettings.model)
        if "octaves" not in merge("dream", overrides.get("preset"), {}, model):
            overrides = {**overrides, "octaves": ZOOM_OCTAVES}
    s = resolve(DreamSettings, "dream", settings, dict(overrides), _model(backbone))
    return Job("zoom", {"image": image}, s, motion=motion)


def zoom(image: Any, frames: int = 24, *, zoom: float = 1.05, rotate: float = 0.0, settings: DreamSettings | None = None,
         backbone: Backbone | None = None, on_event: Listener | None = None, **overrides: Any) -> list[Image.Image]:
    """The feedback zoom as a list of frames: dream, zoom/rotate the dream, dream that, …
    On Ctrl-C raises `Interrupted` with `.frames` the finished ones."""
    job = _zoom_job(image, frames, zoom, rotate, None, settings, backbone, overrides)
    done: list[Image.Image] = []

    def keep(event) -> None:
        if isinstance(event, ItemDone) and event.kind == "frame" and event.level == 0:
            done.append(event.image)

    try:
        return run(job, on_event=fan_out(_listener(job.settings, on_event), keep), backbone=backbone).images
    except Interrupted as exc:
        raise Interrupted(done[-1] if done else None, frames=done) from None


def zoom_video(image: Any, output, frames: int = 24, *, zoom: float = 1.05, rotate: float = 0.0, fps: float | None = None,
               force: bool = False, settings: DreamSettings | None = None, backbone: Backbone | None = None, **overrides: Any) -> Path:
    """The feedback zoom written to `output` (.mp4, .gif or a folder of PNGs) at `fps` (12)."""
    job = _zoom_job(image, frames, zoom, rotate, fps, settings, backbone, overrides).replace(output=str(output))
    return run(job, on_event=_listener(job.settings, None), backbone=backbone, force=force).output


def _clip_job(engine: str, source: Any, style: Any, settings, motion: dict[str, Any], backbone, overrides) -> Job:
    """`motion`: the clip keywords given (None where not), as the CLI's flags: `blend` alone means
    `temporal="blend"`; `long_term=True` means frames 1, 2 and 4 back; `cuts` may be a list of
    frame numbers as well as "auto", "none" or "12,40"."""
    from .core.planning import clip_motion
    from .core.settings import LONG_TERM

    cls = StyleSettings if engine == "style" else DreamSettings
    s = resolve(cls, engine, settings, dict(overrides), _model(backbone))
    inputs = {"content": source, "styles": _styles(style)} if engine == "style" else {"image": source}
    if motion.get("long_term") is True:
        motion = {**motion, "long_term": list(LONG_TERM)}
    elif motion.get("long_term") is False:
        motion = {**motion, "long_term": None}
    if isinstance(motion.get("cuts"), (list, tuple)):
        motion = {**motion, "cuts": ",".join(str(c) for c in motion["cuts"]) or "none"}
    return Job(engine, inputs, s, motion=clip_motion(engine, motion))


def _frames(job: Job, backbone: Backbone | None) -> Iterator[Image.Image]:
    from .engines.clip import clip_frames, open_source
    from .core.runner import frame_runner, load

    backbone = backbone if backbone is not None else load(job.settings)
    yield from clip_frames(job, open_source(job), Reporter(_listener(job.settings, None)), frame_runner(backbone))


def dream_frames(source: Any, settings: DreamSettings | None = None, *, temporal: str | None = None, blend: float | None = None,
                 cuts: str | list[int] | None = None, backbone: Backbone | None = None, **overrides: Any) -> Iterator[Image.Image]:
    """Dream every frame of `source` (a video path, GIF, frame folder or list of PIL images), one at
    a time, each held to the one before (`temporal`: "flow", the default, "blend" or "none";
    `blend`: the share of the previous frame's dream carried on, 0.5; see temporal.py), each
    new shot starting afresh (`cuts`: "auto", the default, "none", or the frames where a new
    shot starts, e.g. [48]; see engines/cuts.py)."""
    motion = dict(temporal=temporal, blend=blend, cuts=cuts)
    return _frames(_clip_job("dream", source, None, settings, motion, backbone, overrides), backbone)


def stylize_frames(source: Any, style: Any, settings: StyleSettings | None = None, *, temporal: str | None = None,
                   blend: float | None = None, temporal_weight: float | None = None, long_term: bool | list[int] | None = None,
                   passes: int | None = None, cuts: str | list[int] | None = None, backbone: Backbone | None = None,
                   **overrides: Any) -> Iterator[Image.Image]:
    """Paint every frame of `source` in the manner of `style`, each held to the frames before it
    (`temporal` and `cuts` as for `dream_frames`; with "flow", `temporal_weight`, `long_term` and
    `passes` as the CLI's --temporal-weight, --long-term and --passes)."""
    motion = dict(temporal=temporal, blend=blend, temporal_weight=temporal_weight, long_term=long_term, passes=passes, cuts=cuts)
    return _frames(_clip_job("style", source, style, settings, motion, backbone, overrides), backbone)


def dream_video(source: Any, output, settings: DreamSettings | None = None, *, temporal: str | None = None,
                blend: float | None = None, fps: float | None = None, cuts: str | list[int] | None = None,
                backbone: Backbone | None = None, force: bool = False, **overrides: Any) -> Path:
    """Dream a video, GIF or frame folder into `output` (.mp4, .gif or a folder of PNGs); see
    `dream_frames`."""
    motion = dict(temporal=temporal, blend=blend, fps=fps, cuts=cuts)
    job = _clip_job("dream", source, None, settings, motion, backbone, overrides).replace(output=str(output))
    return run(job, on_event=_listener(job.settings, None), backbone=backbone, force=force).output


def stylize_video(source: Any, style: Any, output, settings: StyleSettings | None = None, *, temporal: str | None = None,
                  blend: float | None = None, temporal_weight: float | None = None, long_term: bool | list[int] | None = None,
                  passes: int | None = None, fps: float | None = None, cuts: str | list[int] | None = None,
                  backbone: Backbone | None = None, force: bool = False, **overrides: Any) -> Path:
    """Stylise a video, GIF or frame folder into `output`; see `stylize_frames`."""
    motion = dict(temporal=temporal, blend=blend, temporal_weight=temporal_weight, long_term=long_term, passes=passes, fps=fps, cuts=cuts)
    job = _clip_job("style", source, style, settings, motion, backbone, overrides).replace(output=str(output))
    return run(job, on_event=_listener(job.settings, None), backbone=backbone, force=force).output
