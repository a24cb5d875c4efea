"""Motion: frames in and out, the feedback zoom, and dream/style over a clip with temporal blending.

Frames are read from MP4 (and the other containers ffmpeg reads) through imageio-ffmpeg, whose
wheel ships an ffmpeg binary, or from a folder of pictures in name order. They are written as
H.264 MP4 (imageio-ffmpeg), looping GIF (Pillow) or a folder of PNGs. Every engine call gets the
one backbone loaded up front; the engines' own bars are silenced for one bar over the frames.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .backbones import Backbone, load_backbone
from .batch import image_files
from .dream import as_picture, dream
from .errors import UserError
from .images import DEFAULT_MAX_PIXELS, _publish, load_image, partial_path, resize_longest, to_pil, to_tensor
from .optimize import Interrupted, Progress
from .presets import merge
from .runtime import announce, resolve_device, resolve_precision
from .settings import DreamSettings, StyleSettings, resolve

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")  # read through ffmpeg
OUTPUT_SUFFIXES = (".mp4", ".gif")  # anything else without a suffix is a folder of PNG frames
FOLDER_FPS = 24.0  # a folder of frames carries no rate of its own
ZOOM_FPS = 12.0
ZOOM_OCTAVES = 2  # each frame starts from a dreamed one, so fewer octaves suffice and save time
MP4_QUALITY = 8  # imageio-ffmpeg's scale: 8 is x264 CRF 10, near-lossless for these textures


@dataclass(kw_only=True)
class MotionSettings:
    """The knobs of zoom and video runs, on top of the engine's own settings."""

    frames: int = 24  # zoom: how many frames, the first being the first dream
    zoom: float = 1.05  # zoom: scale per frame about the centre (<1 zooms out)
    rotate: float = 0.0  # zoom: degrees per frame, counter-clockwise
    fps: float | None = None  # output rate; None: the input's (a video), 24 (a frame folder), 12 (zoom)
    blend: float = 0.5  # video: share of frame t-1's stylisation carried onto frame t; 0: independent

    def __post_init__(self) -> None:
        if not 1 <= self.frames <= 100_000:
            raise UserError(f"--frames {self.frames} is out of range", "use 1 up to 100000")
        if not 0.5 <= self.zoom <= 2.0:
            raise UserError(f"--zoom {self.zoom} is out of range", "use 0.5 to 2, e.g. 1.05 (1: no zoom)")
        if not -180 <= self.rotate <= 180:
            raise UserError(f"--rotate {self.rotate} is out of range", "use -180 to 180 degrees per frame, e.g. 1")
        if self.fps is not None and not 0.1 <= self.fps <= 240:
            raise UserError(f"--fps {self.fps} is out of range", "use 0.1 to 240")
        # 1 would ignore the video after its first frame.
        if not 0 <= self.blend <= 0.95:
            raise UserError(f"--blend {self.blend} is out of range", "use 0 (independent frames) to 0.95, e.g. 0.5")


# --- reading ---------------------------------------------------------------------------------


def is_video(path) -> bool:
    return path is not None and Path(str(path)).suffix.lower() in VIDEO_SUFFIXES


@dataclass
class Clip:
    """A video or frame folder, opened: its rate and length are known before any frame is decoded."""

    source: Path
    fps: float
    count: int
    size: tuple[int, int] | None  # (width, height); None for a folder, whose pictures may differ
    read: Callable[[], Iterator[Image.Image]]

    def frames(self) -> Iterator[Image.Image]:
        return self.read()


def open_clip(source, *, fps: float | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Clip:
    """An MP4 (or .mov/.mkv/.webm/.avi) file, or a folder of pictures taken in name order."""
    path = Path(str(source)).expanduser()
    if not path.exists():
        raise UserError(f"no such file or folder: {path}", "check the path and spelling")
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise UserError(f"{path} holds no frames", "put numbered .png/.jpg frames in it")

        def read_folder() -> Iterator[Image.Image]:
            for f in files:
                yield load_image(f, max_pixels=max_pixels).rgb

        return Clip(path, fps or FOLDER_FPS, len(files), None, read_folder)
    if not is_video(path):
        raise UserError(f"{path} is not a video", f"use a {', '.join(VIDEO_SUFFIXES)} file or a folder of frames")
    import imageio_ffmpeg

    try:
        gen = imageio_ffmpeg.read_frames(str(path))
        meta = next(gen)
        gen.close()
        count, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (OSError, RuntimeError, StopIteration) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path} could not be read as a video ({first})", "is it damaged or truncated? re-export it as MP4 (H.264)") from None
    w, h = meta["size"]
    if max_pixels is not None and w * h > max_pixels:
        raise UserError(f"{path} frames are too large ({w}x{h}, limit {max_pixels:,} pixels)", f"pass --max-pixels {w * h} if you trust it")
    if not count:
        raise UserError(f"{path} holds no video frames", "check the file plays")
    rate = fps or float(meta.get("fps") or FOLDER_FPS)

    def read_video() -> Iterator[Image.Image]:
        reader = imageio_ffmpeg.read_frames(str(path))
        try:
            size = next(reader)["size"]
            for data in reader:
                yield Image.frombytes("RGB", size, data)
        finally:
            reader.close()

    return Clip(path, rate, count, (w, h), read_video)


def read_frames(source) -> tuple[list[Image.Image], float]:
    """All frames of a video, GIF or frame folder as RGB images, and the rate: for tests and
    small clips (a long video is better streamed with `open_clip(...).frames()`)."""
    path = Path(str(source))
    if path.suffix.lower() == ".gif":
        from PIL import ImageSequence

        with Image.open(path) as gif:
            frames = [f.convert("RGB") for f in ImageSequence.Iterator(gif)]
            ms = gif.info.get("duration") or 1000 / FOLDER_FPS
        return frames, 1000.0 / ms
    clip = open_clip(path)
    return list(clip.frames()), clip.fps


# --- writing ---------------------------------------------------------------------------------


def output_kind(path) -> str:
    path = Path(str(path))
    suffix = path.suffix.lower()
    if suffix in OUTPUT_SUFFIXES:
        return suffix[1:]
    if path.is_dir() or not suffix:
        return "frames"
    raise UserError(f"cannot write a video to {path}", "name an .mp4 or .gif file, or a folder for PNG frames")


def check_output(path, *, force: bool = False) -> Path:
    """Refuse a bad or taken output before any frame is computed."""
    path = Path(str(path)).expanduser()
    kind = output_kind(path)
    parent = path.parent
    if not parent.is_dir():
        raise UserError(f"output folder {parent} does not exist", f"create it first: mkdir -p {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"output folder {parent} is not writable", "choose another folder")
    if kind == "frames":
        if path.exists() and any(path.glob("frame_*.png")) and not force:
            raise UserError(f"{path} already holds frames", "pass --force to overwrite them, or pick another folder")
    elif path.exists() and not force:
        raise UserError(f"{path} already exists", "pass --force to overwrite")
    return path


class FrameWriter:
    """Frames to an MP4, a GIF or a folder of PNGs. A file appears under its name only when
    `close()` finishes it (written beside it under a hidden name, then renamed); `abort()` keeps
    what was written as OUT.partial.EXT instead."""

    def __init__(self, path, fps: float, *, force: bool = False):
        self.path = check_output(path, force=force)
        self.kind = output_kind(self.path)
        self.fps = fps
        self.force = force
        self.count = 0
        self._size: tuple[int, int] | None = None
        self._first: tuple[int, int] | None = None
        self._tmp: Path | None = None
        self._gen = None  # imageio-ffmpeg's writer
        self._gif: list[Image.Image] = []

    def write(self, img: Image.Image) -> None:
        rgb = img.convert("RGB")
        if self._size is None:
            self._first = rgb.size
            # H.264 in yuv420p wants even sides; dropping a pixel row beats a rescale.
            w, h = rgb.size
            self._size = (w - w % 2, h - h % 2) if self.kind == "mp4" else (w, h)
            self._start(img.info.get("dreamstyle"))
        if rgb.size != self._size:
            # A frame folder may mix sizes; a video's frames must not.
            rgb = rgb.crop((0, 0, *self._size)) if rgb.size == self._first else rgb.resize(self._size, Image.LANCZOS)
        if self.kind == "mp4":
            self._gen.send(np.ascontiguousarray(np.asarray(rgb)).tobytes())
        elif self.kind == "gif":
            self._gif.append(rgb)
        else:
            from .images import save_image

            self.path.mkdir(exist_ok=True)
            save_image(rgb, self.path / f"frame_{self.count:05d}.png", settings=img.info.get("dreamstyle"), force=True)
        self.count += 1

    def _start(self, meta: dict | None) -> None:
        if self.kind == "frames":
            return
        self._tmp = self.path.parent / f".{self.path.stem}.{secrets.token_hex(4)}.tmp{self.path.suffix}"
        if self.kind == "mp4":
            import imageio_ffmpeg

            extra = ["-metadata", "comment=" + json.dumps(meta, sort_keys=True)] if meta else []
            self._gen = imageio_ffmpeg.write_frames(
                str(self._tmp), self._size, fps=self.fps, quality=MP4_QUALITY, macro_block_size=1,
                ffmpeg_log_level="error", output_params=extra,
            )  # fmt: skip
            self._gen.send(None)

    def _finish(self, target: Path, force: bool) -> Path:
        if self.kind == "frames":
            return self.path
        try:
            if self.kind == "mp4":
                self._gen.close()
            else:
                first, *rest = self._gif
                first.save(self._tmp, format="GIF", save_all=True, append_images=rest,
                           duration=max(20, round(1000 / self.fps)), loop=0)  # fmt: skip
            _publish(self._tmp, target, force)
        except OSError as e:
            raise UserError(f"could not write {target}: {e.strerror or e}", "check free disk space and permissions") from None
        finally:
            self._tmp.unlink(missing_ok=True)
        return target

    def close(self) -> Path:
        if self.count == 0:
            raise UserError("no frames to write", "the input had none")
        return self._finish(self.path, self.force)

    def discard(self) -> None:
        """Drop an unfinished file after an error: nothing half-written stays behind."""
        if self._gen is not None:
            try:
                self._gen.close()
            except Exception:  # ffmpeg may already be gone; the temp file goes either way
                pass
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)

    def abort(self) -> Path | None:
        """Keep the frames so far as OUT.partial.EXT (the folder itself for PNG frames)."""
        if self.count == 0:
            if self._gen is not None:
                self._gen.close()
            return None
        return self._finish(partial_path(self.path) if self.kind != "frames" else self.path, False)


def write_frames(frames: Iterable[Image.Image], path, fps: float, *, force: bool = False) -> Path:
    """Write `frames` to `path` (.mp4, .gif or a folder of PNGs) atomically. On Ctrl-C the frames
    so far are kept as OUT.partial.EXT and `Interrupted` is raised with `.path` set to it."""
    writer = FrameWriter(path, fps, force=force)
    try:
        for img in frames:
            writer.write(img)
    except (Interrupted, KeyboardInterrupt) as exc:
        image = exc.image if isinstance(exc, Interrupted) else None
        err = Interrupted(image)
        err.path = writer.abort()
        err.frames = writer.count
        raise err from None
    except BaseException:
        writer.discard()
        raise
    return writer.close()


# --- engines ---------------------------------------------------------------------------------


def _tag(img: Image.Image, **inputs: Any) -> Image.Image:
    meta = img.info.get("dreamstyle")
    if meta is not None:
        img.info["dreamstyle"] = {**meta, "inputs": {**meta.get("inputs", {}), **inputs}}
    return img


def _dream_settings(settings: DreamSettings | None, overrides: dict[str, Any], backbone: Backbone | None, octaves: int | None) -> DreamSettings:
    """Like the engine's own resolution, with `octaves` as a default under preset and keywords."""
    if settings is None and octaves is not None and "octaves" not in overrides:
        model = backbone.name if backbone is not None else overrides.get("model", DreamSettings.model)
        if "octaves" not in merge("dream", overrides.get("preset"), {}, model):
            overrides = {**overrides, "octaves": octaves}
    return resolve(DreamSettings, "dream", settings, dict(overrides), backbone.name if backbone is not None else None)


def _loaded(s, backbone: Backbone | None, engine: str, pooling: str = "max") -> Backbone:
    device = resolve_device(s.device)
    if backbone is None:
        backbone = load_backbone(s.model, weights=s.weights, device=device, pooling=pooling, progress=not s.quiet)
    backbone = backbone.to(device)
    announce(engine, backbone.name, backbone.weights, device, resolve_precision(s.precision, device, backbone), s.quiet)
    return backbone


def zoom_step(img: Image.Image, zoom: float, rotate: float = 0.0) -> Image.Image:
    """Scale by `zoom` and turn by `rotate` degrees (counter-clockwise) about the centre, same size.

    One affine resample, not a crop then a resize, so zoom and rotation cost one interpolation;
    where a rotation or a zoom-out reaches past the border the picture is mirrored, not black.
    """
    x = to_tensor(img.convert("RGB"))
    h, w = x.shape[-2:]
    a = math.radians(rotate)
    c, s = math.cos(a) / zoom, math.sin(a) / zoom
    # In affine_grid's [-1, 1] coordinates x and y have different pixel lengths: the aspect ratio
    # keeps the turn a rotation instead of a shear.
    theta = torch.tensor([[[c, s * h / w, 0.0], [-s * w / h, c, 0.0]]], dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return to_pil(F.grid_sample(x, grid, mode="bicubic", padding_mode="reflection", align_corners=False))


def zoom_frames(
    image: Any,
    frames: int = 24,
    *,
    zoom: float = 1.05,
    rotate: float = 0.0,
    settings: DreamSettings | None = None,
    backbone: Backbone | None = None,
    **overrides: Any,
) -> Iterator[Image.Image]:
    """The feedback zoom, frame by frame: dream, zoom/rotate the dream, dream that, …

    Frame 0 is the first dream of `image`. Settings as for `dream()`, but `octaves` defaults to 2
    (a preset or keyword wins). One progress bar over the frames unless `quiet`.
    """
    motion = MotionSettings(frames=frames, zoom=zoom, rotate=rotate)
    s = _dream_settings(settings, overrides, backbone, ZOOM_OCTAVES)
    backbone = _loaded(s, backbone, "zoom")
    inner = dataclasses.replace(s, quiet=True)
    current: Any = as_picture(image, s.max_pixels)
    source = str(current.path) if current.path else None
    current = current.rgb  # an animation has no use for the photo's alpha
    progress = Progress(motion.frames, f"zoom {backbone.name}", quiet=s.quiet)
    try:
        for k in range(motion.frames):
            out = dream(current, inner, backbone=backbone)
            yield _tag(out, image=source, frame=k, zoom=motion.zoom, rotate=motion.rotate)
            progress.update(None)
            current = zoom_step(out, motion.zoom, motion.rotate)
    finally:
        progress.close()


def zoom(image: Any, frames: int = 24, **kwargs: Any) -> list[Image.Image]:
    """`zoom_frames` as a list. On Ctrl-C raises `Interrupted` with `.frames` the finished ones."""
    done: list[Image.Image] = []
    try:
        for img in zoom_frames(image, frames, **kwargs):
            done.append(img)
    except (Interrupted, KeyboardInterrupt):
        err = Interrupted(done[-1] if done else None)
        err.frames = done
        raise err from None
    return done


def _frames_of(source: Any, fps: float | None, max_pixels: int | None) -> tuple[Iterable[Image.Image], int]:
    if isinstance(source, Clip):
        return source.frames(), source.count
    if isinstance(source, (str, Path)):
        clip = open_clip(source, fps=fps, max_pixels=max_pixels)
        return clip.frames(), clip.count
    frames = list(source)  # a sequence of PIL images
    return frames, len(frames)


def _start(frame: Image.Image, previous: tuple[Image.Image, Image.Image] | None, blend: float, size: int | None) -> tuple[Image.Image, Image.Image]:
    """(where frame t's optimisation starts, frame t at the output's size).

    The start is frame t plus `blend` times what the engine added to frame t-1 (its output minus
    its input). Mixing in the previous *output* itself would also mix in the previous frame's
    content, which ghosts and smears anything that moves; the difference carries only the strokes
    or dream patterns, over the new frame's own content. Where nothing moved the two are the same.
    """
    rgb = resize_longest(frame, size) if size else frame
    if previous is None or blend == 0:
        return rgb, rgb
    out, before = (to_tensor(im.convert("RGB").resize(rgb.size, Image.LANCZOS) if im.size != rgb.size else im) for im in previous)
    return to_pil(to_tensor(rgb) + blend * (out - before)), rgb


def dream_frames(
    source: Any,
    settings: DreamSettings | None = None,
    *,
    blend: float = 0.5,
    backbone: Backbone | None = None,
    **overrides: Any,
) -> Iterator[Image.Image]:
    """Dream every frame of `source` (a video path, frame folder, `Clip` or list of PIL images).

    Frame t is dreamed starting from `frame[t] + blend * (output[t-1] - frame[t-1])`: what the
    previous frame grew is carried on and grown again instead of appearing anew (flicker);
    `blend=0` dreams every frame on its own. The same seed for every frame keeps the jitter the
    same too.
    """
    MotionSettings(blend=blend)
    s = resolve(DreamSettings, "dream", settings, dict(overrides), backbone.name if backbone is not None else None)
    frames, count = _frames_of(source, None, s.max_pixels)
    backbone = _loaded(s, backbone, "dream")
    inner = dataclasses.replace(s, quiet=True)
    previous = None
    progress = Progress(count, f"dream {backbone.name}", quiet=s.quiet)
    try:
        for t, frame in enumerate(frames):
            start, rgb = _start(frame, previous, blend, s.size)
            out = dream(start, inner, backbone=backbone)
            previous = (out, rgb)
            yield _tag(out, image=str(source) if isinstance(source, (str, Path)) else None, frame=t, blend=blend)
            progress.update(None)
    finally:
        progress.close()


def stylize_frames(
    source: Any,
    style: Any,
    settings: StyleSettings | None = None,
    *,
    blend: float = 0.5,
    backbone: Backbone | None = None,
    **overrides: Any,
) -> Iterator[Image.Image]:
    """Paint every frame of `source` in the manner of `style` (as for `stylize`).

    Frame t's optimisation starts from `frame[t] + blend * (output[t-1] - frame[t-1])` instead
    of the frame alone (the `init` setting applies to frame 0): strokes already painted stay where
    they were unless the losses move them, which suppresses the flicker of independent solves.
    `blend=0` solves every frame on its own.
    """
    MotionSettings(blend=blend)
    s = resolve(StyleSettings, "style", settings, dict(overrides), backbone.name if backbone is not None else None)
    frames, count = _frames_of(source, None, s.max_pixels)
    backbone = _loaded(s, backbone, "style", s.pooling)
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    previous = None
    progress = Progress(count, f"style {backbone.name}", quiet=s.quiet)
    try:
        for t, frame in enumerate(frames):
            start, rgb = _start(frame, previous, blend, s.size)
            out = stylize_loaded(frame, styles, s, backbone, init=start if previous is not None and blend > 0 else None)
            previous = (out, rgb)
            yield _tag(out, content=str(source) if isinstance(source, (str, Path)) else None, frame=t, blend=blend)
            progress.update(None)
    finally:
        progress.close()


def stylize_loaded(content: Any, styles: list, s: StyleSettings, backbone: Backbone, init: Image.Image | None = None) -> Image.Image:
    """stylize() with a backbone loaded by the caller (with `s.pooling`), quietly, optionally
    starting from the picture `init`; the settings recorded are the ones asked for."""
    from .style import stylize

    # stylize() refuses pooling= with a backbone it did not load; this one was loaded with it.
    run = dataclasses.replace(s, quiet=True, pooling="max", **({"init": init} if init is not None else {}))
    img = stylize(content, styles, run, backbone=backbone)
    meta = img.info["dreamstyle"]
    meta["settings"] = {**meta["settings"], "init": s.init, "pooling": s.pooling}  # not the PIL start
    return img


def dream_video(source, output, settings: DreamSettings | None = None, *, blend: float = 0.5, fps: float | None = None,
                backbone: Backbone | None = None, force: bool = False, **overrides: Any) -> Path:
    """Dream a video or frame folder into `output` (.mp4, .gif or a folder of PNGs) at the
    input's rate (`fps` overrides it); see `dream_frames` for the blending."""
    MotionSettings(blend=blend, fps=fps)
    check_output(output, force=force)
    s = resolve(DreamSettings, "dream", settings, dict(overrides), backbone.name if backbone is not None else None)
    clip = open_clip(source, fps=fps, max_pixels=s.max_pixels)
    return write_frames(dream_frames(clip, s, blend=blend, backbone=backbone), output, clip.fps, force=force)


def stylize_video(source, style, output, settings: StyleSettings | None = None, *, blend: float = 0.5, fps: float | None = None,
                  backbone: Backbone | None = None, force: bool = False, **overrides: Any) -> Path:
    """Stylise a video or frame folder into `output`; see `stylize_frames` for the blending."""
    MotionSettings(blend=blend, fps=fps)
    check_output(output, force=force)
    s = resolve(StyleSettings, "style", settings, dict(overrides), backbone.name if backbone is not None else None)
    clip = open_clip(source, fps=fps, max_pixels=s.max_pixels)
    return write_frames(stylize_frames(clip, style, s, blend=blend, backbone=backbone), output, clip.fps, force=force)


def zoom_video(image, output, frames: int = 24, *, zoom: float = 1.05, rotate: float = 0.0, fps: float | None = None,
               force: bool = False, **kwargs: Any) -> Path:
    """The feedback zoom written to `output` (.mp4, .gif or a folder of PNGs) at `fps` (12)."""
    MotionSettings(frames=frames, zoom=zoom, rotate=rotate, fps=fps)
    check_output(output, force=force)
    return write_frames(zoom_frames(image, frames, zoom=zoom, rotate=rotate, **kwargs), output, fps or ZOOM_FPS, force=force)
