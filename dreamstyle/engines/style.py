"""Gatys style transfer on the shared core: content + Gram style losses + TV, coarse to fine."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from ..optim import canvas, color, tiling
from ..models.backbones import MODELS, Backbone
from ..errors import Interrupted, UserError
from ..media.images import Picture, as_picture, resize_longest, save_image, to_pil, to_tensor, with_alpha
from ..optim.objectives import Objective, content_loss, gram, style_loss, tv_loss, weighted
from ..optim.loop import LBFGS, Adam, Optimizer, optimise
from ..optim.param import PixelImage
from ..models.runtime import generator
from ..core.settings import AUTO, StyleSettings, parse_layers
from ..core.context import Context, made
from ..core.registry import need
from ..events import ItemDone
from .style_regions import Regions, auto_map_path
from ..models.measure import channels_and_strides

ADAM_LR = 0.02


def scale_ladder(size: int) -> list[int]:
    """Halve down to no less than 192 px: the coarse solve fixes large-scale composition cheaply,
    each finer scale only adds detail (as in jcjohnson's multires recipe). Chosen by eye as much as
    by the judge (docs/performance.md): from the palette start a single scale at 384 px reaches the
    judge's numbers sooner, but it settles near the photo with the painting's large shapes missing
    (astronaut x mosaic kept the photo's flat areas with faint tiles, and --style-weight 300 or 1000
    barely changed it); solving at 192 first paints the big tiles and swirls, in 11-19 s at 384 px
    where the same ladder from the photo took 25 s."""
    ladder = [size]
    while ladder[0] // 2 >= 192:
        ladder.insert(0, ladder[0] // 2)
    return ladder


def _as_run(s: StyleSettings, backbone: Backbone) -> StyleSettings:
    """`s` with the model's default layers filled in: recorded as run, not as "default"."""
    info = MODELS.get(backbone.name)
    return dataclasses.replace(s, content_layers=s.content_layers or (info.content_layers if info else ""),
                               style_layers=s.style_layers or (info.style_layers if info else ""))  # fmt: skip


def style_images(content: Any, style: Any, s: StyleSettings, ctx: Context, *,
                 sweep: list[float] | None = None, start: Image.Image | None = None,
                 temporal: Callable[[torch.Tensor], torch.Tensor] | None = None, regions: Regions | None = None) -> list[Image.Image]:
    """Paint `content` in the manner of `style` (one image or a list to blend) with the backbone,
    device and precision of `ctx` (core.runner's `context_for` makes one, and checks the backbone
    pools as `s.pooling` asks). One picture, or one per style weight of `sweep`,
    optimised together as one batch: each keeps its own losses and L-BFGS history, so picture i
    is the one a separate run with that weight paints (up to float rounding of batched kernels).
    `start` is a picture to start the first scale from instead of `s.init` (a clip's frame);
    `temporal(x)` is a loss added at every untiled scale (a clip frame's hold on the frames
    before it, temporal.TemporalLoss), shown among the loss terms as "temporal". `regions` gives
    each style its own part of the photo (style_regions.py).
    Each step is reported; on Ctrl-C or a cancel raises `Interrupted` with the picture so far."""
    if sweep is not None:
        sweep = [float(w) for w in sweep]
        if not sweep or any(not 0 <= w <= 1e12 for w in sweep):
            raise UserError("a sweep needs style weights from 0 up", "e.g. style_weights=[30, 100, 300]")
        if s.tile:
            raise UserError("a style-weight sweep cannot be tiled", "sweep at a size that fits, then render the one you like with --tile")
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise UserError("no style image given", "pass at least one STYLE image")
    if regions is not None:
        regions.check(s, sweep)
    blend = s.style_blend or [1.0] * len(styles)
    if len(blend) != len(styles):
        raise UserError(f"--style-blend has {len(blend)} weights for {len(styles)} style images", "give one weight per style image")
    blend = [w / sum(blend) for w in blend]

    backbone, device, dtype, report = ctx.backbone, ctx.device, ctx.dtype, ctx.report
    picture = as_picture(content, s.max_pixels)
    style_pics = [as_picture(p, s.max_pixels) for p in styles]
    s = _as_run(s, backbone)
    content_w, style_w = parse_layers(s.content_layers), parse_layers(s.style_layers)
    backbone.check_layers([*content_w, *style_w])
    strides = {layer: stride for layer, (_, stride) in channels_and_strides(backbone, [*content_w, *style_w], device).items()}
    deepest = max(strides, key=strides.get)
    min_side = 2 * strides[deepest]
    if min(picture.rgb.size) < min_side:
        # Upscaling a thumbnail to --size would only paint its blown-up pixels.
        w, h = picture.rgb.size
        raise UserError(
            f"the content image is {w}x{h}, too small for layer {deepest}",
            f"its shortest side must be at least {min_side} px: use a larger image or shallower layers",
        )

    final = s.size or (s.scales[-1] if s.scales else max(picture.rgb.size))
    # --size wins over a ladder that ends elsewhere (e.g. a preset's): the ladder keeps its shape.
    ladder = [max(16, round(x * final / s.scales[-1])) for x in s.scales] if s.scales else scale_ladder(final)
    if min(resize_longest(picture.rgb, ladder[0]).size) < min_side:
        raise UserError(
            f"the content image is too small at {ladder[0]} px for layer {deepest}",
            f"its shortest side must reach {min_side} px: raise --size/--scales or use shallower layers",
        )

    if not (s.content_weight or (max(sweep) if sweep else s.style_weight)):
        # Checked once, before any scale: a run whose every scale is tiled never builds the objectives.
        raise UserError("--content-weight and --style-weight are both 0: nothing to optimise", "give at least one a positive weight")
    gen = generator(s.seed)
    progress = report.tracker(sum(_budget(s, k, len(ladder))[0] for k in range(len(ladder))), f"style {backbone.name}")
    taken: list[int] = []
    image: torch.Tensor | None = None
    param: PixelImage | None = None
    margin = 0  # each scale is optimised inside a free margin (canvas.py)
    content_full = to_tensor(resize_longest(picture.rgb, final)).to(device)
    if regions is not None:
        regions.place(picture, tuple(content_full.shape[-2:]), ctx, s.seed)
        for note in regions.notes:
            report(ItemDone("note", 0, None, message=note))
    first = to_tensor(start.convert("RGB")).to(device) if start is not None else None

    def so_far() -> Image.Image | None:
        if param is None:
            return None
        picture_so_far = canvas.inner(param.image()[:1], margin)
        return _finish(_output(picture_so_far, content_full, s), picture, s, taken)

    progress.picture = so_far
    try:
        for k, size in enumerate(ladder):
            content_t = _fit(content_full, size)
            targets = [_fit(to_tensor(resize_longest(p.rgb, max(16, round(size * s.style_scale)))).to(device), None) for p in style_pics]
            if s.preserve_color == "histogram":
                targets = [color.match_color(t, content_t) for t in targets]
            elif s.preserve_color == "luminance":
                targets = [color.match_luminance(color.rgb_to_yiq(t), color.rgb_to_yiq(content_t)) for t in targets]
                content_t = color.luminance(content_t)
            if s.tile and max(content_t.shape[-2:]) > s.tile:
                # Too big for one pass: refine the upsampled coarser result in tiles (tiling.py).
                init = _init(s, image, content_t, targets, blend, gen, picture, first, sweep, regions)
                steps, until = _budget(s, k, len(ladder))
                style_for = _tiled_regions(regions, backbone, targets, style_w, s, device, dtype, strides) if regions else None
                image, n = tiling.refine_style(backbone, init, content_t, targets, blend, content_w, style_w, s, gen, device, dtype,
                                               progress, steps=steps, until=until, style_for=style_for)  # fmt: skip
                _scale_done(progress, taken, n, steps, k, len(ladder))
                continue
            margin = canvas.canvas_margin(content_t)
            inside = functools.partial(canvas.in_picture, margin=margin, strides=strides)
            content_obj, style_obj = _objectives(backbone, canvas.widen(content_t, margin), targets, blend, content_w, style_w, s,
                                                 sweep, inside, regions)  # fmt: skip
            layers = (content_obj.layers if content_obj else frozenset()) | (style_obj.layers if style_obj else frozenset())
            init = _init(s, image, content_t, targets, blend, gen, picture, first, sweep, regions)
            if sweep and init.shape[0] == 1:
                init = init.expand(len(sweep), -1, -1, -1)
            param = PixelImage(canvas.widen(init, margin))

            def loss_fn(x: torch.Tensor) -> torch.Tensor:
                feats = inside(backbone(x, layers))
                terms = {}
                if content_obj is not None:
                    terms["content"] = content_obj(feats)
                if style_obj is not None:
                    terms["style"] = style_obj(feats)
                if s.tv_weight:
                    terms["tv"] = s.tv_weight * tv_loss(x.float())
                if temporal is not None:  # the frame's own pixels, not the canvas's margin
                    terms["temporal"] = temporal(canvas.inner(x, margin).float())
                progress.terms = {k: v.detach() for k, v in terms.items()}
                return sum(terms.values())

            opt = _optimizer(s, param.parameters())
            clamp = param.constrain if s.optimizer == "adam" else None

            steps, until = _budget(s, k, len(ladder))
            until = canvas.watching_the_picture(until, margin)
            n = optimise(param, loss_fn, opt, steps, generator=gen, device=device, dtype=dtype, after_step=clamp, progress=progress, until=until)
            image = canvas.inner(param.image(), margin).clamp(0, 1)
            _scale_done(progress, taken, n, steps, k, len(ladder))
    except KeyboardInterrupt:
        raise Interrupted(so_far()) from None
    return [
        _finish(_output(image[i : i + 1], content_full, s), picture, s if sweep is None else dataclasses.replace(s, style_weight=w), taken)
        for i, w in enumerate(sweep or [s.style_weight])
    ]


def _budget(s: StyleSettings, k: int, count: int):
    """(the most steps scale k of `count` takes, its stopping rule): `--steps N` runs N at every
    scale; `auto` stops by its rule, and a coarse scale also after AUTO_COARSE_CEILING steps."""
    most, until = s.step_plan()
    if until is not None and k < count - 1:
        most = min(most, s.AUTO_COARSE_CEILING)
    return most, until


def _scale_done(progress, taken: list[int], n: int, steps: int, k: int, count: int) -> None:
    """A scale ended after `n` of at most `steps` steps: a converged one gives back the steps it
    did not need, so the bar's total is what will really run."""
    taken.append(n)
    if n < steps:
        progress.total -= steps - n
    progress.part_done("scale", k, count, f"converged at step {n}" if n < steps else "")


def _fit(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """`x` with its longest side at `size` (None: as is)."""
    if size is None or max(x.shape[-2:]) == size:
        return x
    h, w = x.shape[-2:]
    k = size / max(h, w)
    hw = (max(1, round(h * k)), max(1, round(w * k)))
    return F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=k < 1)


def _objectives(backbone, content_t, targets, blend, content_w, style_w, s: StyleSettings,
                sweep: list[float] | None = None, inside=lambda feats: feats, regions: Regions | None = None) -> tuple[Objective | None, Objective | None]:  # fmt: skip
    """The weighted content and style losses (either None when its weight is 0; style_images has
    refused both being 0). `inside` picks the feature positions the losses are taken over (those of
    the picture on a canvas); `regions`: each style's loss over its own part of the photo."""
    if regions is not None:
        with torch.no_grad():
            c_feats = inside(backbone(content_t, list(content_w)))
        content = weighted(content_w, s.content_weight, lambda l: content_loss(l, c_feats[l])) if s.content_weight else None
        return content, regions.objective(regions.targets(backbone, targets, style_w), style_w, s, sweep, content_t.device)
    with torch.no_grad():
        c_feats = inside(backbone(content_t, list(content_w)))
        # Blending several styles mixes their Gram targets, so one run paints in a true mixture
        # instead of alternating between the styles.
        grams = {l: 0.0 for l in style_w}
        for t, w in zip(targets, blend):
            feats = backbone(t, list(style_w))
            for l in style_w:
                grams[l] = grams[l] + w * gram(feats[l])
    style_weight = max(sweep) if sweep else s.style_weight
    # A sweep scales each image's style loss by its own weight instead of one engine weight.
    per_image = torch.tensor(sweep, device=content_t.device) if sweep else None
    engine_w = 1.0 if sweep else s.style_weight
    content = weighted(content_w, s.content_weight, lambda l: content_loss(l, c_feats[l])) if s.content_weight else None
    style = weighted(style_w, engine_w, lambda l: style_loss(l, grams[l], per_image)) if style_weight else None
    return content, style


# How far `--init palette` recolours the photo: weight / (weight + PALETTE_HALF) of the way to the
# painting's colours, so the start follows the balance the run will find. At the default weight 100
# it is 0.91 recoloured; at --style-weight 1 only 0.09, which keeps that setting what it is meant
# to be, a hint of the painting (a full recolour there left 0.91 of the photo's edges instead of
# 0.99, bench/balance.py); halfway at 10, where about a quarter of the photo's structure goes.
PALETTE_HALF = 10.0


def _init(s: StyleSettings, previous, content_t, targets: list[torch.Tensor], blend: list[float], gen, picture: Picture,
          start: torch.Tensor | None = None, sweep: list[float] | None = None, regions: Regions | None = None) -> torch.Tensor:  # fmt: skip
    h, w = content_t.shape[-2:]
    if previous is not None:
        up = F.interpolate(previous, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
        return color.luminance(up) if s.preserve_color == "luminance" else up
    if start is not None:
        src = start
    elif s.init == "palette":
        # The photo in the painting's colours: the shallow style layers' Grams are then met from
        # step 0 instead of after ~100 steps of recolouring pixel by pixel. Measured on lite0 at
        # 384 px (bench/curves.py, docs/performance.md): in one scale the judge's style distance
        # reached 0.2 in 2.3 s instead of 12.1 s; with the ladder a run takes half the time.
        # With colours preserved the targets already wear the photo's colours: it starts from
        # the photo.
        if s.preserve_color != "none":
            return content_t
        if regions is not None:
            return regions.palette(content_t, targets, s, sweep, PALETTE_HALF)
        weights = torch.tensor(sweep or [s.style_weight], dtype=content_t.dtype, device=content_t.device)
        share = (weights / (weights + PALETTE_HALF)).view(-1, 1, 1, 1)
        return torch.lerp(content_t, color.match_color(content_t, targets, blend), share)
    elif s.init == "content":
        return content_t
    elif s.init == "noise":
        return torch.rand(1, 3, h, w, generator=gen).to(content_t)
    elif s.init == "style":
        src = targets[0]
    else:
        src = to_tensor(as_picture(s.init, s.max_pixels).rgb).to(content_t)
    init = F.interpolate(src, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return color.luminance(init) if s.preserve_color == "luminance" else init


def _optimizer(s: StyleSettings, params: Sequence[torch.Tensor]) -> Optimizer:
    if s.optimizer == "adam":
        return Adam(params, lr=s.lr or ADAM_LR)
    # One L-BFGS iteration per step, fixed unit step and no line search, as neural-style does:
    # a line search would spend several forward/backward passes per step for little gain here.
    # The history holds two image-sized tensors per step: keep it under ~1.5 GB at huge sizes.
    params = list(params)
    pair_bytes = 2 * 4 * sum(p.numel() for p in params)
    return LBFGS(params, lr=1.0, history=max(5, min(50, int(1.5e9 // pair_bytes))))


def _output(image: torch.Tensor, content_full: torch.Tensor, s: StyleSettings) -> torch.Tensor:
    image = _fit(image.clamp(0, 1), max(content_full.shape[-2:]))
    if image.shape[-2:] != content_full.shape[-2:]:
        image = F.interpolate(image, size=content_full.shape[-2:], mode="bicubic", align_corners=False)
    if s.preserve_color == "luminance":
        return color.keep_chroma(image, content_full)
    return image.clamp(0, 1)


def _finish(img: torch.Tensor, picture: Picture, s: StyleSettings, taken: list[int] | None = None) -> Image.Image:
    # The settings say "auto"; the record says how many steps that was.
    return made(with_alpha(to_pil(img), picture), s, steps_taken=list(taken) if taken and s.steps == AUTO else None)


# The job as the registry calls it (core/registry.py).

def check(job) -> None:
    need(job, "content", "CONTENT", "give the photo to paint and one or more style images")
    styles = need(job, "styles", "STYLE", "give one or more style images after the photo")
    if not isinstance(styles, list) or None in styles:
        raise UserError("a style image was never a file, so it cannot be read again", "give the style images on the command line")
    regions = Regions.of(job)
    if regions is not None:
        regions.check(job.settings, job.inputs.get("sweep"))


def make(job, ctx: Context) -> list[Image.Image]:
    i = job.inputs
    regions = Regions.of(job)
    out = style_images(i["content"], i["styles"], job.settings, ctx, sweep=i.get("sweep"), start=i.get("start"), temporal=i.get("temporal"),
                       regions=regions)  # fmt: skip
    if regions is not None and regions.found is not None and job.output and not job.is_clip:
        # The regions found for `auto`, beside the picture: a start to edit and pass back as --regions.
        save_image(regions.found, auto_map_path(job.output), force=True)
    return out


def _tiled_regions(regions: Regions, backbone, targets, style_w, s: StyleSettings, device, dtype, strides):
    """The region style loss of one tile (tiling.refine_style's `style_for`): the paintings'
    whole Grams as targets, the guidance channels cropped to the tile."""
    stride = max(strides.values())
    grams = {l: torch.stack([tiling.tiled_grams(backbone, t, [l], s.tile, stride, device, dtype)[l][0] for t in targets]) for l in style_w}
    return lambda where: regions.objective(grams, style_w, s, None, device,
                                           crop=lambda full: full.index_select(-2, where[0].cpu()).index_select(-1, where[1].cpu()))
