"""DeepDream: normalised gradient ascent on layer activations over an octave pyramid."""

from __future__ import annotations

import dataclasses

import torch
from PIL import Image

from ..optim import tiling
from ..models.backbones import MODELS, Backbone
from ..errors import Interrupted, UserError
from ..media.images import Picture, as_picture, resize_longest, resize_to, to_pil, to_tensor, with_alpha
from ..optim.objectives import Objective, guide_match, layer_energy
from ..optim.loop import NormalizedAscent, optimise
from ..optim.param import PixelImage
from ..models.runtime import generator
from ..core.settings import DreamSettings, parse_layers
from ..core.context import Context, made
from ..core.registry import need
from ..models.measure import channels_and_strides, check_channels
from ..optim.transforms import jitter


def octave_sizes(height: int, width: int, octaves: int, scale: float, min_side: int) -> list[tuple[int, int]]:
    """Smallest first; octaves that would shrink the short side below `min_side` are dropped."""
    sizes = []
    for k in reversed(range(octaves)):
        h, w = round(height / scale**k), round(width / scale**k)
        if min(h, w) >= min_side:
            sizes.append((h, w))
    return sizes or [(height, width)]


def _as_run(s: DreamSettings, backbone: Backbone) -> DreamSettings:
    """`s` with the model's default layers filled in: recorded as run, not as "default"."""
    return dataclasses.replace(s, layers=s.layers or (MODELS[backbone.name].dream_layers if backbone.name in MODELS else ""))


def dream_image(picture: Picture, s: DreamSettings, ctx: Context) -> Image.Image:
    """DeepDream `picture` with the backbone, device and precision of `ctx` (core.runner's
    `context_for` makes one); returns a PIL image keeping the input's alpha and telling its
    settings as run (`made`). Each step is reported to `ctx.report`; on Ctrl-C or a cancel raises
    `Interrupted` holding the picture as it stood."""
    backbone, device, dtype, report = ctx.backbone, ctx.device, ctx.dtype, ctx.report
    s = _as_run(s, backbone)
    weights = parse_layers(s.layers)
    layers = backbone.check_layers(weights)
    shapes = channels_and_strides(backbone, layers, device)
    for layer in layers if s.channels is not None else ():
        check_channels(backbone, layer, s.channels, device)
    stride = max(stride for _, stride in shapes.values())
    min_side = 2 * stride

    rgb = resize_longest(picture.rgb, s.size) if s.size else picture.rgb
    # The source counts too: upscaling a thumbnail cannot add what the layer needs to see.
    small = min(rgb, picture.rgb, key=lambda im: min(im.size))
    if min(small.size) < min_side:
        raise UserError(
            f"the image is {small.width}x{small.height}, too small for layer {layers[-1]}",
            f"its shortest side must be at least {min_side} px: use a larger image, raise --size or pick a shallower layer",
        )
    original = to_tensor(rgb).to(device)
    objective = _objective(s, backbone, layers, weights, device)
    sizes = octave_sizes(original.shape[-2], original.shape[-1], s.octaves, s.octave_scale, min_side)

    gen = generator(s.seed)
    tile = tiling.tile_size(s.tile, backbone, layers, original.shape[-2] * original.shape[-1], stride, device, dtype)
    progress = report.tracker(len(sizes) * s.steps, f"dream {backbone.name}")
    detail = torch.zeros(1, 3, *sizes[0], device=device)
    param: PixelImage | None = None

    def loss_fn(x: torch.Tensor, _where: tiling.Where | None = None) -> torch.Tensor:
        return -objective(backbone(x, objective.layers))

    step_loss = tiling.tiled(loss_fn, tile, stride, tiling.shift_generator(gen)) if tile else loss_fn

    def so_far() -> Image.Image:
        return made(with_alpha(to_pil(_compose_up(param.image(), original)), picture), s)

    progress.picture = so_far
    try:
        for k, (h, w) in enumerate(sizes):
            base = resize_to(original, h, w)
            detail = resize_to(detail, h, w)
            # The classic octave trick: carry only the *added detail* up the pyramid, on top of a
            # fresh resize of the original, so the photo stays sharp at every scale.
            param = PixelImage(base + detail)
            del detail  # an image-sized tensor that is rebuilt below: at 4096 px it is 200 MB
            opt = NormalizedAscent(param.parameters(), lr=s.lr, norm=s.norm, smooth=s.smooth)
            optimise(
                param, step_loss, opt, s.steps,
                transforms=[jitter(s.jitter)] if s.jitter else [],
                generator=gen, device=device, dtype=dtype,
                after_step=param.constrain, progress=progress,
            )  # fmt: skip
            detail = param.image() - base
            progress.part_done("octave", k, len(sizes))
    except KeyboardInterrupt:
        raise Interrupted(so_far() if param is not None else None) from None
    return made(with_alpha(to_pil(param.image()), picture), s)


def _objective(s: DreamSettings, backbone: Backbone, layers, weights, device) -> Objective:
    if not s.guide:
        return sum(w * layer_energy(l, s.channels) for l, w in weights.items())
    guide = as_picture(s.guide, s.max_pixels).rgb
    guide = resize_longest(guide, min(s.size or 512, 512))
    with torch.no_grad():
        feats = backbone(to_tensor(guide).to(device), layers)
    return sum(w * guide_match(l, feats[l]) for l, w in weights.items())


def _compose_up(current: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """An in-progress image shown at the final size (snapshots and interrupts mid-pyramid)."""
    h, w = original.shape[-2:]
    if current.shape[-2:] == (h, w):
        return current
    small = resize_to(original, *current.shape[-2:])
    return (original + resize_to(current - small, h, w)).clamp(0, 1)


# The job as the registry calls it (core/registry.py).

def check(job) -> None:
    need(job, "image", "IMAGE", "give the photo to dream on")


def make(job, ctx: Context) -> list[Image.Image]:
    picture = as_picture(need(job, "image", "IMAGE", "give the photo to dream on"), job.settings.max_pixels)
    return [dream_image(picture, job.settings, ctx)]
