"""DeepDream: normalised gradient ascent on layer activations over an octave pyramid.

With a mask (`--mask`), the dream grows only where it is white: each step moves only the pixels the
feathered mask reaches, by as much as an unmasked step moves them (the gradient is normalised
over the mask, not over the whole picture), and the result is laid over the photo through the
feathered mask, so outside it the photo's pixels are its own (docs/regions.md).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..optim import tiling
from ..models.backbones import MODELS, Backbone
from ..errors import Interrupted, UserError
from ..events import ItemDone
from ..media.files import image_files
from ..media.images import Picture, as_picture, resize_longest, resize_to, to_pil, to_tensor, with_alpha
from ..optim.objectives import Objective, guide_match, layer_energy
from ..optim.loop import NormalizedAscent, optimise, smooth
from ..optim.masks import at_size, feather, fitted, open_mask_picture, read_mask
from ..optim.param import PixelImage
from ..models.runtime import generator
from ..core.settings import DreamSettings, parse_layers
from ..core.context import Context, made
from ..core.registry import need
from ..core.planning import kind_of
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


def dream_image(picture: Picture, s: DreamSettings, ctx: Context, mask: Any = None) -> Image.Image:
    """DeepDream `picture` with the backbone, device and precision of `ctx` (core.runner's
    `context_for` makes one); returns a PIL image keeping the input's alpha and telling its
    settings as run (`made`). Each step is reported to `ctx.report`; on Ctrl-C or a cancel raises
    `Interrupted` holding the picture as it stood. `mask` (a path or picture): dream only where it
    is white (see the top)."""
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
    m = None
    if mask is not None:
        m = dream_mask(mask, original.shape[-2:], ctx.report).to(device)
        if not m.any():  # a clip's frame the mask leaves out entirely (see `dream_mask`)
            return made(with_alpha(rgb.copy(), picture), s)
    objective = _objective(s, backbone, layers, weights, device)
    sizes = octave_sizes(original.shape[-2], original.shape[-1], s.octaves, s.octave_scale, min_side)

    gen = generator(s.seed)
    tile = tiling.tile_size(s.tile, backbone, layers, original.shape[-2] * original.shape[-1], stride, device, dtype)
    progress = report.tracker(len(sizes) * s.steps, f"dream {backbone.name}")
    detail = torch.zeros(1, 3, *sizes[0], device=device)
    param: PixelImage | None = None

    seen: list[torch.Tensor] = []  # with a mask: the mask as the network sees it this step (jittered)

    def loss_fn(x: torch.Tensor, where: tiling.Where | None = None) -> torch.Tensor:
        feats = backbone(x, objective.layers)
        if seen:
            feats = _inside(feats, seen[0], where)
        return -objective(feats)

    step_loss = tiling.tiled(loss_fn, tile, stride, tiling.shift_generator(gen)) if tile else loss_fn

    def finished(current: torch.Tensor) -> Image.Image:
        out = _compose_up(current, original)
        if m is not None:  # outside the mask the photo's own pixels, whatever the octaves did
            out = m * out + (1 - m) * original
        return made(with_alpha(to_pil(out), picture), s, mask_feather=feather_sigma(original.shape[-2:]) if m is not None else None)

    def so_far() -> Image.Image:
        return finished(param.image())

    progress.picture = so_far
    try:
        for k, (h, w) in enumerate(sizes):
            base = resize_to(original, h, w)
            detail = resize_to(detail, h, w)
            # The classic octave trick: carry only the *added detail* up the pyramid, on top of a
            # fresh resize of the original, so the photo stays sharp at every scale.
            param = PixelImage(base + detail)
            del detail  # an image-sized tensor that is rebuilt below: at 4096 px it is 200 MB
            opt = (NormalizedAscent(param.parameters(), lr=s.lr, norm=s.norm, smooth=s.smooth) if m is None
                   else MaskedAscent(param.parameters(), at_size(m, (h, w)), lr=s.lr, norm=s.norm, smooth=s.smooth))  # fmt: skip
            shift = [jitter(s.jitter)] if s.jitter else []
            optimise(
                param, step_loss, opt, s.steps,
                transforms=shift if m is None else [_carrying(shift, at_size(m, (h, w)), seen)],
                generator=gen, device=device, dtype=dtype,
                after_step=param.constrain, progress=progress,
            )  # fmt: skip
            detail = param.image() - base
            progress.part_done("octave", k, len(sizes))
    except KeyboardInterrupt:
        raise Interrupted(so_far() if param is not None else None) from None
    return finished(param.image())


def _objective(s: DreamSettings, backbone: Backbone, layers, weights, device) -> Objective:
    if not s.guide:
        return sum(w * layer_energy(l, s.channels) for l, w in weights.items())
    guide = as_picture(s.guide, s.max_pixels).rgb
    guide = resize_longest(guide, min(s.size or 512, 512))
    with torch.no_grad():
        feats = backbone(to_tensor(guide).to(device), layers)
    return sum(w * guide_match(l, feats[l]) for l, w in weights.items())


def _carrying(transforms, mask: torch.Tensor, seen: list[torch.Tensor]):
    """`transforms` (the jitter) applied to the picture and its mask together, so the mask the
    objective is weighted by lines up with the pixels the network sees; the same random draws as
    the picture alone, so a masked dream jitters as its unmasked twin does."""

    def fn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        y = torch.cat([x, mask.to(x.dtype)], 1)
        for t in transforms:
            y = t(y, g)
        seen[:] = [y[:, 3:].detach()]
        return y[:, :3]

    return fn


def _inside(feats: dict, mask: torch.Tensor, where: tiling.Where | None) -> dict:
    """Features weighted by the square root of the mask at each layer's positions: the energy
    (a mean square) then counts the positions inside the mask, so creatures grow centred inside
    it rather than straddling its edge, to be cut off there by the composite. The guide's
    dot-product match picks the same guide feature per position as without the weight."""
    if where is not None:  # a tile: its piece of the mask
        mask = mask.index_select(-2, where[0]).index_select(-1, where[1])
    return {l: f * at_size(mask, f.shape[-2:]).sqrt().to(f.dtype) for l, f in feats.items()}


def _compose_up(current: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """An in-progress image shown at the final size (snapshots and interrupts mid-pyramid)."""
    h, w = original.shape[-2:]
    if current.shape[-2:] == (h, w):
        return current
    small = resize_to(original, *current.shape[-2:])
    return (original + resize_to(current - small, h, w)).clamp(0, 1)


# A mask's edge is softened by a Gaussian of this share of the picture's shorter side (at least
# MIN_FEATHER px): 3.8 px at 384, 10 px at 1024. A hard edge then fades over about 4 sigma, which
# hides the seam a dream cut off at a hard line shows, while the dream stays within a few pixels
# of where it was drawn.
FEATHER = 1 / 100
MIN_FEATHER = 2.0
# Where the feathered mask is below this, a step moves nothing (its far tail, ~3 sigma out).
REACH = 1e-3


def feather_sigma(hw) -> float:
    """The feather's Gaussian, in pixels, for a picture of `hw`."""
    return max(MIN_FEATHER, min(hw) * FEATHER)


def dream_mask(source: Any, hw, report=None) -> torch.Tensor:
    """The mask a dream of size `hw` keeps to: 1 x 1 x H x W weights in 0…1, feathered. A mask
    file that is all black is refused; one given as a picture (a clip's frame, from a folder of
    masks) may be, and leaves that frame as it was: the thing masked has left the view. A mask of
    another shape is stretched, and `report` hears a note saying so."""
    notes: list[str] = []
    if isinstance(source, (str, Path)):
        m = read_mask(source, tuple(hw), "the mask", notes)
    else:
        m = fitted(open_mask_picture(source, "the mask"), tuple(hw), "the mask", notes).mean(1, keepdim=True)
    for text in notes if report is not None else ():
        report(ItemDone("note", 0, None, message=text))
    return feather(m, feather_sigma(hw)) if m.max() >= 1 / 255 else torch.zeros_like(m)


class MaskedAscent(NormalizedAscent):
    """NormalizedAscent confined to a mask: the step moves only the pixels the mask reaches, and
    the gradient is normalised by its mean magnitude over the mask (weighted by it), not over the
    whole picture. Over the whole picture, the zeros outside would shrink the mean and blow the
    step up, and a mask over a flat sky would take its step size from the busy ground."""

    def __init__(self, params, mask: torch.Tensor, **kw):
        super().__init__(params, **kw)
        self.mask, self.reach = mask, (mask > REACH).to(mask.dtype)

    def _update(self, p: torch.Tensor, g: torch.Tensor, group: dict) -> None:
        if group["smooth"] > 0:
            g = smooth(g, group["smooth"])
        w = self.mask.expand_as(g)
        if group["norm"] == "mean-abs":
            scale = (g.abs() * w).sum() / w.sum()
        else:
            mean = (g * w).sum() / w.sum()
            scale = ((g - mean).pow(2) * w).sum().div(w.sum()).sqrt()
        p.sub_(g * self.reach * (group["lr"] / (scale + 1e-8)))


# The job as the registry calls it (core/registry.py).

def check(job) -> None:
    need(job, "image", "IMAGE", "give the photo to dream on")
    check_mask(job)


def check_mask(job) -> None:
    """A mask refused before a model loads: not a picture, all black, or a folder of masks for
    what is not a clip (a batch's photos all take one mask file), or for a zoom of more frames."""
    mask = job.inputs.get("mask")
    if not isinstance(mask, (str, Path)):
        return  # none, or a picture in memory (a clip's frame, the API)
    if not Path(mask).is_dir():
        try:
            img = open_mask_picture(mask, "the mask")
        except UserError as exc:  # said as the mask's, not as if IMAGE were unreadable
            raise UserError(f"--mask: {exc.message}", exc.hint) from None
        read_mask(img, (img.height, img.width))  # refuses an all-black one
        return
    if job.motion is None and kind_of(job.inputs["image"]) == "image":
        raise mask_folder_refused(mask)
    count = len(image_files(Path(mask)))
    if count == 0:
        raise UserError(f"the mask folder {mask} holds no pictures", "put one mask per frame in it (in name order), or give one mask file")
    if job.engine == "zoom" and count < job.motion.frames:
        raise UserError(f"the mask folder {mask} has {count} picture{'s' if count != 1 else ''} for {job.motion.frames} frames",
                        "give one mask per frame (in name order), or one mask file for every frame")  # fmt: skip


def mask_folder_refused(mask: Any) -> UserError:
    """What a folder of masks given to a picture or a batch (not a clip) is told."""
    return UserError(f"the mask {mask} is a folder: a folder of masks is for a clip, one mask per frame",
                     "for a photo or a batch of photos give one mask file; for a clip of frames add -o out.mp4 or --temporal flow")


def make(job, ctx: Context) -> list[Image.Image]:
    picture = as_picture(need(job, "image", "IMAGE", "give the photo to dream on"), job.settings.max_pixels)
    return [dream_image(picture, job.settings, ctx, job.inputs.get("mask"))]

