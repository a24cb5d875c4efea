"""The temporal loss of a style network's training (Gupta et al. 2017, "Characterizing and
improving stability in neural style transfer"; Gao et al. 2018, ReCoNet): the network should paint
a moved photo as the moved painting, so that a clip's frames, painted one by one, do not flicker.

No video is needed: a training batch is moved by a random small affine motion (a shift of a few
pixels, a slight rotation and zoom about the centre), written as a flow field and applied with
flow.py's `warp`, and the loss is the mean squared difference, over the pixels the motion keeps
in view, between net(warp(x)) and warp(net(x)). Since the motion is known exactly, there is no
flow to estimate and no occlusion to guess: the only pixels left out are those the motion brings
in from past the border (where `warp` repeats the border).
"""

from __future__ import annotations

import math

import torch

from .flow import warp

# The motion of one video frame to the next at the crop sizes trained on (128-256 px): a pan of a
# few pixels, a degree or two of rotation, a zoom of a few per cent.
MAX_SHIFT = 4.0  # pixels, along each axis
MAX_DEGREES = 2.0
MAX_ZOOM = 0.03


def _uniform(gen: torch.Generator, bound: float) -> float:
    return float(torch.empty(1).uniform_(-bound, bound, generator=gen))


def random_motion(h: int, w: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A random small affine motion as (flow (H, W, 2), keep (H, W)): `warp(x, flow)` is x
    moved, and `keep` is 1 where that moved picture shows a pixel of x rather than the border."""
    dx, dy = _uniform(gen, MAX_SHIFT), _uniform(gen, MAX_SHIFT)
    a, z = math.radians(_uniform(gen, MAX_DEGREES)), 1 + _uniform(gen, MAX_ZOOM)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    cx, cy = (w - 1) / 2, (h - 1) / 2
    # The moved picture shows at p what x shows at c + z R(a) (p - c) + (dx, dy).
    u, v = xs - cx, ys - cy
    sx = cx + z * (math.cos(a) * u - math.sin(a) * v) + dx
    sy = cy + z * (math.sin(a) * u + math.cos(a) * v) + dy
    flow = torch.stack([sx - xs, sy - ys], dim=-1)
    keep = ((sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)).float()
    return flow, keep


def temporal_term(net, x: torch.Tensor, mix: torch.Tensor, gen: torch.Generator, y: torch.Tensor | None = None) -> torch.Tensor:
    """Sum over the batch of each photo's mean, over the pixels the motion keeps in view, of
    (net(warp(x)) - warp(net(x)))^2, pixels in [0, 1], averaged over the colour channels: summed
    like the training's other terms, which are divided by the batch size. One motion per batch.
    `y`: net(x), when the caller has it already (it is the painting the other losses judge)."""
    h, w = x.shape[-2:]
    flow, keep = random_motion(h, w, gen)
    flow, keep = flow.to(x.device), keep.to(x.device)
    y = net(x, mix) if y is None else y
    moved = net(warp(x, flow), mix)
    sq = (moved.float() - warp(y.float(), flow)).pow(2).mean(1)  # (N, H, W)
    return ((sq * keep).sum(dim=(-2, -1)) / keep.sum().clamp_min(1)).sum()
