"""The explorer's work for the studio: which networks there are, their layer tables, and their
channels' pictures rendered one model at a time, cached under OUT/.explore/ (and read from the
user's shared cache too, where `dreamstyle explore` keeps a site's pictures).

What runs a network here is the explorer's core (engines/explore.py); this holds what a page
needs around it. A network's table is kept in memory once built (a revisit answers at once);
renders, kernels, top images and maps run under one lock, so two pages never run two models at
once on a CPU where each would be slower than in turn, and the event loop never waits for them
(the routes call in from threads). The folder of top images is chosen on the server's side, never
named by a request.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from ..errors import Interrupted, UserError, did_you_mean

LOG = logging.getLogger("dreamstyle.studio")
KINDS = ("channel", "large", "negative", "diverse")
TOP_N = 9
MADE = 20_000  # pictures remembered for the page to fetch (a stream announces them again)


class Unknown(LookupError):
    """A model, layer or channel a URL names that does not exist: what does, to say so."""

    def __init__(self, what: str, name: str, known: list[str], hint: str):
        super().__init__(f"no {what} {name!r}")
        self.what, self.name, self.known, self.hint = what, name, known, hint


class Explorer:
    """Networks, tables and renders for the Explore view, over the output folder `out`."""

    def __init__(self, out: Path, top_folder: Path | None = None, photos: Path | None = None):
        self.root = Path(out) / ".explore"
        self.top_folder, self.photos = top_folder, photos
        self.lock = threading.Lock()  # one network runs at a time
        self._indexes: dict[str, dict] = {}
        # Where each picture a stream announced is (the cache's folder, or its spare one when the
        # disk is full or read-only), for the page to fetch; the oldest are forgotten past MADE.
        self._made: OrderedDict[tuple, Path] = OrderedDict()
        self._tops: dict[str, Path] = {}  # top images by opaque id
        self._models: list[dict] | None = None
        self._cache = None
        self.note: str | None = None  # why renders are not kept on disk, once that is known

    # --- networks and their tables -------------------------------------------------------------

    def models(self) -> list[dict]:
        """Every network the explorer opens: the backbones, the course's and torchvision's, each
        with `trained` False when no weights are found offline (random weights)."""
        if self._models is None:
            from ..engines.explore import trained_weights
            from ..models.names import MODEL_NAMES
            from ..models.zoo import COURSE, model_names

            kinds = {**{n: "backbone" for n in MODEL_NAMES}, **{n: "course" for n in COURSE}}
            self._models = [{"name": n, "kind": kinds.get(n, "torchvision"), "trained": _trained(trained_weights, n)} for n in model_names()]
        return self._models

    def model_names(self) -> list[str]:
        """The names alone: no weights looked for, so a page's first check is quick."""
        from ..models.zoo import model_names

        return model_names()

    def index(self, model: str) -> dict:
        """The network's layer table (network_index's), built once per studio; Unknown for a
        name the explorer does not know."""
        if model not in self._indexes:
            names = self.model_names()
            if model not in names:
                raise Unknown("model", model, names, "the networks (/explore lists them)")
            from ..engines.explore import network_index

            # Not under the lock: the table is the architecture's (no weights, a probe of a few
            # seconds at most), and a page must not wait behind another page's renders for it.
            self._indexes[model] = network_index(model)
        return self._indexes[model]

    def row(self, model: str, layer: str) -> dict:
        rows = self.index(model)["layers"]
        for r in rows:
            if r["name"] == layer:
                return r
        raise Unknown("layer", layer, [r["name"] for r in rows], f"the layers of {model}")

    def channel(self, model: str, layer: str, channel: str | int) -> int:
        count = channels_of(self.row(model, layer))
        text = str(channel)
        if not text.isdigit() or int(text) >= count:
            if not count:
                raise Unknown("channel", text, [], f"{layer} of {model} has no maps to picture (`dreamstyle visualize class` draws a class)")
            raise Unknown("channel", text, [f"0 to {count - 1}"], f"{layer} of {model} has {count} channels: 0 to {count - 1}")
        return int(text)

    # --- renders -------------------------------------------------------------------------------

    def cache(self):
        if self._cache is None:
            from ..engines.explore import RenderCache

            self._cache = RenderCache(self.root)
        return self._cache

    def render(self, model: str, layer: str, channels: list[int], kind: str, size: int,
               on_done: Callable[[int, Path], None], cancel: threading.Event) -> None:  # fmt: skip
        """Each channel's picture, calling `on_done(channel, path)` as each is ready: the cached
        ones at once (even while another page's renders hold the network), the others as the
        network makes them, one model at a time. A network without trained weights renders none."""
        from ..engines.explore import render_channels

        def done(ch: int, path) -> None:
            self._made[(model, layer, ch, kind, size)] = Path(path)
            while len(self._made) > MADE:
                self._made.popitem(last=False)
            on_done(ch, Path(path))

        index = self.index(model)
        if not index.get("renders", True):
            return
        ctx = self._context(model)
        cached = self.cached(ctx, index, layer, channels, kind, size)
        for ch, path in cached.items():
            done(ch, path)
        todo = [ch for ch in channels if ch not in cached]
        if not todo:
            return
        with self.lock:
            if cancel.is_set():
                return
            try:
                render_channels(ctx, index, layer, todo, self.cache(), kind=kind, size=size, on_done=done, cancel=cancel)
            except Interrupted:
                return  # the page left; what was finished stays cached
            finally:
                if self.cache().notes:
                    self.note = self.cache().notes[0]

    def cached(self, ctx, index: dict, layer: str, channels: list[int], kind: str, size: int) -> dict[int, Path]:
        """The channels whose pictures the studio's cache holds, or else the user's shared one
        (where `dreamstyle explore` keeps a site's pictures), found as render_channels finds them."""
        from ..engines.explore import ExploreSettings, default_cache, kind_settings, picture_digest
        from ..models.runtime import precision_name

        digest = picture_digest(kind_settings(ExploreSettings(model=ctx.backbone.name, quiet=True), kind, size), precision_name(ctx.dtype))
        found = {}
        for cache in (self.cache(), default_cache()):
            for ch in channels:
                if ch not in found and (path := cache.get(index["key"], layer, ch, kind, digest)) is not None:
                    found[ch] = path
        return found

    def image(self, model: str, layer: str, channel: int, kind: str, size: int) -> Path | None:
        """The rendered picture's file, or None while it is not made."""
        made = self._made.get((model, layer, channel, kind, size))
        if made is not None and made.is_file():
            return made
        return None

    def kernels(self, model: str) -> bytes:
        """The first convolution's kernels as a PNG."""
        from ..engines.explore import first_layer_kernels

        self.index(model)
        with self.lock:
            picture = first_layer_kernels(self._context(model))
        return _png(picture)

    def command(self, model: str, layer: str, channel: int, kind: str, size: int = 96, folder: str | None = None) -> str:
        """The command line that makes the picture the page shows, with the settings it was made
        with spelled out (a large one's steps and lr too): `size` is the thumbnail's side, the
        larger and the negative ones are 5/3 of it (160 px beside 96, the core's own large)."""
        from ..engines.explore import RENDERED, ExploreSettings, kind_settings, unit_command

        side = large_side(size) if kind in ("large", "negative") else size  # the page shows them side by side
        settings = ExploreSettings(model=model, size=size, large=large_side(size))
        if kind in RENDERED:
            settings = kind_settings(settings, kind, side)
        return unit_command(model, layer, channel, kind, settings=settings, folder=folder)

    def top_folder_now(self) -> Path | None:
        """The folder top images come from: --top-folder, else the studio's uploaded photos."""
        for folder in (self.top_folder, self.photos):
            if folder is not None and Path(folder).is_dir() and any(Path(folder).iterdir()):
                return Path(folder)
        return None

    def top(self, model: str, layer: str, channel: int) -> dict:
        """The channel's strongest pictures in the top folder, each as an opaque id, its name and
        score, with how many files were read and skipped (unreadable)."""
        from ..engines.explore import top_images

        folder = self.top_folder_now()
        if folder is None:
            return {"images": [], "total": 0, "skipped": 0}
        self.index(model)
        with self.lock:
            found = top_images(self._context(model), folder, layer, channel, n=TOP_N)
        shown = []
        for path, score in found:
            key = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:16]
            self._tops[key] = Path(path)
            shown.append({"id": key, "score": float(score), "name": Path(path).name})
        return {"images": shown, "total": getattr(found, "total", len(shown)), "skipped": getattr(found, "skipped", 0)}

    def top_image(self, key: str) -> Path:
        return self._tops[key]  # KeyError: not one the studio showed

    def on_photo(self, model: str, layer: str, channel: int, photo: Path) -> bytes:
        """The channel's feature map over `photo`, its receptive field drawn, as a PNG."""
        from ..engines.explore import unit_on_photo
        from ..media.images import load_image

        picture = load_image(str(photo)).rgb
        self.index(model)
        with self.lock:
            shown = unit_on_photo(self._context(model), picture, layer, channel)
        return _png(shown)

    def _context(self, model: str):
        """The network's Context (the runner's model cache loads it once)."""
        from ..engines.explore import explore_context

        return explore_context(model)


def large_side(size: int) -> int:
    """A unit's larger pictures beside `size` px thumbnails (explore_unit.js draws the same)."""
    return min(512, round(size * 5 / 3))


def channels_of(row: dict) -> int:
    """How many channels a layer's row has (its first dimension)."""
    if "channels" in row:  # the core's index: None for a layer without maps (logits)
        return int(row["channels"] or 0)
    shape = row.get("shape") or [0]
    return int(shape[0]) if len(shape) == 3 else 0


def _trained(find, name: str) -> bool:
    """Whether `find` (the core's trained_weights) finds `name`'s trained weights offline."""
    try:
        return find(name) is not None
    except UserError:
        return False


def _png(picture) -> bytes:
    buf = io.BytesIO()
    picture.save(buf, format="PNG")
    return buf.getvalue()


def suggestion(exc: Unknown) -> str:
    """`exc`'s did-you-mean and what exists (the first 24 names), in one line."""
    if exc.what == "channel" or not exc.known:
        return exc.hint
    near = did_you_mean(exc.name, exc.known)
    shown = ", ".join(exc.known[:24]) + (f", … ({len(exc.known)} in all)" if len(exc.known) > 24 else "")
    return f"{near + ' ' if near else ''}{exc.hint}: {shown}"
