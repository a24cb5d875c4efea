"""Frames in and out: videos, GIFs and folders of pictures.

Frames are read from MP4 (and the other containers ffmpeg reads) through imageio-ffmpeg, whose
wheel ships an ffmpeg binary, from an animated GIF (Pillow), or from a folder of pictures in name
order. They are written as
H.264 MP4 (imageio-ffmpeg), looping GIF (Pillow) or a folder of PNGs, atomically, with the
frames so far kept on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import Interrupted, UserError
from .images import DEFAULT_MAX_PIXELS, _publish, load_image, partial_path
from .files import VIDEO_SUFFIXES, image_files, is_video

OUTPUT_SUFFIXES = (".mp4", ".gif")  # anything else without a suffix is a folder of PNG frames
FOLDER_FPS = 24.0  # a folder of frames carries no rate of its own
MP4_QUALITY = 8  # imageio-ffmpeg's scale: 8 is x264 CRF 10, near-lossless for these textures


# --- reading ---------------------------------------------------------------------------------


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
    """An MP4 (or .mov/.mkv/.webm/.avi) file, a GIF, or a folder of pictures taken in name order."""
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
    if path.suffix.lower() == ".gif":
        return _open_gif(path, fps, max_pixels)
    if not is_video(path):
        raise UserError(f"{path} is not a video", f"use a {', '.join(VIDEO_SUFFIXES)} or .gif file or a folder of frames")
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


def _open_gif(path: Path, fps: float | None, max_pixels: int | None) -> Clip:
    """An (animated) GIF through Pillow: its rate from the first frame's delay."""
    try:
        with Image.open(path) as gif:
            count, size = getattr(gif, "n_frames", 1), gif.size
            ms = gif.info.get("duration") or 1000 / FOLDER_FPS
    except (OSError, Image.DecompressionBombError) as exc:
        raise UserError(f"{path} could not be read as a GIF ({exc})", "is it damaged or truncated?") from None
    if max_pixels is not None and size[0] * size[1] > max_pixels:
        raise UserError(f"{path} frames are too large ({size[0]}x{size[1]}, limit {max_pixels:,} pixels)", f"pass --max-pixels {size[0] * size[1]} if you trust it")

    def read_gif() -> Iterator[Image.Image]:
        from PIL import ImageSequence

        with Image.open(path) as gif:
            for f in ImageSequence.Iterator(gif):
                yield f.convert("RGB")

    return Clip(path, fps or 1000.0 / ms, count, size, read_gif)


def read_frames(source) -> tuple[list[Image.Image], float]:
    """All frames of a video, GIF or frame folder as RGB images, and the rate: for tests and
    small clips (a long video is better streamed with `open_clip(...).frames()`)."""
    clip = open_clip(source)
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
        self._meta: dict | None = None  # the first frame's record: the GIF's comment

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
        self._meta = meta
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
                           duration=max(20, round(1000 / self.fps)), loop=0, **gif_comment(self._meta))  # fmt: skip
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


def gif_comment(meta: dict | None) -> dict:
    """The save parameter that embeds a clip's record in a GIF's comment extension, as the MP4
    carries it in its metadata: the whole clip's Job, so not the first frame's number."""
    if not meta:
        return {}
    ran = {k: v for k, v in (meta.get("ran") or {}).items() if k != "frame"}
    return {"comment": json.dumps({**meta, "ran": ran}, sort_keys=True)}


def write_frames(frames: Iterable[Image.Image], path, fps: float, *, force: bool = False) -> Path:
    """Write `frames` to `path` (.mp4, .gif or a folder of PNGs) atomically. On Ctrl-C the frames
    so far are kept as OUT.partial.EXT and `Interrupted` is raised with `.path` set to it."""
    writer = FrameWriter(path, fps, force=force)
    try:
        for img in frames:
            writer.write(img)
    except (Interrupted, KeyboardInterrupt) as exc:
        image = exc.image if isinstance(exc, Interrupted) else None
        raise Interrupted(image, path=writer.abort(), frames=writer.count) from None
    except BaseException:
        writer.discard()
        raise
    return writer.close()
