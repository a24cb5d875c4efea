"""Small composable objectives: each maps tapped activations to a scalar (DeepDream and the
visualizer maximise theirs, style transfer minimises its losses).

They compose like numbers (`channel("block9", 3) + 0.5 * layer_energy("block10")`) and carry the set of
layers they read, so the backbone is run exactly as deep as the sum of them needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

Features = dict[str, torch.Tensor]


class Objective:
    def __init__(self, fn: Callable[[Features], torch.Tensor], layers: Iterable[str], name: str):
        self.fn = fn
        self.layers = frozenset(layers)
        self.name = name

    def __call__(self, feats: Features) -> torch.Tensor:
        return self.fn(feats)

    def __add__(self, other: "Objective | float") -> "Objective":
        if not isinstance(other, Objective):
            return Objective(lambda f: self(f) + other, self.layers, f"{self.name} + {other}")
        return Objective(lambda f: self(f) + other(f), self.layers | other.layers, f"{self.name} + {other.name}")

    __radd__ = __add__  # lets sum() start from 0

    def __neg__(self) -> "Objective":
        return Objective(lambda f: -self(f), self.layers, f"-({self.name})")

    def __sub__(self, other: "Objective | float") -> "Objective":
        return self + (-other)

    def __mul__(self, k: float) -> "Objective":
        return Objective(lambda f: k * self(f), self.layers, f"{k} * {self.name}")

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"Objective({self.name})"


def layer_energy(layer: str, channels: list[int] | None = None) -> Objective:
    """Mean square activation (the DeepDream objective), optionally of chosen channels only."""

    def fn(f: Features) -> torch.Tensor:
        a = f[layer]
        if channels is not None:
            a = a[:, channels]
        return a.float().pow(2).mean()

    label = f"{layer}" + (f"[{','.join(map(str, channels))}]" if channels else "")
    return Objective(fn, [layer], f"energy({label})")


def guide_match(layer: str, guide: torch.Tensor) -> Objective:
    """Guided dream: at each position, pull the feature toward the guide feature it already
    resembles most (Mordvintsev's dot-product matching), so the image borrows the guide's parts
    where they fit instead of averaging them into mush."""
    g = guide.detach().float().flatten(2)[0]  # C x M

    def fn(f: Features) -> torch.Tensor:
        with fp32(f[layer]):
            a = f[layer].float().flatten(2)[0]  # C x N
            best = g[:, (a.t() @ g).argmax(dim=1)]  # C x N: the best-matching guide vector per position
            return (a * best).sum(0).mean()

    return Objective(fn, [layer], f"guide({layer})")




# Style transfer objectives are losses (to minimise). Each is normalised by its target's own
# magnitude, so its value is a relative error: weights then mean the same for every layer,
# backbone and image size, and a preset tuned on one model carries over to another.


def fp32(t: torch.Tensor):
    """Autocast off: the backbone may run in bf16, but sums over millions of products (Gram
    matrices, matching) lose the picture's fine balance at 8 mantissa bits."""
    return torch.autocast(device_type=t.device.type, enabled=False)


def gram(f: torch.Tensor) -> torch.Tensor:
    """Channel co-activations averaged over positions (divided by H*W, not summed), so the
    Gram matrix of a texture is the same at any image size."""
    b, c, h, w = f.shape
    with fp32(f):
        if f.is_contiguous(memory_format=torch.channels_last):
            # Backbones hand out NHWC maps: viewed as positions x channels they need no copy
            # (measured: a third of a VGG19 style step went into the NCHW reshape).
            x = f.float().permute(0, 2, 3, 1).reshape(b, h * w, c)
        else:
            x = f.float().reshape(b, c, h * w).transpose(1, 2)
        return _Gram.apply(x) if x.requires_grad else x.transpose(1, 2) @ x / (h * w)


class _Gram(torch.autograd.Function):
    """G = XᵀX / n for X of B x positions x channels, with a backward of one matrix product.

    Autograd differentiates `Xᵀ @ X` as a product of two tensors and so multiplies twice, once
    per operand; they are the same X, and the two products sum to X (g + gᵀ) / n. That is a third
    of the Gram matrices' time, 9 % of a VGG19 fp32 step at 256 px."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.transpose(1, 2) @ x / x.shape[1]

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return x @ ((g + g.transpose(1, 2)) / x.shape[1])


# Losses are summed over the images of a batch (each image's own mean), so a batch is a set of
# independent problems: a sweep of settings run together paints the pictures separate runs would.


def _per_image_mean(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).mean(1)


def weighted(layer_weights: dict[str, float], engine_weight: float, make: Callable[[str], Objective]) -> Objective:
    """sum over layers of make(layer), each weighted by its share of the layer weights times the
    engine weight: adding a layer then spreads the style (or content), it does not strengthen it."""
    total = sum(layer_weights.values()) or 1.0
    return sum((engine_weight * w / total) * make(l) for l, w in layer_weights.items())


def content_loss(layer: str, target: torch.Tensor) -> Objective:
    t = target.detach().float()
    norm = t.pow(2).mean().clamp_min(1e-8)
    return Objective(lambda f: _per_image_mean((f[layer].float() - t).pow(2)).sum() / norm, [layer], f"content({layer})")


def style_loss(layer: str, target_gram: torch.Tensor, per_image: torch.Tensor | None = None) -> Objective:
    """`per_image`: one weight per image of the batch (a sweep of style weights), else 1."""
    t = target_gram.detach().float()
    norm = t.pow(2).sum().clamp_min(1e-8)

    def fn(f: Features) -> torch.Tensor:
        err = (gram(f[layer]) - t).pow(2).sum((1, 2))
        return (err if per_image is None else err * per_image).sum() / norm

    return Objective(fn, [layer], f"style({layer})")


def guided_gram(f: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Gram matrices of `f` (B x C x H x W) under each of R guidance channels `w` (R x H x W, at
    f's size), B x R x C x C: co-activations averaged over each region's positions, weighted by
    its channel (Gatys et al. 2017), so a region's statistics are its own at any size."""
    b, c, h, wd = f.shape
    with fp32(f):
        x = f.float().permute(0, 2, 3, 1).reshape(b, 1, h * wd, c)
        m = w.float().reshape(1, -1, h * wd, 1)
        return (x * m).transpose(-1, -2) @ x / m.sum(2, keepdim=True).clamp_min(1e-6)


def guided_style_loss(layer: str, target_grams: torch.Tensor, guide: Callable[[tuple[int, int]], torch.Tensor],
                      scale: torch.Tensor, per_image: torch.Tensor | None = None) -> Objective:  # fmt: skip
    """The style loss of R regions at once: region r's guided Gram against its own target
    (`target_grams` R x C x C), each normalised by its target's magnitude and weighted by
    `scale[r]` (its share of the picture times its own style weight). `guide(hw)` gives the
    guidance channels at a map's size."""
    t = target_grams.detach().float()
    norm = t.pow(2).sum((1, 2)).clamp_min(1e-8)  # R
    k = scale.float() / norm

    def fn(f: Features) -> torch.Tensor:
        a = f[layer]
        err = (guided_gram(a, guide(tuple(a.shape[-2:]))) - t).pow(2).sum((2, 3))  # B x R
        per = (err * k).sum(1)
        return (per if per_image is None else per * per_image).sum()

    return Objective(fn, [layer], f"guided_style({layer})")


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels: discourages high-frequency noise."""
    dy, dx = x[..., 1:, :] - x[..., :-1, :], x[..., :, 1:] - x[..., :, :-1]
    return (_per_image_mean(dy.pow(2)) + _per_image_mean(dx.pow(2))).sum()


# Feature-visualisation objectives. `batch=i` aims an objective at one image of a batch, so many
# channels can be optimised together in one pass (`sum(channel(l, c, batch=i) ...)`).


def _pick(a: torch.Tensor, batch: int | None) -> torch.Tensor:
    return a if batch is None else a[batch : batch + 1]


def channel(layer: str, c: int, batch: int | None = None) -> Objective:
    """Mean activation of one channel over all positions."""
    return Objective(lambda f: _pick(f[layer], batch)[:, c].float().mean(), [layer], f"channel({layer}, {c})")


def neuron(layer: str, c: int, x: int | None = None, y: int | None = None, batch: int | None = None) -> Objective:
    """One unit: channel `c` at position (x, y) of the layer's map (default: the centre)."""

    def fn(f: Features) -> torch.Tensor:
        a = _pick(f[layer], batch)
        h, w = a.shape[-2:]
        yy = h // 2 if y is None else min(y, h - 1)
        xx = w // 2 if x is None else min(x, w - 1)
        return a[:, c, yy, xx].float().mean()

    return Objective(fn, [layer], f"neuron({layer}, {c}, {x}, {y})")


def class_logit(index: int, batch: int | None = None) -> Objective:
    """The pre-softmax score of an ImageNet class (softmax would reward suppressing the others)."""
    return Objective(lambda f: _pick(f["logits"], batch)[:, index].float().mean(), ["logits"], f"class({index})")


def diversity(layer: str) -> Objective:
    """Minus the mean cosine similarity between the batch's Gram matrices at `layer`: subtracting it
    pushes the images of a batch to reach the same objective in different ways (lucid's trick)."""

    def fn(f: Features) -> torch.Tensor:
        g = torch.nn.functional.normalize(gram(f[layer]).flatten(1), dim=1)
        b = g.shape[0]
        if b < 2:
            return g.new_zeros(())
        sim = g @ g.t()
        return -(sim.sum() - sim.diagonal().sum()) / (b * (b - 1))

    return Objective(fn, [layer], f"diversity({layer})")
