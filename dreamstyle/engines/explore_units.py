"""What the explorer shows of one unit besides its rendered pictures: a folder's pictures that
excite it most (visualize top's cached index), its map over a photo with the receptive field of
its strongest position drawn, and the first convolution's kernels."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from ..core.context import Context, made
from ..core.settings_probe import TopSettings
from ..errors import UserError
from ..media.images import to_pil


class Ranked(list):
    """[(picture path, score)], strongest first; `scanned` pictures the network ran on this time,
    `skipped` files in the folder that could not be read (damaged or not pictures)."""

    scanned: int = 0
    skipped: int = 0
    total: int = 0


def _scan(ctx: Context, folder, layer: str):
    """The folder's index for `layer` (visualize top's, cached beside the pictures or in the user's
    cache, built once and reused), and how many files it left out."""
    from .top_images import pictures, scan

    files = pictures(folder)
    s = TopSettings(model=ctx.backbone.name, quiet=True)
    entries, scanned = scan(folder, layer, s, ctx)
    return entries, scanned, len(files) - len(entries), len(files)


def top_images(ctx: Context, folder: Path, layer: str, channel: int, n: int = 9) -> Ranked:
    """The `n` pictures of `folder` whose strongest activation of `channel` is highest. The
    folder is scanned once per network and layer; unreadable files are skipped and counted."""
    from .top_images import strongest

    entries, scanned, skipped, total = _scan(ctx, folder, layer)
    _check_channel(ctx, layer, channel)
    ranked = Ranked((Path(str(folder)).expanduser() / name, value) for name, value, _, _ in strongest(entries, channel, n))
    ranked.scanned, ranked.skipped, ranked.total = scanned, skipped, total
    return ranked


def _check_channel(ctx: Context, layer: str, channel: int) -> None:
    from ..models.measure import check_channels

    check_channels(ctx.backbone, layer, [channel], ctx.device, flag="a channel")


def top_crops(ctx: Context, folder, layer: str, channel: int, n: int = 9) -> Image.Image:
    """The top pictures cropped to the receptive field of their strongest unit, with their scores."""
    from ..models.inspector import fields
    from .top_images import crop, crop_box, strongest
    from .visualize import contact_sheet

    entries, scanned, skipped, total = _scan(ctx, folder, layer)
    if not entries:
        raise UserError(f"none of the {total} files in {folder} could be read", "check the files: are they damaged?")
    _check_channel(ctx, layer, channel)
    rf = fields(ctx.backbone, [layer])[layer][0]
    best = strongest(entries, channel, n)
    folder = Path(str(folder)).expanduser()
    crops = [crop(folder / name, crop_box(pos, hw, 224, rf), 224, 96, None) for name, _, pos, hw in best]
    sheet = contact_sheet(crops, [f"{v:.3g} {name}"[:16] for name, v, _, _ in best], cols=min(len(best), 3))
    return made(sheet, top=[{"file": name, "activation": v} for name, v, _, _ in best], scanned=scanned, skipped=skipped)


def unit_on_photo(ctx: Context, image, layer: str, channel: int, size: int = 448) -> Image.Image:
    """The channel's map over the photo (its longest side `size` px), brighter where it fires,
    with the receptive field of its strongest position drawn as a square and labelled."""
    from ..models.backbones import LOGITS
    from ..models.inspector import fields
    from .visualize import colormap, load_for_maps

    ctx.backbone.check_layers([layer])
    if layer == LOGITS:
        raise UserError("logits have no map to draw", "pick a convolutional layer")
    _check_channel(ctx, layer, channel)
    x = load_for_maps(image, size, None, ctx.device)
    with torch.no_grad():
        a = ctx.backbone(x, [layer])[layer][0, channel].float().cpu()
    h, w = a.shape
    H, W = x.shape[-2:]
    peak = float(a.max())
    m = a.clamp(min=0) / peak if peak > 0 else torch.zeros_like(a)
    heat = F.interpolate(colormap(m)[None], size=(H, W), mode="bilinear", align_corners=False)[0]
    mixed = to_pil(0.45 * x[0].float().cpu() + 0.55 * heat)
    pos = int(a.flatten().argmax())
    cy, cx = (pos // w + 0.5) * H / h, (pos % w + 0.5) * W / w
    rf = fields(ctx.backbone, [layer])[layer][0]
    draw = ImageDraw.Draw(mixed)
    draw.rectangle((cx - rf / 2, cy - rf / 2, cx + rf / 2, cy + rf / 2), outline=(80, 255, 255), width=2)
    draw.text((4, 3), f"{layer} #{channel}: peak {peak:.3g} at ({pos % w}, {pos // w}); field {rf} px", fill=(255, 255, 255))
    return made(mixed, precision="fp32", peak=peak, position=[pos % w, pos // w], receptive_field=rf)


def first_layer_kernels(ctx: Context) -> Image.Image:
    """The first convolution's kernels as a grid of RGB patches, each at full contrast."""
    from .visualize import filter_grid

    return made(filter_grid(ctx.backbone), device="", precision="")  # read off the weights: nothing ran
