"""The pictures of a folder that excite one channel most, each cropped to what the channel sees
there, beside the picture that excites it most of all (activation maximisation).

Scanning a folder is the slow part, so what it finds is kept: for every picture, every channel's
strongest activation and where it is, in FOLDER/.dreamstyle-cache/ (or, when the folder is not
writable, the user's cache folder). Another channel of the same layer is then answered without
running the network on any picture again, and a scan that was stopped resumes where it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw

from ..models.backbones import LOGITS, Backbone
from ..errors import Interrupted, UserError
from ..events import ItemDone, Reporter, Step
from ..media.files import user_cache
from ..media.images import load_image, to_tensor, write_atomically
from ..media.provenance import weights_identity
from ..core.settings import VisualizeSettings
from ..core.settings_probe import TopSettings
from ..core.context import Context, made
from ..core.registry import need

CACHE = ".dreamstyle-cache"
CACHE_VERSION = 1


def parse_unit(spec: str) -> tuple[str, int]:
    """"block6:12" -> ("block6", 12)."""
    layer, sep, channel = str(spec).rpartition(":")
    if not sep or not layer or not channel.strip().isdigit():
        raise UserError(f"{spec!r} is not LAYER:CHANNEL", "e.g. block6:12 (`dreamstyle layers MODEL` lists the layers)")
    return layer.strip(), int(channel)


def pictures(folder) -> list[Path]:
    from ..core.planning import IMAGE_SUFFIXES, image_files

    folder = Path(str(folder)).expanduser()
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder", "give a folder of pictures")
    found = image_files(folder)
    if not found:
        raise UserError(f"{folder} holds no pictures", f"put {', '.join(IMAGE_SUFFIXES)} files in it")
    return found


# --------------------------------------------------------------------------- the cache


def cache_file(folder: Path, backbone: Backbone, layer: str, size: int) -> Path:
    """One file per network, weights, layer and size, in the folder (or the user's cache)."""
    ident = weights_identity(backbone.weights) or {"sha256": "none"}
    key = f"top-{backbone.name}-{layer}-{size}px-{ident['sha256'][:12]}.pt"
    inside = folder / CACHE
    if os.access(folder, os.W_OK | os.X_OK) or inside.is_dir():
        return inside / key
    base = user_cache("top")
    return base / hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16] / key


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def load_cache(path: Path) -> dict[str, Any]:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(data, dict) and data.get("version") == CACHE_VERSION:
            return data["entries"]
    except (OSError, RuntimeError, EOFError, KeyError, ValueError):  # missing or damaged: scan again
        pass
    return {}


def save_cache(path: Path, entries: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Atomically: a stopped scan leaves the last whole file, never half of one.
    write_atomically(path, lambda f: torch.save({"version": CACHE_VERSION, "entries": entries}, f), force=True)


# --------------------------------------------------------------------------- scanning


def square(img: Image.Image, size: int) -> tuple[Image.Image, float, float, float]:
    """The central size x size square the network sees, and how it maps back to the picture
    (scale, left and top offset in the scaled picture)."""
    w, h = img.size
    k = size / min(w, h)
    sw, sh = max(size, round(w * k)), max(size, round(h * k))
    left, top = (sw - size) // 2, (sh - size) // 2
    return img.resize((sw, sh), Image.Resampling.BICUBIC).crop((left, top, left + size, top + size)), k, left, top


def scan(folder, layer: str, s: TopSettings, ctx: Context, extra_steps: int = 0) -> tuple[dict[str, Any], int]:
    """({file name: {"stamp", "max": (C,), "arg": (C,) flat position, "hw": [h, w]}} for every
    readable picture, how many pictures the network ran on): it runs only on pictures the cache
    does not hold as they are now, with the backbone of `ctx` on its device, in fp32. One progress
    bar on `ctx.report` counts those (plus `extra_steps` the caller adds). A file that cannot be
    read is left out of both (see `unread`), and tried again next time."""
    backbone, device, report = ctx.backbone, ctx.device, ctx.report
    folder = Path(str(folder)).expanduser()
    files = pictures(folder)
    size = s.size or 224
    path = cache_file(folder, backbone, layer, size)
    entries = load_cache(path)
    todo = [f for f in files if entries.get(f.name, {}).get("stamp") != _stamp(f)]
    progress = report.tracker(len(todo) + extra_steps, f"top {backbone.name}")
    ran = 0
    try:
        for lo in range(0, len(todo), s.chunk):
            batch, names = [], []
            for f in todo[lo : lo + s.chunk]:
                try:
                    batch.append(to_tensor(square(load_image(f, max_pixels=s.max_pixels).rgb, size)[0]))
                    names.append(f)
                except UserError:  # not a picture after all (damaged): left out, like a batch's failed item
                    entries.pop(f.name, None)  # nor ranked as it was before it changed
            if batch:
                with torch.no_grad():
                    a = backbone(torch.cat(batch).to(device), [layer])[layer].float().cpu()
                best, arg = a.flatten(2).max(-1)
                for f, m, i in zip(names, best, arg):
                    entries[f.name] = {"stamp": _stamp(f), "max": m.clone(), "arg": i.int().clone(), "hw": list(a.shape[-2:])}
                save_cache(path, entries)
                ran += len(batch)
            for _ in todo[lo : lo + s.chunk]:
                progress.update()
    except KeyboardInterrupt:
        raise Interrupted(None) from None  # what was scanned is cached: the next run resumes
    present = {f.name for f in files}
    return {n: e for n, e in entries.items() if n in present}, ran


def unread(folder, entries: dict[str, Any]) -> list[str]:
    """The folder's picture files `scan` could not read (not in its entries), in name order."""
    return [f.name for f in pictures(folder) if f.name not in entries]


def unread_note(folder, skipped: list[str], total: int) -> str:
    shown = ", ".join(skipped[:3]) + (f" and {len(skipped) - 3} more" if len(skipped) > 3 else "")
    return (f"skipped {len(skipped)} of the {total} pictures in {Path(str(folder)).name}/ that could not be read "
            f"({shown}): damaged, or not pictures")  # fmt: skip


def strongest(entries: dict[str, Any], channel: int, k: int) -> list[tuple[str, float, int, list[int]]]:
    """The k pictures whose strongest activation of `channel` is highest: (name, value, flat
    position, map size), highest first; ties in name order."""
    ranked = sorted(entries.items(), key=lambda e: (-float(e[1]["max"][channel]), e[0]))
    return [(n, float(e["max"][channel]), int(e["arg"][channel]), e["hw"]) for n, e in ranked[:k]]


def crop_box(position: int, hw: list[int], size: int, rf: int) -> tuple[float, float, float, float]:
    """The receptive field (rf px square) around a map position, in the size x size square,
    moved (not shrunk) to stay inside it."""
    h, w = hw
    cy, cx = (position // w + 0.5) * size / h, (position % w + 0.5) * size / w
    side = min(rf, size)
    x0 = min(max(cx - side / 2, 0), size - side)
    y0 = min(max(cy - side / 2, 0), size - side)
    return x0, y0, x0 + side, y0 + side


def crop(path: Path, box: tuple[float, float, float, float], size: int, cell: int, max_pixels: int | None) -> Image.Image:
    """The box cut from the full-resolution picture, so a small field is not a blur of pixels."""
    img = load_image(path, max_pixels=max_pixels).rgb
    _, k, left, top = square(img, size)
    x0, y0, x1, y1 = ((box[0] + left) / k, (box[1] + top) / k, (box[2] + left) / k, (box[3] + top) / k)
    return img.crop(tuple(round(v) for v in (x0, y0, x1, y1))).resize((cell, cell), Image.Resampling.LANCZOS)


# --------------------------------------------------------------------------- the sheet


def _steps_after(report: Reporter, offset: int, total: int) -> Reporter:
    """The activation-maximisation steps continue the scan's bar: one bar for the whole run."""

    def forward(event) -> None:
        if isinstance(event, Step) and event.level == 0:
            event = dataclasses.replace(event, step=event.step + offset, total=total)
        report(event)

    return Reporter(forward, report.cancel)


def fit_label(text: str, width: int) -> str:
    """`text` as wide as `width` pixels in the sheet's font at most: whole when it fits, else cut
    in the middle with "…", so a file name keeps its start and its end (starry…ght.jpg)."""
    from PIL import ImageFont

    font, probe = ImageFont.load_default(), ImageDraw.Draw(Image.new("RGB", (1, 1)))
    if probe.textlength(text, font=font) <= width:
        return text
    head, tail = text[: len(text) // 2], text[len(text) // 2 :]
    while (head or tail) and probe.textlength(f"{head}…{tail}", font=font) > width:
        if len(head) > len(tail):
            head = head[:-1]
        else:
            tail = tail[1:]
    return f"{head}…{tail}"


def top_sheet(folder, layer: str, channel: int, s: TopSettings, ctx: Context) -> Image.Image:
    """The activation-maximisation image of the channel and the folder's top pictures, cropped,
    made with the backbone, device and precision of `ctx` (core.runner's `context_for` makes one);
    it tells the top pictures and how many were scanned for the record."""
    from ..models.inspector import fields
    from ..optim.objectives import channel as channel_objective
    from ..models.measure import check_channels
    from .visualize import contact_sheet, render

    backbone, report = ctx.backbone, ctx.report
    if layer == LOGITS:
        raise UserError("logits have no map to crop", "pick a convolutional layer")
    check_channels(backbone, layer, [channel], ctx.device, flag="a channel")
    folder = Path(str(folder)).expanduser()
    size = s.size or 224
    entries, scanned = scan(folder, layer, s, ctx, extra_steps=s.steps)
    if not entries:
        raise UserError(f"none of the pictures in {folder} could be read", "check the files: are they damaged?")
    skipped = unread(folder, entries)
    if skipped:
        report(ItemDone("note", 0, None, message=unread_note(folder, skipped, len(entries) + len(skipped))))
    rf, _, _ = fields(backbone, [layer])[layer]
    best = strongest(entries, channel, s.top)
    rows = max(1, round(len(best) ** 0.5))
    cell = max(96, (size - 18 * rows) // rows)  # the grid about as tall as the image beside it, or taller to be legible
    crops = [crop(folder / name, crop_box(pos, hw, size, rf), size, cell, s.max_pixels) for name, _, pos, hw in best]
    labels = [fit_label(f"{value:.3g} {name}", cell - 4) for name, value, _, _ in best]
    grid = contact_sheet(crops, labels, cols=-(-len(best) // rows))

    visual = VisualizeSettings(**{f.name: getattr(s, f.name) for f in dataclasses.fields(VisualizeSettings)})
    tried = scanned + len(skipped)  # the scan's bar counted the unread files too
    try:
        am = render(channel_objective(layer, channel), visual, ctx=dataclasses.replace(ctx, report=_steps_after(report, tried, tried + s.steps)))[0]
    except Interrupted:
        raise Interrupted(None) from None
    left = contact_sheet([am], ["what excites it most"])
    head = 32
    sheet = Image.new("RGB", (left.width + grid.width, max(left.height, grid.height) + head), (24, 24, 24))
    sheet.paste(left, (0, head))
    sheet.paste(grid, (left.width, head))
    title = (f"{backbone.name} {layer} #{channel}: the top {len(best)} of {len(entries)} pictures in {folder.name}/\n"
             f"each cropped to the {rf} px its strongest unit sees")  # fmt: skip
    ImageDraw.Draw(sheet).multiline_text((4, 3), title, fill=(235, 235, 235), spacing=2)
    return made(sheet, top=[{"file": nme, "activation": v} for nme, v, _, _ in best], scanned=scanned, skipped=skipped or None)


# The job as the registry calls it (core/registry.py).

def check(job) -> None:
    need(job, "layer", "LAYER:CHANNEL", "e.g. block6:12 (`dreamstyle layers MODEL` lists the layers)")
    need(job, "channel", "LAYER:CHANNEL", "e.g. block6:12")
    pictures(need(job, "folder", "FOLDER", "give a folder of pictures"))  # an empty one is refused here, before a model loads


def make(job, ctx: Context) -> list[Image.Image]:
    i = job.inputs
    return [top_sheet(i["folder"], i["layer"], i["channel"], job.settings, ctx)]
