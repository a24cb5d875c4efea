"""What a network has learned: filter grids, feature-map grids and activation maximisation."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from importlib import resources
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from ..models.backbones import LOGITS, Backbone
from ..errors import Interrupted, UserError, did_you_mean
from ..events import Reporter
from ..media.images import as_picture, resize_longest, to_pil, to_tensor
from ..optim.objectives import Objective, channel, class_logit, diversity
from ..optim.loop import Adam, optimise
from ..optim.param import FFTImage, SigmoidPixels
from ..models.runtime import generator
from ..core.presets import resolve
from ..core.context import Context, made, same_as, told
from ..core.registry import need
from ..core.settings import VisualizeSettings, parse_int_list
from ..models.measure import check_channels
from ..optim.transforms import robustness

# A perceptually even black -> purple -> red -> yellow ramp (inferno's anchor colours).
_RAMP = torch.tensor([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]]) / 255.0


def colormap(x: torch.Tensor) -> torch.Tensor:
    """(H, W) in [0, 1] -> (3, H, W) colours."""
    pos = x.clamp(0, 1) * (len(_RAMP) - 1)
    lo = pos.floor().long().clamp(max=len(_RAMP) - 2)
    t = (pos - lo).unsqueeze(-1)
    return ((1 - t) * _RAMP[lo] + t * _RAMP[lo + 1]).permute(2, 0, 1)


def contact_sheet(images: Sequence[Image.Image], labels: Sequence[str], cols: int | None = None, title: str = "") -> Image.Image:
    """A labelled grid: the label under each cell, so numbers survive any later cropping."""
    n = len(images)
    cols = cols or min(n, 8)
    rows = -(-n // cols)
    cw, ch = max(i.width for i in images), max(i.height for i in images)
    pad, label_h, title_h = 4, 14, 18 if title else 0
    sheet = Image.new("RGB", (cols * (cw + pad) + pad, title_h + rows * (ch + label_h + pad) + pad), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, 3), title, fill=(235, 235, 235))
    for k, (img, label) in enumerate(zip(images, labels)):
        x = pad + (k % cols) * (cw + pad)
        y = title_h + pad + (k // cols) * (ch + label_h + pad)
        sheet.paste(img.convert("RGB"), (x, y))
        draw.text((x + 2, y + ch + 1), label, fill=(235, 235, 235))
    return sheet


def first_conv(backbone: Backbone) -> tuple[str, torch.nn.Conv2d]:
    for name, stage in zip(backbone.stage_names, backbone.stages):
        for m in stage.modules():
            if isinstance(m, torch.nn.Conv2d):
                return name, m
    raise UserError(f"{backbone.name} has no convolution", "pick a CNN backbone")


def filter_cells(backbone: Backbone, cell: int = 48) -> list[Image.Image]:
    """The first layer's kernels as RGB patches, each stretched to full contrast on its own
    (a shared scale would leave most kernels grey) and enlarged without blur."""
    _, conv = first_conv(backbone)
    w = conv.weight.detach().float().cpu()
    if backbone.bgr:
        w = w.flip(1)
    lo = w.amin(dim=(1, 2, 3), keepdim=True)
    hi = w.amax(dim=(1, 2, 3), keepdim=True)
    w = (w - lo) / (hi - lo + 1e-8)
    return [to_pil(F.interpolate(k[None], size=(cell, cell), mode="nearest")) for k in w]


def filter_grid(backbone: Backbone, cell: int = 48) -> Image.Image:
    cells = filter_cells(backbone, cell)
    name = first_conv(backbone)[0]
    return contact_sheet(cells, [str(i) for i in range(len(cells))], cols=8, title=f"{backbone.name} {name}: {len(cells)} filters")


def strongest_channels(backbone: Backbone, image: torch.Tensor, layer: str, top: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The layer's maps for `image` and its `top` channels by mean activation, strongest first."""
    backbone.check_layers([layer])
    if layer == LOGITS:
        raise UserError("logits have no spatial maps", "pick a convolutional layer")
    with torch.no_grad():
        a = backbone(image, [layer])[layer][0].float().cpu()
    return a, a.mean(dim=(1, 2)).argsort(descending=True)[:top]


def feature_maps(backbone: Backbone, image: torch.Tensor, layer: str, top: int = 16, cell: int = 96) -> Image.Image:
    """The strongest channels' maps (by mean activation), each scaled to its own maximum."""
    a, order = strongest_channels(backbone, image, layer, top)
    h, w = a.shape[-2:]
    k = cell / max(h, w)
    size = (max(1, round(h * k)), max(1, round(w * k)))
    cells = []
    for c in order:
        m = a[c] / (a[c].max() + 1e-8) if a[c].max() > 0 else torch.zeros_like(a[c])
        cells.append(to_pil(F.interpolate(colormap(m)[None], size=size, mode="nearest")))
    return contact_sheet(cells, [f"#{int(c)}" for c in order], title=f"{backbone.name} {layer}: top {len(cells)} of {a.shape[0]} channels")


@functools.lru_cache(maxsize=1)
def class_names() -> list[str]:
    """The 1000 ImageNet class names, in index order: torchvision's list (a test keeps the two
    equal), shipped as a file because importing torchvision for it costs over a second a run."""
    return (resources.files("dreamstyle") / "imagenet_classes.txt").read_text(encoding="utf-8").splitlines()


def class_index(spec: str | int) -> int:
    """An ImageNet class by index or by name ("goldfish", "Egyptian cat", "egyptian_cat")."""
    names = class_names()
    if isinstance(spec, int) or str(spec).isdigit():
        i = int(spec)
        if not 0 <= i < len(names):
            raise UserError(f"class index {i} is out of range", f"use 0 to {len(names) - 1}")
        return i
    key = str(spec).strip().lower().replace("_", " ")
    lowered = [n.lower() for n in names]
    if key in lowered:
        return lowered.index(key)
    raise UserError(f"unknown ImageNet class {spec!r}", did_you_mean(key, lowered))


def render(
    objective: Objective,
    settings: VisualizeSettings | None = None,
    *,
    ctx: Context | None = None,
    backbone: Backbone | None = None,
    diversity_layer: str | None = None,
    report: Reporter | None = None,
    **overrides: Any,
) -> list[Image.Image]:
    """Optimise `settings.batch` images to maximise `objective`; returns them as PIL images.

    Objectives aimed at single images (`batch=i`) let one call render many channels at once.
    Objectives are Python values that compose (`channel(...) - 1e2 * diversity(...)`), so this is
    the API for objectives no command names. It runs with `ctx` (as `run` decided it), or, called
    without one, with `backbone` (the settings' model when None) where `run` would put it;
    `report` receives its steps (silent without one).
    """
    s = resolve(VisualizeSettings, "visualize", settings, overrides, _model(ctx, backbone))
    ctx = _context(s, ctx, backbone, report)
    backbone, device, dtype = ctx.backbone, ctx.device, ctx.dtype
    if LOGITS in objective.layers and backbone.classifier is None:
        raise UserError(f"{backbone.name} has no classifier here (its weights file has none)", "use a backbone with ImageNet logits")
    layers = backbone.check_layers(objective.layers)

    total = objective
    if s.diversity and s.batch > 1:
        layer = diversity_layer or next(l for l in backbone.layer_names if l in layers or l == LOGITS)
        if layer == LOGITS:  # diversity needs spatial features: use the last stage instead
            layer = backbone.stage_names[-1]
        total = objective + s.diversity * diversity(layer)
    size = s.size or 224
    gen = generator(s.seed)
    param = (FFTImage if s.param == "fft" else SigmoidPixels)(s.batch, size, size, gen, device)
    steps, until = s.step_plan()
    progress = ctx.report.tracker(steps, f"visualize {backbone.name}")
    opt = Adam(param.parameters(), lr=s.lr or 0.05)
    taken: list[int] | None = None  # --steps auto: the settings say "auto"; the record says how many that was

    def images() -> list[Image.Image]:
        return [made(to_pil(t), s, objective=objective.name, steps_taken=taken) for t in param.image()]

    progress.picture = lambda: images()[0]
    try:
        n = optimise(param, lambda x: -total(backbone(x, total.layers)), opt, steps, transforms=robustness(s.transforms),
                generator=gen, device=device, dtype=dtype, progress=progress, until=until)  # fmt: skip
    except KeyboardInterrupt:
        raise Interrupted(images()) from None  # a list: the caller knows how to lay it out
    if until is not None:
        taken = [n]
        if n < steps:
            progress.total = n
            progress.part_done("scale", 0, 1, f"converged at step {n}")
    return images()


def _model(ctx: Context | None, backbone: Backbone | None) -> str | None:
    """The network a call runs, so a preset's per-model settings follow it."""
    backbone = ctx.backbone if ctx is not None else backbone
    return backbone.name if backbone is not None else None


def _context(s: VisualizeSettings, ctx: Context | None, backbone: Backbone | None, report: Reporter | None) -> Context:
    """`ctx`, or for a call without one (tests, the bench, scripts) the Context `run` would make."""
    if ctx is not None:
        if backbone is not None or report is not None:
            raise TypeError("pass a Context or a backbone and reporter, not both")
        return ctx
    from ..core.runner import context_for

    return context_for(s, backbone, report)


visualize = render


def channel_sheet(layer: str, channels: Sequence[int], settings: VisualizeSettings | None = None, *, ctx: Context | None = None,
                  backbone: Backbone | None = None, report: Reporter | None = None, **overrides: Any) -> Image.Image:
    """One image per channel, all optimised together as one batch, on a labelled sheet (`ctx`,
    `backbone` and `report` as for `render`)."""
    s = resolve(VisualizeSettings, "visualize", settings, overrides, _model(ctx, backbone))
    ctx = _context(s, ctx, backbone, report)
    check_channels(ctx.backbone, layer, channels, ctx.device)
    objective = sum(channel(layer, c, batch=i) for i, c in enumerate(channels))

    def sheet(images: list[Image.Image]) -> Image.Image:
        return same_as(contact_sheet(images, [f"#{c}" for c in channels], title=f"{ctx.backbone.name} {layer}"), images[0])

    try:
        return sheet(_as_asked(render(objective, dataclasses.replace(s, batch=len(channels)), ctx=ctx), s))
    except Interrupted as exc:
        raise Interrupted(sheet(_as_asked(exc.image, s))) from None


def class_images(classes: Sequence[str | int], settings: VisualizeSettings | None = None, *, ctx: Context | None = None,
                 backbone: Backbone | None = None, report: Reporter | None = None, **overrides: Any) -> list[Image.Image]:
    """One image per class (or `batch` per class, made different by --diversity); `ctx`,
    `backbone` and `report` as for `render`."""
    s = resolve(VisualizeSettings, "visualize", settings, overrides, _model(ctx, backbone))
    idx = [class_index(c) for c in classes]
    per = s.batch
    objective = sum(class_logit(k, batch=i * per + j) for i, k in enumerate(idx) for j in range(per))
    ctx = _context(s, ctx, backbone, report)
    try:
        return _as_asked(render(objective, dataclasses.replace(s, batch=len(idx) * per), ctx=ctx), s)
    except Interrupted as exc:
        raise Interrupted(_as_asked(exc.image, s)) from None


def _as_asked(images: list[Image.Image], s: VisualizeSettings) -> list[Image.Image]:
    """Record the batch asked for (per class, or 1 per channel), not the one rendered, so the
    recorded settings re-run the same command."""
    for img in images:
        was = told(img)
        made(img, dataclasses.replace(was.settings, batch=s.batch), **was.facts)
    return images


def load_for_maps(image: Any, size: int | None, max_pixels: int | None, device) -> torch.Tensor:
    rgb = as_picture(image, max_pixels).rgb
    return to_tensor(resize_longest(rgb, size) if size else rgb).to(device)


# Each `visualize` kind as the registry calls it (core/registry.py): its check, before any model
# loads, and how it is made with the loaded backbone.

DEFAULT_CHANNELS = "0-15"


def _channels(job) -> list[int]:
    return parse_int_list(job.inputs.get("channels") or DEFAULT_CHANNELS)


def check_layer(job) -> None:
    need(job, "layer", "--layer", "e.g. --layer block6 (`dreamstyle layers MODEL` lists them)")


def check_maps(job) -> None:
    need(job, "image", "IMAGE", "give the image to look at")
    need(job, "layer", "--layer", "e.g. --layer block3 (`dreamstyle layers MODEL` lists them)")
    top = job.inputs.get("top", 16)
    if not isinstance(top, int) or not 1 <= top <= 4096:
        raise UserError(f"--top {top} is out of range", "use 1 to 4096")


def check_neuron(job) -> None:
    need(job, "layer", "--layer", "e.g. --layer block9 (`dreamstyle layers MODEL` lists them)")
    need(job, "channel", "--channel", "e.g. --channel 12")
    for axis in ("x", "y"):
        at = job.inputs.get(axis)
        if at is not None and not (isinstance(at, int) and at >= 0):
            raise UserError(f"--{axis} {at} is out of range", f"use a position from 0 in the layer's map, or leave --{axis} out for the centre")


def check_class(job) -> None:
    for c in need(job, "classes", "CLASSES", "name one or more ImageNet classes, e.g. goldfish"):
        class_index(c)


def make_filters(job, ctx: Context) -> list[Image.Image]:
    s, layer, backbone = job.settings, job.inputs.get("layer"), ctx.backbone
    first, _ = first_conv(backbone)
    # At or before the first convolution there is nothing to optimise: the kernels are the picture.
    if layer is None or layer == first or (layer in backbone.layer_names and backbone.layer_names.index(layer) <= backbone.stage_names.index(first)):
        backbone.check_layers([layer] if layer else [])
        return [made(filter_grid(backbone), device="", precision="")]  # nothing ran: the kernels are read off the weights
    return [channel_sheet(layer, _channels(job), s, ctx=ctx)]


def make_maps(job, ctx: Context) -> list[Image.Image]:
    s, i = job.settings, job.inputs
    img = feature_maps(ctx.backbone, load_for_maps(i["image"], s.size, s.max_pixels, ctx.device), i["layer"], i.get("top", 16))
    return [made(img, precision="fp32")]  # one forward pass, without autocast


def make_channels(job, ctx: Context) -> list[Image.Image]:
    return [channel_sheet(job.inputs["layer"], _channels(job), job.settings, ctx=ctx)]


def _sheet(images: list[Image.Image], labels: list[str]) -> Image.Image:
    return images[0] if len(images) == 1 else same_as(contact_sheet(images, labels[: len(images)]), images[0])


def _laid_out(make, labels) -> list[Image.Image]:
    """One sheet of a batch of pictures, also when Ctrl-C stops it: the partial is laid out and
    labelled as the output would have been."""
    try:
        images = make()
    except Interrupted as exc:
        raise Interrupted(_sheet(exc.image, labels(len(exc.image))) if exc.image else None) from None
    return [_sheet(images, labels(len(images)))]


def make_neuron(job, ctx: Context) -> list[Image.Image]:
    from ..optim.objectives import neuron

    i = job.inputs
    check_channels(ctx.backbone, i["layer"], [i["channel"]], ctx.device, flag="--channel")
    objective = neuron(i["layer"], i["channel"], i.get("x"), i.get("y"))
    return _laid_out(lambda: render(objective, job.settings, ctx=ctx),
                     lambda n: [f"{i['layer']} #{i['channel']} ({k})" for k in range(n)])  # fmt: skip


def make_class(job, ctx: Context) -> list[Image.Image]:
    names = [class_names()[class_index(c)] for c in job.inputs["classes"]]
    per = job.settings.batch
    return _laid_out(lambda: class_images(job.inputs["classes"], job.settings, ctx=ctx),
                     lambda n: [names[k // per] for k in range(n)])  # fmt: skip
