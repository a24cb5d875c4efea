"""Robustness transforms applied to the image before the backbone sees it.

Each is a plain callable (image, generator) -> image and must be differentiable, so the
gradient lands back on the untransformed pixels.
"""

from __future__ import annotations

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
