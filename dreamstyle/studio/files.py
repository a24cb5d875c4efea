"""Uploads and the gallery: files the page reaches by opaque ids only, never by paths.

Uploads live in OUT/.uploads (hidden, so the gallery does not list them) under random ids. The
gallery is every picture in OUT that carries a Job, made by the studio or by the CLI; its id is a
hash of the file's name, looked up by listing the folder, so no request ever names a path.

The uploads are a store of bounded size: past MAX_UPLOADS files or MAX_UPLOAD_STORE bytes the
oldest are removed to make room, first those no job and no gallery picture names, then those only
gallery pictures name (their before/after loses its "before"); an upload that a job the studio
holds needs (waiting, running, or ended and remembered for Again) is never removed, and when only
those are left a new upload is refused (StoreFull, 507).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ..errors import UserError
from ..media.images import DEFAULT_MAX_PIXELS, load_image, read_settings
from ..media.files import IMAGE_SUFFIXES, image_files
from ..core.job import Job

UPLOAD_PREFIX = "upload:"
NAME_KEY = "upload-name"  # the PNG text chunk an upload keeps the name it was sent with in
MAX_NAME = 255
MAX_UPLOADS = 1000  # uploads kept at most…
MAX_UPLOAD_STORE = 2 * 1024**3  # …and bytes: past either, the oldest unused ones go
LOG = logging.getLogger("dreamstyle.studio")
_ID = re.compile(r"[0-9a-f]{16}")
# A job's inputs that name one upload, and a list of them: the page's "upload:ID"s.
UPLOADED_ONE = ("image", "content", "regions", "mask")
UPLOADED_MANY = ("styles", "masks", "style_masks")
# What the page paints over the photo (static/regions.js), by input: kept beside the picture as
# STEM.SUFFIX.png (jobs.keep_painted), so the map stays with it when the upload store forgets it.
PAINTED = {"regions": "regions", "mask": "mask"}
PAINTED_SUFFIXES = tuple(f".{suffix}.png" for suffix in PAINTED.values())


class StoreFull(UserError):
    """No room for an upload: every kept upload is one a job the studio holds needs."""


class Uploads:
    """`needed()`: the "upload:ID"s that must stay (the jobs the studio holds); `named()`: those
    gallery pictures name, removed only after every other one. The app sets both."""

    def __init__(self, folder: Path, max_pixels: int | None = DEFAULT_MAX_PIXELS, *, max_files: int = MAX_UPLOADS,
                 max_bytes: int = MAX_UPLOAD_STORE):  # fmt: skip
        self.folder = folder
        self.max_pixels = max_pixels
        self.max_files, self.max_bytes = max_files, max_bytes
        self.needed: Callable[[], Iterable[str]] = lambda: ()
        self.named: Callable[[], Iterable[str]] = lambda: ()
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(".*"):  # hidden: the temporary files of a studio killed mid-upload
            with contextlib.suppress(OSError):
                if stale.is_file() and stale.stat().st_mtime < time.time() - 3600:  # not another studio's under way
                    stale.unlink()

    def add(self, data: bytes, name: str) -> dict[str, Any]:
        """Keep an uploaded picture if it is one (the CLI's decoding and pixel limit), making room
        for it; a UserError says why not (StoreFull: no room)."""
        uid = secrets.token_hex(8)
        suffix = Path(name).suffix.lower()
        tmp = self.folder / f".{uid}.tmp{suffix if suffix in IMAGE_SUFFIXES else ''}"
        tmp.write_bytes(data)
        try:
            picture = load_image(tmp, max_pixels=self.max_pixels)
        except UserError as exc:
            tmp.unlink(missing_ok=True)
            # The temp name means nothing to the person who uploaded: say it of their file.
            raise UserError(exc.message.replace(str(tmp), repr(name)), exc.hint) from None
        except Exception as exc:  # a decoder's failure no check foresaw: still the file's fault
            tmp.unlink(missing_ok=True)
            LOG.warning("an upload failed to decode:", exc_info=True)
            raise UserError(f"{name!r} could not be decoded as a picture ({type(exc).__name__})", "send a PNG, JPEG or WebP") from None
        # Kept as PNG whatever came in: one decoder for everything later, and no format quirks.
        path, staged = self.folder / f"{uid}.png", self.folder / f".{uid}.staged.png"
        try:
            # The name it was sent with goes inside, for the names of what is made from it (naming.py).
            named = PngInfo()
            named.add_text(NAME_KEY, "".join(c for c in str(name) if c.isprintable())[:MAX_NAME])
            (picture.rgb if picture.alpha is None else _with_alpha(picture)).save(staged, pnginfo=named)
            with self._lock:
                self._make_room(staged.stat().st_size)
                staged.rename(path)
        finally:
            tmp.unlink(missing_ok=True)
            staged.unlink(missing_ok=True)
        return {"id": uid, "name": name, "width": picture.rgb.width, "height": picture.rgb.height}

    def _make_room(self, size: int) -> None:
        """Remove the oldest uploads until one more of `size` bytes fits the caps."""
        kept = []
        for p in self.folder.glob("*.png"):
            if not _ID.fullmatch(p.stem):
                continue
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            kept.append((st.st_mtime, p, st.st_size))
        files, total = len(kept) + 1, sum(k[2] for k in kept) + size
        if files <= self.max_files and total <= self.max_bytes:
            return
        needed = {r[len(UPLOAD_PREFIX):] for r in self.needed()}
        named = {r[len(UPLOAD_PREFIX):] for r in self.named() if isinstance(r, str) and r.startswith(UPLOAD_PREFIX)}
        order = sorted((p.stem in named, mtime, p, n) for mtime, p, n in kept if p.stem not in needed)
        for _, _, p, n in order:
            if files <= self.max_files and total <= self.max_bytes:
                break
            p.unlink(missing_ok=True)
            files, total = files - 1, total - n
            LOG.info("upload store full: removed the upload %s", p.stem)
        if files > self.max_files or total > self.max_bytes:
            raise StoreFull(f"no room for the upload: the studio keeps at most {self.max_files:,} uploads and {self.max_bytes:,} bytes, "
                            "and every one kept is needed by a job it holds",
                            "wait for the queue to run, or stop some jobs")  # fmt: skip

    def name_of(self, path: str) -> str | None:
        """The name the upload at `path` was sent with (cat.jpg); None for a path that is not an
        upload, or one kept before uploads kept their names."""
        if self.ref_of(path) is None:
            return None
        try:
            with Image.open(path) as img:
                return img.info.get(NAME_KEY) or None
        except (OSError, ValueError):
            return None

    def path(self, uid: str) -> Path:
        path = self.folder / f"{uid}.png"
        if not isinstance(uid, str) or not _ID.fullmatch(uid) or not path.is_file():
            raise KeyError(uid)
        return path

    def resolve(self, ref: Any, what: str) -> str:
        """"upload:ID" as the path of that upload; anything else is refused: pages name files by id."""
        if isinstance(ref, str) and ref.startswith(UPLOAD_PREFIX):
            try:
                return str(self.path(ref[len(UPLOAD_PREFIX):]))
            except KeyError:
                raise UserError(f"{what}: no upload {ref[len(UPLOAD_PREFIX):]!r}", "upload the picture first (POST /api/uploads)") from None
        raise UserError(f"{what} must name an upload as \"upload:ID\"", "upload the picture first (POST /api/uploads); paths are not accepted")

    def ref_of(self, path: Any) -> str | None:
        """The "upload:ID" of a path inside the upload folder, else None."""
        if not isinstance(path, str):
            return None
        p = Path(path)
        if p.parent.resolve() == self.folder.resolve() and _ID.fullmatch(p.stem):
            return UPLOAD_PREFIX + p.stem
        return None


def _with_alpha(picture):
    img = picture.rgb.convert("RGBA")
    img.putalpha(picture.alpha)
    return img


def gallery_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


class Gallery:
    def __init__(self, folder: Path, uploads: Uploads):
        self.folder = folder
        self.uploads = uploads
        self._cache: dict[tuple[str, int, int], dict[str, Any] | None] = {}
        # A painting's network as the page names it (its name in the network list); the app sets it.
        self.network_name: Callable[[Any], str | None] = lambda path: None

    def items(self) -> list[dict[str, Any]]:
        """Every picture in the folder that carries a Job, newest first. What is read of each is
        kept while the file stays as it is, and forgotten when it changes or goes."""
        found, seen = [], {}
        for path in image_files(self.folder):
            if path.name.endswith(PAINTED_SUFFIXES):
                continue  # a picture's map or mask, shown with the picture (regions.py)
            key, item = self._item(path)
            seen[key] = item
            if item is not None:
                found.append(item)
        self._cache = seen
        return sorted(found, key=lambda i: (i["created"], i["name"]), reverse=True)

    def path(self, gid: str) -> Path:
        if _ID.fullmatch(gid):
            for path in image_files(self.folder):
                if gallery_id(path.name) == gid:
                    return path
        raise KeyError(gid)

    def item(self, gid: str) -> dict[str, Any]:
        _, item = self._item(self.path(gid))
        if item is None:
            raise KeyError(gid)
        return item

    def input_path(self, gid: str) -> Path:
        """The picture an item was made from, when it was an upload (nothing else is served)."""
        ref = self.item(gid)["again"]["inputs"]
        first = next((v for v in ref.values() if isinstance(v, str) and v.startswith(UPLOAD_PREFIX)), None)
        if first is None:
            raise KeyError(gid)
        return self.uploads.path(first[len(UPLOAD_PREFIX):])

    def _item(self, path: Path) -> tuple[tuple[str, int, int], dict[str, Any] | None]:
        try:
            st = path.stat()
        except OSError:  # gone since the folder was listed
            return (path.name, 0, 0), None
        key = (path.name, st.st_mtime_ns, st.st_size)
        cache = self._cache
        if key not in cache:
            cache[key] = self._read(path, st.st_mtime)
        return key, cache[key]

    def _read(self, path: Path, mtime: float) -> dict[str, Any] | None:
        try:
            record = read_settings(path)
            job = Job.from_json(record)
        except UserError:
            return None  # not made by dreamstyle, or by a version this one cannot read
        except Exception:  # a file no reader foresaw (half-written by another program, …): not listed
            LOG.warning("the gallery skips %s:", path.name, exc_info=True)
            return None
        gid = gallery_id(path.name)
        again = {k: (self.uploads.ref_of(v) if k in UPLOADED_ONE else
                     [self.uploads.ref_of(s) for s in v] if k in UPLOADED_MANY and isinstance(v, list) else v)
                 for k, v in job.inputs.items()}  # fmt: skip
        painted = any(painted_path(path, suffix).is_file() for suffix in PAINTED.values())
        settings = _defaults_as_default(job.settings.to_dict())
        if settings.get("net"):
            settings["net"] = self.network_name(settings["net"]) or settings["net"]
        has_input = any(isinstance(v, str) for k, v in again.items() if k in ("image", "content"))
        return {
            "id": gid,
            "name": path.name,
            "engine": job.engine,
            "created": mtime,
            "partial": ".partial" in path.name,
            "job": job.to_dict(),
            "again": {"engine": job.engine, "inputs": again, "settings": settings},
            "image": f"/api/gallery/{gid}/image",
            "input": f"/api/gallery/{gid}/input" if has_input else None,
            # The map or mask it was made with, kept beside it: what Again paints back when its
            # upload is gone.
            "painted": f"/api/gallery/{gid}/painted" if painted else None,
        }


def painted_path(picture: Path, suffix: str) -> Path:
    """Where the map or mask of `picture` (its .partial.png too) is kept: STEM.SUFFIX.png."""
    stem = picture.name.removesuffix(picture.suffix).removesuffix(".partial")
    return picture.with_name(f"{stem}.{suffix}.png")


def _defaults_as_default(settings: dict[str, Any]) -> dict[str, Any]:
    """A job records the layers it ran with, defaults written out; to tweak and run again they
    go back to "the model's default", so picking another model in the form does not keep layers
    that model lacks."""
    from ..models.backbones import MODELS

    info = MODELS.get(settings.get("model"))
    if info is None:
        return settings
    defaults = {"layers": info.dream_layers, "content_layers": info.content_layers, "style_layers": info.style_layers}
    return {k: (None if k in defaults and v == defaults[k] else v) for k, v in settings.items()}

