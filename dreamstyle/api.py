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

from .backbones import Backbone
from .console import Console
from .errors import Interrupted
from .events import ItemDone, Listener, Reporter, fan_out, snapshots
from .job import Job
from .presets import merge, resolve
from .run import run
from .settings import CommonSettings, DreamSettings, MotionSettings, StyleSettings

SnapshotFn = Callable[[int, Image.Image], None]


def _listener(s: CommonSettings, on_event: Listener | None, on_snapshot: SnapshotFn | None = None) -> Listener | None:
    shown = on_event if on_event is not None else (None if s.quiet else Console())
    return fan_out(shown, snapshots(s.save_every, on_snapshot) if on_snapshot and s.save_every else None)


def _model(backbone: Backbone | None) -> str | None:
    return backbone.name if backbone is not None else None


def dream(image: Any, settings: DreamSettings | None = None, *, backbone: Backbone | None = None,
          on_snapshot: SnapshotFn | None = None, on_event: Listener | None = None,
          cancel: threading.Event | None = None, **overrides: Any) -> Image.Image:
    """DeepDream `image` (a path, PIL image or Picture); returns a PIL image carrying its Job in
    `.info["dreamstyle"]` and keeping the input's alpha. On Ctrl-C (or `cancel`) raises
    `Interrupted` holding the picture as it stood. `on_snapshot(step, picture)` is called every
    `save_every` steps."""
    s = resolve(DreamSettings, "dream", settings, overrides, _model(backbone))
    job = Job("dream", {"image": image}, s)
    return run(job, on_event=_listener(s, on_event, on_snapshot), cancel=cancel, backbone=backbone).image


def stylize(content: Any, style: Any, settings: StyleSettings | None = None, *, backbone: Backbone | None = None,
            on_snapshot: SnapshotFn | None = None, on_event: Listener | None = None,
            cancel: threading.Event | None = None, **overrides: Any) -> Image.Image:
    """Paint `content` in the manner of `style` (a path/PIL image, or a list of them to blend).
    Settings are the fields of StyleSettings as keywords (or `settings=`, or `preset=`)."""
    s = resolve(StyleSettings, "style", settings, overrides, _model(backbone))
    job = Job("style", {"content": content, "styles": _styles(style)}, s)
    return run(job, on_event=_listener(s, on_event, on_snapshot), cancel=cancel, backbone=backbone).image


def stylize_sweep(content: Any, style: Any, style_weights: Sequence[float], settings: StyleSettings | None = None, *,
                  backbone: Backbone | None = None, on_event: Listener | None = None, **overrides: Any) -> list[Image.Image]:
    """One picture per style weight, optimised together as one batch (one pass of the network
    per step for all of them, which keeps a GPU busy); each carries its own weight in its Job."""
    s = resolve(StyleSettings, "style", settings, overrides, _model(backbone))
    job = Job("style", {"content": content, "styles": _styles(style), "sweep": list(style_weights)}, s)
    return run(job, on_event=_listener(s, on_event), backbone=backbone).images


def _styles(style: Any) -> list:
    return list(style) if isinstance(style, (list, tuple)) else [style]


# --- motion ----------------------------------------------------------------------------------


def _zoom_job(image: Any, frames: int, zoom: float, rotate: float, fps: float | None, settings, backbone, overrides) -> Job:
    """Settings as for `dream()`, but `octaves` defaults to 2 under a preset and keywords: each
    frame starts from an already dreamed one."""
    from .zoom import ZOOM_OCTAVES

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


def _clip_job(engine: str, source: Any, style: Any, settings, blend: float, fps: float | None, backbone, overrides) -> Job:
    cls = StyleSettings if engine == "style" else DreamSettings
    s = resolve(cls, engine, settings, dict(overrides), _model(backbone))
    inputs = {"content": source, "styles": _styles(style)} if engine == "style" else {"image": source}
    return Job(engine, inputs, s, motion=MotionSettings(blend=blend, fps=fps))


def _frames(job: Job, backbone: Backbone | None) -> Iterator[Image.Image]:
    from .clip import clip_frames, open_source
    from .run import frame_runner, load

    backbone = backbone if backbone is not None else load(job.settings)
    yield from clip_frames(job, open_source(job), Reporter(_listener(job.settings, None)), frame_runner(backbone))


def dream_frames(source: Any, settings: DreamSettings | None = None, *, blend: float = 0.5,
                 backbone: Backbone | None = None, **overrides: Any) -> Iterator[Image.Image]:
    """Dream every frame of `source` (a video path, frame folder or list of PIL images), one at a
    time: frame t starts from `frame[t] + blend * (output[t-1] - frame[t-1])` (clip.py)."""
    return _frames(_clip_job("dream", source, None, settings, blend, None, backbone, overrides), backbone)


def stylize_frames(source: Any, style: Any, settings: StyleSettings | None = None, *, blend: float = 0.5,
                   backbone: Backbone | None = None, **overrides: Any) -> Iterator[Image.Image]:
    """Paint every frame of `source` in the manner of `style`, blended as `dream_frames` is."""
    return _frames(_clip_job("style", source, style, settings, blend, None, backbone, overrides), backbone)


def dream_video(source: Any, output, settings: DreamSettings | None = None, *, blend: float = 0.5, fps: float | None = None,
                backbone: Backbone | None = None, force: bool = False, **overrides: Any) -> Path:
    """Dream a video or frame folder into `output` (.mp4, .gif or a folder of PNGs)."""
    job = _clip_job("dream", source, None, settings, blend, fps, backbone, overrides).replace(output=str(output))
    return run(job, on_event=_listener(job.settings, None), backbone=backbone, force=force).output


def stylize_video(source: Any, style: Any, output, settings: StyleSettings | None = None, *, blend: float = 0.5,
                  fps: float | None = None, backbone: Backbone | None = None, force: bool = False, **overrides: Any) -> Path:
    """Stylise a video or frame folder into `output`; see `stylize_frames` for the blending."""
    job = _clip_job("style", source, style, settings, blend, fps, backbone, overrides).replace(output=str(output))
    return run(job, on_event=_listener(job.settings, None), backbone=backbone, force=force).output
