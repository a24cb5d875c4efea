"""The translation probe: how a network's answer and its feature maps follow a moving picture.

A window of `size` px slides over the photo by 0…max_shift px (optionally turning and zooming as
it goes). At every position the probe records the probability of the class the network saw at
the start, and, per layer, the correlation between the map of the moved window and the start's
map moved the same way in that layer's units (the shift divided by its stride, rounded to whole
units). A convolution is equivariant: at multiples of the stride the maps agree exactly (where
no padding is seen); in between, striding and pooling sample the picture at other phases, which
is what breaks the agreement, and the classifier, pooling everything, is only roughly invariant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from ..models.backbones import LOGITS, Backbone
from ..errors import Interrupted, UserError
from ..media.images import as_picture, to_tensor
from ..core.settings_probe import ShiftSettings
from ..core.context import Context, made
from ..core.registry import need

CHUNK = 8  # windows per forward pass


@dataclass
class Sweep:
    """Where the window is at each position: shift (px, to the right), turn (degrees) and zoom."""

    shift: list[float]
    rotate: list[float]
    scale: list[float]

    @classmethod
    def of(cls, s: ShiftSettings) -> "Sweep":
        t = [i / (s.positions - 1) for i in range(s.positions)]
        return cls([s.max_shift * x for x in t], [s.rotate * x for x in t], [s.scale**x for x in t])

    @property
    def axis(self) -> tuple[str, list[float]]:
        """What the plot's x axis shows: the shift if there is one, else the turn, else the zoom."""
        if self.shift[-1]:
            return "shift (px)", self.shift
        return ("rotation (°)", self.rotate) if self.rotate[-1] else ("zoom", self.scale)


def default_layers(backbone: Backbone, strides: dict[str, int | None]) -> list[str]:
    """The last stage at each stride: one layer per resolution the network works at."""
    last: dict[int, str] = {}
    for name in backbone.stage_names:
        if strides.get(name):
            last[strides[name]] = name
    return [last[k] for k in sorted(last)]


def source(image: Any, size: int, max_shift: int, max_pixels: int | None) -> torch.Tensor:
    """The photo scaled so the window (size x size) fits at every shift: size + max_shift wide."""
    rgb = as_picture(image, max_pixels).rgb
    w, h = rgb.size
    k = max(size / h, (size + max_shift) / w)
    return to_tensor(rgb.resize((max(size + max_shift, round(w * k)), max(size, round(h * k))), Image.Resampling.LANCZOS))


def windows(src: torch.Tensor, size: int, path: Sweep, index: list[int]) -> torch.Tensor:
    """The window at each position in `index`: exact pixel copies for whole-pixel shifts, else
    sampled (bilinear, mirrored beyond the photo's edge) from the turned and zoomed camera."""
    _, _, H, W = src.shape
    y0 = (H - size) // 2
    out = []
    for i in index:
        s, a, c = path.shift[i], path.rotate[i], path.scale[i]
        if a == 0 and c == 1 and s == int(s):
            out.append(src[:, :, y0 : y0 + size, int(s) : int(s) + size])
            continue
        # Window pixel centres about the window's centre, turned and zoomed, then moved.
        r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
        yy, xx = torch.meshgrid(r, r, indexing="ij")
        cos, sin = math.cos(math.radians(a)), math.sin(math.radians(a))
        sx, sy = (cos * xx + sin * yy) / c, (-sin * xx + cos * yy) / c
        cx, cy = (size - 1) / 2 + s, y0 + (size - 1) / 2
        grid = torch.stack([(sx + cx + 0.5) / W * 2 - 1, (sy + cy + 0.5) / H * 2 - 1], -1)[None].to(src.dtype)
        out.append(F.grid_sample(src, grid, mode="bilinear", padding_mode="reflection", align_corners=False))
    return torch.cat(out)


def aligned(start: torch.Tensor, stride: int, shift: float, rotate: float, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The start's map (C, h, w) moved as the window moved, in units of `stride`, each unit
    taken whole from the nearest one; and where that unit exists (a mask of (h, w))."""
    _, h, w = start.shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64) - (h - 1) / 2, torch.arange(w, dtype=torch.float64) - (w - 1) / 2, indexing="ij")
    cos, sin = math.cos(math.radians(rotate)), math.sin(math.radians(rotate))
    ux = (cos * xx + sin * yy) / scale + (w - 1) / 2 + shift / stride
    uy = (-sin * xx + cos * yy) / scale + (h - 1) / 2
    ix, iy = torch.round(ux), torch.round(uy)
    inside = (ix >= 0) & (ix <= w - 1) & (iy >= 0) & (iy <= h - 1)
    idx = (iy.clamp(0, h - 1) * w + ix.clamp(0, w - 1)).long().flatten()
    return start.flatten(1)[:, idx].view_as(start), inside


def correlation(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float | None:
    """Pearson correlation of two maps over the units where `mask` holds, all channels at once."""
    if int(mask.sum()) < 2:
        return None
    x, y = a[:, mask].double().flatten(), b[:, mask].double().flatten()
    x, y = x - x.mean(), y - y.mean()
    den = float(x.norm() * y.norm())
    return float((x @ y) / den) if den > 0 else None


def measure_shift(image: Any, s: ShiftSettings, ctx: Context) -> dict[str, Any]:
    """The numbers of the probe (what `--json` prints and the plot draws), measured with the
    backbone of `ctx` on its device, in fp32 (core.runner's `context_for` makes a Context)."""
    from ..models.inspector import fields
    from .visualize import class_names

    backbone, device, report = ctx.backbone, ctx.device, ctx.report
    path = Sweep.of(s)
    size = s.size or 224
    layers = [l.strip() for l in s.layers.split(",") if l.strip()] if s.layers else None
    if layers and LOGITS in layers:
        raise UserError("--layers takes layers with maps; the probability of the top class is always shown", "drop logits")
    probed = fields(backbone, layers or backbone.stage_names)
    layers = layers or default_layers(backbone, {k: v[1] for k, v in probed.items()})
    wanted = layers + ([LOGITS] if backbone.classifier is not None else [])
    src = source(image, size, int(math.ceil(max(path.shift))), s.max_pixels).to(device)
    maps: dict[str, list[torch.Tensor]] = {l: [] for l in layers}
    probs: list[torch.Tensor] = []
    progress = report.tracker(s.positions, f"shift {backbone.name}")
    with torch.no_grad():
        for lo in range(0, s.positions, CHUNK):
            index = list(range(lo, min(lo + CHUNK, s.positions)))
            out = backbone(windows(src, size, path, index), wanted)
            for l in layers:
                maps[l].extend(out[l].float().cpu())
            if LOGITS in out:
                probs.extend(out[LOGITS].float().softmax(-1).cpu())
            for _ in index:
                progress.update()
    numbers: dict[str, Any] = {"shift": path.shift, "rotate": path.rotate, "scale": path.scale, "size": size}
    if probs:
        names = class_names()
        top = int(probs[0].argmax())
        numbers["class"] = names[top]
        numbers["probability"] = [float(p[top]) for p in probs]
        numbers["top1"] = [names[int(p.argmax())] for p in probs]
    numbers["layers"] = {}
    for l in layers:
        rf, stride, _ = probed[l]
        stride = stride or 1
        corr = [correlation(m, *aligned(maps[l][0], stride, path.shift[i], path.rotate[i], path.scale[i])) for i, m in enumerate(maps[l])]
        numbers["layers"][l] = {"stride": stride, "receptive_field": rf, "correlation": corr}
    return numbers


def plot(numbers: dict[str, Any], title: str) -> Image.Image:
    """One figure: the start's class probability above, each layer's map correlation below."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    label, x = Sweep(numbers["shift"], numbers["rotate"], numbers["scale"]).axis
    fig = Figure(figsize=(8, 6.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.6])
    if "probability" in numbers:
        top.plot(x, numbers["probability"], color="black", marker=".", lw=1.2)
        top.set_ylabel(f"p({numbers['class']})")
        top.set_ylim(0, 1.02)
        changed = [xi for xi, c in zip(x, numbers["top1"]) if c != numbers["class"]]
        if changed:
            top.scatter(changed, [0.02] * len(changed), marker="|", color="tab:red", label="top-1 class is another")
            top.legend(loc="lower left", fontsize=8)
    else:
        top.text(0.5, 0.5, "no classifier in these weights", ha="center", va="center", transform=top.transAxes)
    top.set_title(title, fontsize=10)
    top.grid(alpha=0.3)
    lowest = 1.0
    for layer, d in numbers["layers"].items():
        y = [float("nan") if c is None else c for c in d["correlation"]]
        lowest = min([lowest, *(c for c in d["correlation"] if c is not None)])
        bottom.plot(x, y, marker=".", lw=1.2, label=f"{layer} (stride {d['stride']}, RF {d['receptive_field']})")
    bottom.set_xlabel(label)
    bottom.set_ylabel("correlation with the start's map, moved")
    bottom.set_ylim(max(-1.0, min(0.5, lowest - 0.05)), 1.01)
    bottom.grid(alpha=0.3)
    bottom.legend(loc="lower left", fontsize=8)
    canvas = fig.canvas
    canvas.draw()
    return Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")


def shift_plot(image: Any, s: ShiftSettings, ctx: Context, name: str = "") -> Image.Image:
    """The probe as the PNG `visualize shift` writes, telling its numbers for the record."""
    try:
        numbers = measure_shift(image, s, ctx)
    except KeyboardInterrupt:
        raise Interrupted(None) from None
    moves = [f"{s.max_shift} px" if s.max_shift else "", f"{s.rotate:g}°" if s.rotate else "", f"×{s.scale:g}" if s.scale != 1 else ""]
    img = plot(numbers, f"{ctx.backbone.name} on {name or 'the picture'}: the window moved by up to {', '.join(m for m in moves if m)}")
    return made(img, measured=numbers, precision="fp32")  # forward passes without autocast


# The job as the registry calls it (core/registry.py).

def check(job) -> None:
    need(job, "image", "IMAGE", "give the photo to move the window over")


def make(job, ctx: Context) -> list[Image.Image]:
    image = job.inputs["image"]
    return [shift_plot(image, job.settings, ctx, Path(image).name if isinstance(image, str) else "")]
