"""The trained networks the studio knows, and the photo folders it trains them on.

Networks are the `*.pt` files in OUT/networks/: where the page's training jobs write theirs, and
where a network trained on the command line can be put to paint with it on the page. A page
names one by its file name only (never a path); what the list says of each (paintings,
iterations, size, its preview sheet) is read once per version of the file, as the gallery reads
its pictures.

A training job's photos are uploads; the engine reads a folder, so they are linked into one
folder per set of photos under OUT/.training-photos/ (named by the set, so the same photos make
the same folder), which stays put when the upload store later makes room.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import UserError, did_you_mean
from .files import UPLOAD_PREFIX, Uploads

LOG = logging.getLogger("dreamstyle.studio")
FOLDER = "networks"
PHOTO_FOLDER = ".training-photos"
MAX_PHOTO_SETS = 50  # photo folders kept at most; past it the oldest no job holds go
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,120}\.pt")


class Networks:
    def __init__(self, out: Path, uploads: Uploads):
        # Absolute: a job keeps its network's path, and a studio started again elsewhere finds it.
        self.folder = (out / FOLDER).resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.uploads = uploads
        self._cache: dict[tuple[str, int, int], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def output(self, stem: str) -> Path:
        """Where a training job of the studio writes its network."""
        return self.folder / f"{stem}.pt"

    def path(self, name: Any) -> Path:
        """The network called `name` in the list; KeyError when there is none."""
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise KeyError(name)
        path = self.folder / name
        if not path.is_file():
            raise KeyError(name)
        return path

    def resolve(self, name: Any, what: str) -> str:
        """A network's name as its path, or a UserError saying which names there are."""
        try:
            return str(self.path(name))
        except KeyError:
            pass
        if isinstance(name, str) and ("/" in name or "\\" in name):
            raise UserError(f"{what} names a network by its name in the studio's list, not by a path",
                            "pick one of GET /api/networks") from None  # fmt: skip
        names = [p.name for p in self._files()]
        hint = did_you_mean(str(name), names) if names else "train one first (engine train), or copy a .pt into the output folder's networks/"
        raise UserError(f"{what}: no network {str(name)[:80]!r} in the studio's list", hint)

    def name_of(self, path: Any) -> str | None:
        """The list's name for a path inside the networks folder, else None."""
        if not isinstance(path, str):
            return None
        p = Path(path)
        return p.name if p.parent.resolve() == self.folder.resolve() and NAME.fullmatch(p.name) else None

    def items(self) -> list[dict[str, Any]]:
        """Every network in the folder, newest first; one that cannot be loaded is listed with
        its error, so the page can say why it cannot paint with it."""
        found, seen = [], {}
        for path in self._files():
            try:
                st = path.stat()
            except OSError:
                continue
            key = (path.name, st.st_mtime_ns, st.st_size)
            item = self._cache.get(key) or self._read(path, st.st_mtime)
            seen[key] = item
            found.append(item)
        with self._lock:
            self._cache = seen
        return sorted(found, key=lambda i: (i["created"], i["name"]), reverse=True)

    def _files(self) -> list[Path]:
        return sorted(p for p in self.folder.glob("*.pt") if NAME.fullmatch(p.name))

    def _read(self, path: Path, mtime: float) -> dict[str, Any]:
        from ..media.network_file import load_network

        item: dict[str, Any] = {"name": path.name, "created": mtime, "partial": path.stem.endswith(".partial"), "error": None,
                                "paintings": 0, "iterations": 0, "net_size": None, "size": None, "preview": None, "styles": []}  # fmt: skip
        try:
            net = load_network(path)
        except UserError as exc:
            item["error"] = exc.message.replace(str(path.resolve()), path.name)
            return item
        except Exception as exc:  # a file no reader foresaw: listed as unusable, never a 500
            LOG.warning("the network list cannot read %s:", path.name, exc_info=True)
            item["error"] = f"{path.name} cannot be read ({type(exc).__name__})"
            return item
        record = net.record or {}
        settings = record.get("settings") or {}
        styles = (record.get("inputs") or {}).get("styles") or []
        stem = path.name.removesuffix(".pt").removesuffix(".partial")
        preview = path.with_name(f"{stem}.preview.png")
        item.update(paintings=net.styles, iterations=net.iterations, net_size=net.net_size, size=settings.get("size"),
                    preview=f"/api/networks/{path.name}/preview" if preview.is_file() else None,
                    styles=[self._style_picture(s) for s in styles[: net.styles]])  # fmt: skip
        if len(item["styles"]) < net.styles:
            item["styles"] += [None] * (net.styles - len(item["styles"]))
        return item

    def _style_picture(self, path: Any) -> str | None:
        ref = self.uploads.ref_of(path)
        if ref is None:
            return None
        try:
            self.uploads.path(ref[len(UPLOAD_PREFIX):])
        except KeyError:
            return None  # the upload store has made room since: the slider says "painting N"
        return f"/api/uploads/{ref[len(UPLOAD_PREFIX):]}"

    def preview(self, name: str) -> Path:
        path = self.path(name)
        stem = path.name.removesuffix(".pt").removesuffix(".partial")
        preview = path.with_name(f"{stem}.preview.png")
        if not preview.is_file():
            raise KeyError(name)
        return preview


class PhotoSets:
    """The folders training jobs read their uploaded photos from. `needed()`: the folders the
    jobs the studio holds name (never removed); the app sets it."""

    def __init__(self, out: Path, uploads: Uploads):
        self.folder = (out / PHOTO_FOLDER).resolve()  # kept in the job's record: absolute, as the network's
        self.uploads = uploads
        self.needed: Callable[[], Iterable[str]] = lambda: ()
        self._lock = threading.Lock()

    def folder_for(self, refs: list[Any], what: str) -> str:
        """The folder holding the uploads `refs` ("upload:ID" each), made if new."""
        paths = [Path(self.uploads.resolve(r, what)) for r in refs]
        key = hashlib.sha256("\n".join(sorted(p.stem for p in paths)).encode()).hexdigest()[:16]
        target = self.folder / key
        with self._lock:
            if not target.is_dir():
                self._make_room()
                staged = self.folder / f".{key}.staged"
                shutil.rmtree(staged, ignore_errors=True)
                staged.mkdir(parents=True)
                for p in paths:
                    try:
                        os.link(p, staged / p.name)  # the upload's bytes, shared: no copy
                    except OSError:
                        shutil.copyfile(p, staged / p.name)
                staged.rename(target)
            os.utime(target)
        return str(target)

    def _make_room(self) -> None:
        if not self.folder.is_dir():
            return
        sets = sorted((p for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.stat().st_mtime)
        needed = {str(Path(n).resolve()) for n in self.needed() if isinstance(n, str)}
        for old in sets[: max(0, len(sets) + 1 - MAX_PHOTO_SETS)]:
            if str(old.resolve()) not in needed:
                with contextlib.suppress(OSError):
                    shutil.rmtree(old)
