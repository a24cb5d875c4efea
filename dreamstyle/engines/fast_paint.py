"""Painting with a trained network: one forward pass per picture, no backbone, no optimisation.
`dreamstyle style PHOTO --net NAME.pt` makes these Jobs (engine "fast")."""

from __future__ import annotations

import torch
from PIL import Image

from ..core.context import Context, made
from ..core.registry import need
from ..core.settings_fast import FastSettings
from ..errors import UserError
from ..media.images import as_picture, resize_longest, to_pil, to_tensor, with_alpha
from ..media.network_file import NetworkFile, load_network
from ..models.runtime import autocast, free_memory
from .fast_tiles import needs_tiles, paint_in_tiles
from ..models.transformer_net import TransformerNet, mix_vector


def check(job) -> None:
    need(job, "content", "PHOTO", "give the photo to paint, e.g. dreamstyle style photo.jpg --net starry.pt")
    if not job.settings.net:
        raise UserError("missing --net", "name a network made by `dreamstyle train`, e.g. --net starry.pt")
    net = load_network(job.settings.net)  # a wrong or damaged file is refused before anything runs
    mix = job.settings.mix
    if mix is not None and len(mix) != net.styles:
        raise UserError(f"--mix has {len(mix)} weights but {job.settings.net} holds {net.styles} painting{'s' * (net.styles > 1)}",
                        f"give {net.styles} weights, e.g. --mix {','.join(['1'] * net.styles)}")  # fmt: skip


_built: dict[tuple[str, str], TransformerNet] = {}


def painter(path: str, device) -> tuple[NetworkFile, TransformerNet]:
    """The file at `path` and its network on `device`, built once per process and file version
    (a folder or a video loads it once)."""
    file = load_network(path)
    key = (file.sha256, str(device))
    if key not in _built:
        net = TransformerNet(file.styles, file.net_size)
        net.load_state_dict(file.state_dict)
        if len(_built) >= 2:
            _built.pop(next(iter(_built)))
        _built[key] = net.eval().to(device).to(memory_format=torch.channels_last)
    return file, _built[key]


def paint(photo: torch.Tensor, s: FastSettings, ctx: Context) -> torch.Tensor:
    """`photo` (1, 3, H, W) in [0, 1] painted by the network `s.net` names, on ctx's device and in
    its precision; a picture larger than one pass should hold (or than the GPU's memory) in
    seam-free tiles."""
    file, net = painter(s.net, ctx.device)
    mix = mix_vector(s.mix, file.styles).to(ctx.device)
    x = photo.to(ctx.device).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), autocast(ctx.device, ctx.dtype):
        if needs_tiles(*x.shape[-2:]):
            return paint_in_tiles(net, x, mix).clamp(0, 1)
        try:
            out = net(x, mix)
        except torch.OutOfMemoryError as exc:
            free_memory(exc)
            return paint_in_tiles(net, x, mix).clamp(0, 1)
    return out.float().clamp(0, 1)


def paint_picture(picture, s: FastSettings, ctx: Context) -> Image.Image:
    """A loaded picture (media.images.Picture) painted at `s.size`, its alpha kept: what a job
    makes, and what the studio paints live."""
    rgb = picture.rgb if s.size is None else resize_longest(picture.rgb, s.size)
    return with_alpha(to_pil(paint(to_tensor(rgb), s, ctx)), picture)


def make(job, ctx: Context) -> list[Image.Image]:
    s: FastSettings = job.settings
    out = paint_picture(as_picture(job.inputs["content"], s.max_pixels), s, ctx)
    ctx.report.check()
    file, _ = painter(s.net, ctx.device)
    return [made(out, net_sha256=file.sha256, net_iterations=file.iterations)]
