"""Painting a picture too large for one pass, in tiles that meet without seams.

A network's convolutions see only a neighbourhood of each pixel (about 54 px: a 9x9 convolution,
two stride-2 3x3 ones, ten 3x3 at a quarter of the size, two 3x3 on the way up and a 9x9), but its
instance norms see the whole picture: a tile normalised with its own statistics comes out in its
own colours and contrast, and the seams show. So the statistics are measured once, on the whole
picture brought down to STATS_SIDE, and every norm is given them (CondInstanceNorm.stats). From
then on each output pixel depends on its neighbourhood alone, and a tile cut with HALO pixels of
context on each side, placed at a multiple of the network's stride and cropped back to its own
square, holds exactly the pixels the whole picture would have with those statistics: neighbouring
tiles meet with no seam, and nothing needs blending.

What differs from painting the picture whole is only those statistics, measured at STATS_SIDE
rather than at full size (below, STATS_SIDE).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.transformer_net import CondInstanceNorm, TransformerNet

STRIDE = 4  # the network's downsampling: tiles start on its grid, so every tile sees the same one
HALO = 64  # context on each side of a tile, more than the network's reach (54 px), a multiple of STRIDE
# The whole picture's statistics are measured at this longest side. Measured smaller, a picture
# shows its network finer detail than it has, and the first layers' variances come out higher:
# on Tübingen at 2048 px, statistics from 1024 px moved its pixels by 2 levels in 255 on average,
# evenly. Measuring them again over the tiles at full size does not converge in fewer passes than
# the network has norms (each pass is exact for one more layer only), so it is not done.
STATS_SIDE = 2048
TILE = 1024  # a tile's own square (output pixels); a multiple of STRIDE
TILE_PIXELS = 2048 * 2048  # pictures above this are painted in tiles


def needs_tiles(height: int, width: int) -> bool:
    return height * width > TILE_PIXELS


def _measure(net: TransformerNet, x: torch.Tensor, mix: torch.Tensor) -> None:
    """Give every norm of `net` the statistics of its input on the whole picture `x`, seen at
    STATS_SIDE."""
    h, w = x.shape[-2:]
    scale = min(1.0, STATS_SIDE / max(h, w))
    small = F.interpolate(x, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False) if scale < 1 else x

    def record(norm: CondInstanceNorm, args) -> None:
        var, mean = torch.var_mean(args[0].float(), dim=(-2, -1), keepdim=True, unbiased=False)
        norm.stats = (mean, var)

    norms = [m for m in net.modules() if isinstance(m, CondInstanceNorm)]
    hooks = [n.register_forward_pre_hook(record) for n in norms]
    try:
        # Each norm is handed its statistics as the pass reaches it, so the layers after it see
        # activations normalised exactly as the tiles will be.
        net(small, mix)
    finally:
        for hook in hooks:
            hook.remove()


def _tiles(h: int, w: int, tile: int):
    """Each tile as (its own square: top, left, height, width; the piece cut with its halo: t0, l0, b1, r1)."""
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            yield (top, left, min(tile, h - top), min(tile, w - left)), (max(0, top - HALO), max(0, left - HALO), min(h, top + tile + HALO), min(w, left + tile + HALO))


def paint_in_tiles(net: TransformerNet, x: torch.Tensor, mix: torch.Tensor, tile: int = TILE) -> torch.Tensor:
    """`net(x, mix)` for a picture of any size, TILE by TILE (x: (1, 3, H, W))."""
    assert tile % STRIDE == 0 and HALO % STRIDE == 0
    norms = [m for m in net.modules() if isinstance(m, CondInstanceNorm)]
    try:
        _measure(net, x, mix)
        h, w = x.shape[-2:]
        out = torch.empty(x.shape[0], 3, h, w, dtype=torch.float32, device=x.device)
        for (top, left, th, tw), (t0, l0, b1, r1) in _tiles(h, w, tile):
            piece = net(x[..., t0:b1, l0:r1], mix)
            out[..., top : top + th, left : left + tw] = piece[..., top - t0 : top - t0 + th, left - l0 : left - l0 + tw].float()
        return out
    finally:
        for n in norms:
            n.stats = None
