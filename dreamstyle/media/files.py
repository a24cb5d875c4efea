"""Which files are pictures and which are videos, by their suffix, and a folder's pictures in order.
Torch- and Pillow-free, so planning a command line costs nothing."""

from __future__ import annotations

from pathlib import Path

def user_cache(*parts: str) -> Path:
    """A folder under the user's cache: $XDG_CACHE_HOME/dreamstyle/… (~/.cache/dreamstyle/… without it)."""
    import os

    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "dreamstyle", *parts)


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")  # read through ffmpeg


def is_video(path) -> bool:
    return path is not None and Path(str(path)).suffix.lower() in VIDEO_SUFFIXES


def image_files(folder: Path) -> list[Path]:
    """The pictures directly in `folder`, in name order; hidden files (our temp files) are not."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)
