"""Tiles for pictures too large to paint whole: with the whole picture's norm statistics, tiles
reproduce the whole picture's pixels (no seams by construction); measured at a smaller size, the
statistics change the picture only a little, and evenly."""

from __future__ import annotations

import torch

from dreamstyle.engines import fast_tiles
from dreamstyle.models.transformer_net import CondInstanceNorm, TransformerNet, mix_vector


def _net(styles: int = 2) -> TransformerNet:
    torch.manual_seed(0)
    net = TransformerNet(styles).eval()
    with torch.no_grad():  # norms that are not the identity, as after training
        for m in net.modules():
            if isinstance(m, CondInstanceNorm):
                m.gamma.uniform_(0.5, 1.5)
                m.beta.normal_(0, 0.3)
    return net


def test_tiles_with_the_whole_pictures_statistics_are_the_whole_picture():
    net = _net()
    x = torch.rand(1, 3, 203, 138)  # sides that are not multiples of the tile or the stride
    mix = mix_vector([0.3, 0.7], 2)
    with torch.inference_mode():
        whole = net(x, mix)
        tiled = fast_tiles.paint_in_tiles(net, x, mix, tile=64)
    assert (whole - tiled).abs().max() < 1e-4
    assert all(m.stats is None for m in net.modules() if isinstance(m, CondInstanceNorm))  # the network is left as it was


def _seam(out: torch.Tensor, column: int) -> float:
    """The jump between two columns at `column`, against the picture's typical column-to-column step."""
    steps = (out[..., :, 1:] - out[..., :, :-1]).abs().mean(dim=(0, 1, 2))
    return float(steps[column - 1] / steps.median())


def test_tiles_share_the_statistics_measured_smaller_so_no_seam_shows(monkeypatch):
    """Tiles normalised alone meet with a seam; sharing the statistics measured on the picture
    brought down to half its size, they meet like any two columns of the picture."""
    monkeypatch.setattr(fast_tiles, "STATS_SIDE", 128)
    net = _net()
    torch.manual_seed(1)
    x = torch.nn.functional.interpolate(torch.rand(1, 3, 32, 64), size=(128, 256), mode="bicubic").clamp(0, 1)
    x[..., :, 100:] = 0.5 + 0.2 * (x[..., :, 100:] - 0.5)  # low contrast from column 100, so the tiles' own statistics differ
    mix = mix_vector([1, 0], 2)
    with torch.inference_mode():
        # Two tiles of 128 with their halos, each normalised by itself.
        alone = torch.cat([net(x[..., :, :192], mix)[..., :, :128], net(x[..., :, 64:], mix)[..., :, 64:]], dim=-1)
        shared = fast_tiles.paint_in_tiles(net, x, mix, tile=128)
        whole = net(x, mix)
    assert _seam(alone, 128) > _seam(whole, 128) + 0.25
    assert abs(_seam(shared, 128) - _seam(whole, 128)) < 0.1
