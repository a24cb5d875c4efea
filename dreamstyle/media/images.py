"""Image I/O: loading anything Pillow reads as upright 8-bit RGB, and saving results safely.

Colour management is deliberately out of scope: pixels are treated as sRGB and embedded ICC
profiles are dropped (a profile copied from a CMYK or wide-gamut source would mislabel our RGB).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import struct
import threading
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, PngImagePlugin

from ..errors import UserError

if TYPE_CHECKING:
    import torch

DEFAULT_MAX_PIXELS = 178_956_970  # Pillow's own default decompression-bomb limit
SETTINGS_KEY = "dreamstyle"  # PNG text chunk key holding the settings JSON

# Output formats by extension. JPEG/WebP get the settings JSON in EXIF ImageDescription (0x010E):
# it is a plain ASCII tag and json.dumps escapes non-ASCII, whereas UserComment needs a charset
# header. The tag is stripped by many sharing sites, so PNG is the format that reliably keeps it.
_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
_EXIF_IMAGE_DESCRIPTION = 0x010E
_READABLE = "JPEG, PNG, WebP, TIFF or BMP"
# Pillow signals corrupt or truncated data with a grab-bag of exception types depending on codec.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)

# Pillow's bomb limit is a module global with no per-call override; the lock keeps concurrent
# load_image calls from restoring each other's temporary values.
_pillow_lock = threading.Lock()


@dataclass
class Picture:
    rgb: Image.Image  # mode "RGB", upright as a viewer saw it (EXIF orientation applied)
    alpha: Image.Image | None  # mode "L", same size as rgb; None when fully opaque
    path: Path | None = None


@contextlib.contextmanager
def _pillow_limits(max_pixels: int | None):
    with _pillow_lock, warnings.catch_warnings():
        # Pillow only warns between 1x and 2x the limit; we want one hard threshold.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
        Image.MAX_IMAGE_PIXELS = max_pixels
        ImageFile.LOAD_TRUNCATED_IMAGES = False  # someone else's True would hide truncation
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _unreadable(path: Path) -> UserError:
    return UserError(f"{path} is not an image file Pillow can read", hint=f"use a {_READABLE} file")


def load_image(path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Picture:
    """Read an image file as upright RGB plus optional alpha, refusing anything unusable."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"no such file: {path}", hint="check the path and spelling")
    if path.is_dir():
        raise UserError(f"{path} is a directory, not an image file", hint="give a path to an image file")
    if path.stat().st_size == 0:
        raise UserError(f"{path} is empty (0 bytes)", hint="it may not have finished copying or downloading")
    return _decode(path, path, max_pixels)


def decode_image(data: bytes, name: str, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Picture:
    """A picture held in memory (a camera frame sent to the studio) read as load_image reads a
    file, with the same refusals, never touching the disk; `name` is what its errors call it."""
    if not data:
        raise UserError(f"{name} is empty (0 bytes)", hint="send the picture's bytes")
    picture = _decode(io.BytesIO(data), name, max_pixels)
    picture.path = None
    return picture


def _decode(source, shown, max_pixels: int | None) -> Picture:
    try:
        with _pillow_limits(max_pixels), Image.open(source) as img:
            img.load()  # Image.open is lazy; only a full decode finds truncation
            try:
                img = ImageOps.exif_transpose(img)
            except _DECODE_ERRORS:  # malformed EXIF should not cost the user a decodable image
                img = img.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        # Pillow refuses inside Image.open, before we can see the size; its message has the count.
        found = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(found[1]):,} pixels, " if found else ""
        n = found[1] if found else "N with a larger N"
        raise UserError(f"{shown} is too large ({size}limit {max_pixels:,}); huge images can exhaust memory",
                        hint=f"if you trust this file, pass --max-pixels {n} to raise the limit") from None
    except Image.UnidentifiedImageError:
        raise _unreadable(shown) from None
    except PermissionError:
        raise UserError(f"cannot read {shown}: permission denied", hint="check its permissions") from None
    except _DECODE_ERRORS as e:
        raise UserError(f"{shown} is damaged or truncated and could not be decoded ({e})",
                        hint="re-export or re-download the image") from None
    rgb, alpha = _to_rgb_alpha(img, shown)
    return Picture(rgb=rgb, alpha=alpha, path=shown if isinstance(shown, Path) else None)


def _grey_to_8bit(img: Image.Image) -> Image.Image:
    arr = np.asarray(img).astype(np.float64)
    if img.mode == "F":
        arr = np.nan_to_num(arr, nan=0.0, posinf=255.0, neginf=0.0)
        # Float images are usually normalised to [0, 1] (HDR/scientific TIFFs); Pillow's own
        # convert assumes [0, 255] and would turn them black, so detect the range.
        if arr.size and arr.max() <= 1.0:
            arr = arr * 255.0
    else:
        # "I" is what Pillow has historically used for 16-bit PNGs, so treat all integer modes as
        # 16-bit. 257 maps 65535 -> 255 exactly; Pillow's convert("L") would clip at 255 instead.
        arr = arr / 257.0
    return Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8))


def _to_rgb_alpha(img: Image.Image, path: Path) -> tuple[Image.Image, Image.Image | None]:
    if img.mode == "F" or img.mode.startswith("I"):
        img = _grey_to_8bit(img)
    alpha = None
    try:
        if img.has_transparency_data:  # alpha band, tRNS/transparency info, or RGBA palette
            rgba = img.convert("RGBA")
            alpha = rgba.getchannel("A")
            rgb = rgba.convert("RGB")
            if alpha.getextrema()[0] == 255:
                alpha = None
        else:
            rgb = img.convert("RGB")
    except ValueError:
        raise UserError(f"{path} uses colour mode {img.mode!r}, which cannot be converted to RGB",
                        hint="re-save it as an 8-bit RGB image") from None
    rgb.info = {}  # see module docstring: stale ICC/EXIF must not follow the pixels
    return rgb, alpha


def as_picture(image, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Picture:
    """A path, a PIL image or a Picture, as a Picture (the alpha split off)."""
    if isinstance(image, Picture):
        return image
    if isinstance(image, Image.Image):
        rgba = image.mode in ("RGBA", "LA") or "transparency" in image.info
        alpha = image.convert("RGBA").getchannel("A") if rgba else None
        return Picture(image.convert("RGB"), alpha)
    return load_image(image, max_pixels=max_pixels)


def with_alpha(img: Image.Image, picture: Picture) -> Image.Image:
    """`img`, made from `picture`, given back the picture's alpha (scaled to it): an engine
    paints the RGB alone, and a cut-out should stay cut out."""
    if picture.alpha is None:
        return img
    img = img.convert("RGBA")
    img.putalpha(picture.alpha.resize(img.size, Image.LANCZOS))
    return img


def resize_longest(img: Image.Image, size: int) -> Image.Image:
    """Scale so the longest side is `size` pixels, keeping the aspect ratio."""
    if size < 1:
        raise UserError(f"image size must be at least 1 pixel, got {size}")
    w, h = img.size
    if max(w, h) == size:
        return img
    scale = size / max(w, h)
    new = (size, max(1, round(h * scale))) if w >= h else (max(1, round(w * scale)), size)
    return img.resize(new, Image.Resampling.LANCZOS)


def to_tensor(img: Image.Image) -> torch.Tensor:
    """(1, 3, H, W) float32 in [0, 1]."""
    import torch  # here, not at the top: reading an output's settings (`info`) needs no torch

    arr = np.array(img.convert("RGB"), dtype=np.uint8)  # copy: asarray may be read-only
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).float().div_(255.0).contiguous()


def resize_to(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """A (N, C, H, W) tensor resized to h x w, bilinear, antialiased when it shrinks."""
    import torch.nn.functional as F

    if tuple(x.shape[-2:]) == (h, w):
        return x
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=h < x.shape[-2])


def to_pil(t: torch.Tensor) -> Image.Image:
    """Inverse of to_tensor: accepts (1, 3, H, W) or (3, H, W) on any device, clamps to [0, 1]."""
    import torch

    if not t.is_floating_point():
        raise TypeError(f"to_pil expects a float tensor in [0, 1], got {t.dtype}")
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"to_pil expects a batch of one image, got shape {tuple(t.shape)}")
        t = t[0]
    if t.dim() != 3 or t.shape[0] != 3:
        raise ValueError(f"to_pil expects shape (1, 3, H, W) or (3, H, W), got {tuple(t.shape)}")
    t = t.detach().to("cpu", torch.float32).clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    return Image.fromarray(t.permute(1, 2, 0).contiguous().numpy())


def check_output_path(path, *, force: bool = False) -> Path:
    """Validate an output path up front, so a long render never ends in a failed save."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise UserError(f"output {path} is a directory", hint="give a file name such as out.png")
    if path.suffix.lower() not in _FORMATS:
        raise UserError(f"cannot save {path}: unsupported extension {path.suffix or '(none)'!r}",
                        hint="use .png, .jpg, .jpeg or .webp")
    parent = path.parent
    if not parent.exists():
        raise UserError(f"output folder {parent} does not exist", hint=f"create it first: mkdir -p {parent}")
    if not parent.is_dir():
        raise UserError(f"output folder {parent} is not a directory", hint="check the output path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"output folder {parent} is not writable", hint="choose another folder")
    if path.exists() and not force:
        raise UserError(f"{path} already exists", hint="pass --force to overwrite")
    return path


def _prepare(img: Image.Image, fmt: str, alpha: Image.Image | None) -> Image.Image:
    if alpha is None and img.mode in ("RGBA", "LA"):  # the engines return RGBA for RGBA inputs
        alpha = img.getchannel("A")
    out = img.convert("RGB")  # always a new image, so the caller's is never modified
    if alpha is not None:
        alpha = alpha.convert("L")
        if alpha.size != out.size:
            alpha = alpha.resize(out.size, Image.Resampling.LANCZOS)
        if fmt == "JPEG":  # no alpha channel in JPEG: show it as a viewer would, on white
            out = Image.composite(out, Image.new("RGB", out.size, (255, 255, 255)), alpha)
        else:
            out.putalpha(alpha)
    out.info = {}  # inherited info (ICC, EXIF, timestamps) would make output depend on history
    return out


def _create_temp(folder: Path, name: str) -> tuple[int, Path]:
    # Like mkstemp, but with mode 0666 so the umask applies and the output gets the same
    # permissions a plain open() would give it (mkstemp's 0600 would make outputs private).
    while True:
        tmp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def save_image(img: Image.Image, path, *, settings: dict | None = None, force: bool = False,
               alpha: Image.Image | None = None) -> Path:
    """Atomically write `img` (format from the extension), optionally embedding `settings`."""
    path = check_output_path(path, force=force)
    fmt = _FORMATS[path.suffix.lower()]
    out = _prepare(img, fmt, alpha)
    options: dict = {}
    if fmt == "JPEG":
        options = {"quality": 95, "subsampling": 0}  # 4:4:4: chroma subsampling smears fine colour
    elif fmt == "WEBP":
        options = {"quality": 95}
    if settings is not None:
        text = json.dumps(settings, sort_keys=True)
        if fmt == "PNG":
            info = PngImagePlugin.PngInfo()
            info.add_text(SETTINGS_KEY, text)
            options["pnginfo"] = info
        else:
            exif = Image.Exif()
            exif[_EXIF_IMAGE_DESCRIPTION] = text
            options["exif"] = exif.tobytes()

    try:
        return write_atomically(path, lambda f: out.save(f, format=fmt, **options), force=force)
    except ValueError as e:  # e.g. WebP's 16383-pixel limit
        raise UserError(f"could not save {path} as {fmt}: {e}", hint="try saving as .png") from None


def write_atomically(path: Path, data: bytes | Callable[[BinaryIO], None], *, force: bool = False) -> Path:
    """Write `data` (bytes, or a function writing to a binary file) to `path`: beside it under a
    hidden name, then renamed, so a crash leaves at worst a hidden temp file, never a half-written
    file under the real name; an existing `path` is replaced only with `force`."""
    path = Path(path)
    try:
        fd, tmp = _create_temp(path.parent, path.name)
    except OSError as e:
        raise UserError(f"could not write in {path.parent}: {e.strerror or e}",
                        hint="check the folder's permissions") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data) if isinstance(data, bytes) else data(f)
            f.flush()
            os.fsync(f.fileno())
        _publish(tmp, path, force)
    except OSError as e:
        raise UserError(f"could not write {path}: {e.strerror or e}", hint="check free disk space and permissions") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _publish(tmp: Path, path: Path, force: bool) -> None:
    if force:
        os.replace(tmp, path)
        return
    # A hard link fails if the target exists, closing the gap between check and rename in which
    # another process could create the file.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise UserError(f"{path} already exists", hint="pass --force to overwrite") from None
    except OSError:  # filesystem without hard links (FAT, some network mounts): best effort
        check_output_path(path)
        os.replace(tmp, path)


def read_settings(path) -> dict:
    """The settings dict that save_image embedded in `path`."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"no such file: {path}", hint="check the path and spelling")
    try:
        with Image.open(path) as img:
            # save_image writes the chunk before the pixel data, so img.info has it without
            # decoding; img.text (which decodes) only matters for files edited by other tools.
            text = img.info.get(SETTINGS_KEY)
            if text is None and isinstance(img, PngImagePlugin.PngImageFile):
                text = img.text.get(SETTINGS_KEY)
            if text is None and img.format == "GIF":  # a clip's record (media/video.py gif_comment)
                comment = img.info.get("comment")
                text = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else comment
            if text is None:
                text = img.getexif().get(_EXIF_IMAGE_DESCRIPTION)
    except Image.UnidentifiedImageError:
        raise _unreadable(path) from None
    except (*_DECODE_ERRORS, Image.DecompressionBombError) as e:
        raise UserError(f"could not read {path} ({e})", hint="is the file damaged or truncated?") from None
    try:
        settings = json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError:
        settings = None
    if not isinstance(settings, dict):
        raise UserError(f"{path} has no dreamstyle settings embedded",
                        hint="only images saved by dreamstyle carry settings, most reliably as .png")
    return settings


def free_path(path) -> Path:
    """`path`, or path-2, path-3 … if it exists: an interrupted run never overwrites a file."""
    path = Path(path)
    n, candidate = 2, path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


def partial_path(out) -> Path:
    """Where Ctrl-C keeps the work so far: OUT.partial.EXT, or OUT.partial-2.EXT … if taken."""
    out = Path(out)
    return free_path(out.with_name(f"{out.stem}.partial{out.suffix}"))


def default_output_path(input_path, suffix: str, ext: str = ".png") -> Path:
    """photo.jpg + "dream" -> photo-dream.png beside it; -2, -3, ... are added to avoid existing files."""
    src = Path(input_path).expanduser()
    ext = ext if ext.startswith(".") else f".{ext}"
    candidate = src.with_name(f"{src.stem}-{suffix}{ext}")
    n = 2
    while candidate.exists():
        candidate = src.with_name(f"{src.stem}-{suffix}-{n}{ext}")
        n += 1
    return candidate
