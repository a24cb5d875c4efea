"""Robustness transforms applied to the image before the backbone sees it.

Each is a plain callable (image, generator) -> image and must be differentiable, so the
gradient lands back on the untransformed pixels.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _randint(lo: int, hi: int, g: torch.Generator) -> int:
    return int(torch.randint(lo, hi + 1, (1,), generator=g))


def jitter(pixels: int) -> Transform:
    """Random circular shift. Shifting by whole pixels every step means no pixel grid position is
    favoured, which is what stops DeepDream's high-frequency checkerboard from building up."""

    def fn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        h, w = x.shape[-2:]
        dy = _randint(-min(pixels, h // 4), min(pixels, h // 4), g)
        dx = _randint(-min(pixels, w // 4), min(pixels, w // 4), g)
        return torch.roll(x, shifts=(dy, dx), dims=(-2, -1)) if (dx or dy) else x

    return fn


def compose(transforms: Sequence[Transform]) -> Transform:
    def fn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        for t in transforms:
            x = t(x, g)
        return x

    return fn


def pad(pixels: int, value: float = 0.5) -> Transform:
    """Grey border, so jitter and rotation never pull in wrapped-around content."""

    def fn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return torch.nn.functional.pad(x, [pixels] * 4, mode="constant", value=value)

    return fn


def random_crop(pixels: int) -> Transform:
    """Lucid's jitter: a random crop `pixels` smaller, so features cannot rely on exact position."""

    def fn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        h, w = x.shape[-2:]
        dy, dx = _randint(0, pixels - 1, g), _randint(0, pixels - 1, g)
        return x[..., dy : h - pixels + dy + 1, dx : w - pixels + dx + 1]

    return fn


def random_scale(low: float, high: float, steps: int = 11) -> Transform:
    def fn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        k = low + (high - low) * _randint(0, steps - 1, g) / (steps - 1)
        h, w = x.shape[-2:]
        size = (max(8, round(h * k)), max(8, round(w * k)))
        return torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)

    return fn


def random_rotate(degrees: int) -> Transform:
    def fn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        theta = _rotation(_randint(-degrees, degrees, g), str(x.device), x.dtype)
        grid = torch.nn.functional.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
        return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    return fn


@functools.lru_cache(maxsize=256)
def _rotation(degrees: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    """The 2x3 matrix rotating by whole `degrees`, made once per angle, device and dtype.

    Made anew each step it was a host-to-device copy every step, and such a copy from ordinary
    host memory waits for the GPU's queue to drain: the CPU could no longer queue the next steps
    ahead. Angles are whole degrees, so a few dozen matrices cover a run. Nothing may modify
    the returned tensor in place (affine_grid does not)."""
    angle = torch.tensor(degrees * torch.pi / 180)
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=dtype, device=device)


def robustness(level: str) -> list[Transform]:
    """lucid's transformation-robustness recipes: `standard` is its standard_transforms."""
    if level == "none":
        return []
    if level == "standard":
        return [pad(12), random_crop(8), random_scale(0.9, 1.1), random_rotate(10), random_crop(4)]
    if level == "strong":
        return [pad(16), random_crop(16), random_scale(0.8, 1.2), random_rotate(20), random_crop(8)]
    raise ValueError(level)
