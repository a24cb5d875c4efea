"""Tiled gradients: the same dream as a whole-image pass, no seams, memory bounded by the tile."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

import dreamstyle
from dreamstyle import DreamSettings, UserError
from dreamstyle.optim import tiling
from dreamstyle.cli import app
from dreamstyle.media.images import load_image, read_settings, resize_longest, to_pil, to_tensor
from dreamstyle.optim.objectives import gram, layer_energy, style_loss
from dreamstyle.core.settings import StyleSettings

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

ONE = dict(model="efficientnet-lite0", octaves=1, quiet=True)


def photo(cat, size: int) -> torch.Tensor:
    return to_tensor(resize_longest(load_image(cat).rgb, size))


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(F.cosine_similarity(a.flatten(), b.flatten(), dim=0))


@pytest.mark.parametrize("length, tile, offset", [(170, 64, 0), (170, 64, 48), (256, 64, 16), (1000, 512, 496)])
def test_grid_covers_every_pixel_once_at_the_whole_images_phase(length, tile, offset):
    margin, align = 32, 16
    cores = []
    for idx, core in tiling.spans(length, tile, margin, offset, align):
        cores.append(idx[core])
        assert idx[0] % align == 0  # the tile starts on a feature cell of the whole image
        assert len(idx) % align == length % align  # and is padded like it ("same" padding)
        assert core.stop - core.start <= tile and len(idx) <= tile + 2 * margin + align
    assert torch.equal(torch.cat(cores), torch.arange(length))


def test_tiled_gradient_matches_the_whole_image_gradient(lite, cat):
    x = photo(cat, 128)
    obj = layer_energy("block9") + 0.5 * layer_energy("block10")

    def grad(img, tile=0):
        img = img.clone().requires_grad_(True)
        loss = lambda t, _where=None: -obj(lite(t, obj.layers))
        (tiling.tiled(loss, tile, 16, torch.Generator().manual_seed(0)) if tile else loss)(img).backward()
        return img.grad

    whole = grad(x)
    noisy = grad((x + 0.002 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1))
    tiled = grad(x, 64)
    # A pixel's DeepDream gradient is twitchy: invisible noise on the input already turns it by
    # cos 0.83. Tiles measured 0.87; cut off the features' grid or wrapped around the edges they
    # measured 0.2-0.5.
    assert cos(tiled, whole) > 0.8, (cos(tiled, whole), cos(noisy, whole))


def test_tiled_and_untiled_dreams_agree(lite, cat):
    src = photo(cat, 128)
    untiled = to_tensor(dreamstyle.dream(cat, backbone=lite, size=128, steps=1, tile=0, **ONE))
    tiled = to_tensor(dreamstyle.dream(cat, backbone=lite, size=128, steps=1, tile=64, **ONE))
    change = (untiled - src).abs().mean()
    # Measured 0.43 of the change; unrelated steps of the same size differ by ~1.4x the change.
    assert (tiled - untiled).abs().mean() < 0.6 * change, ((tiled - untiled).abs().mean(), change)

    # Over a longer dream pixels drift apart (the dream is chaotic), but no more than an invisible
    # nudge to the input makes them, and the layer is excited as much.
    kw = dict(size=128, steps=6, octaves=2, quiet=True, model="efficientnet-lite0")
    untiled = dreamstyle.dream(cat, backbone=lite, tile=0, **kw)
    tiled = dreamstyle.dream(cat, backbone=lite, tile=64, **kw)
    nudged = dreamstyle.dream(to_pil((src + 0.002 * torch.randn(src.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)),
                              backbone=lite, tile=0, **kw)
    drift = (to_tensor(tiled) - to_tensor(untiled)).abs().mean()
    assert drift < 1.25 * (to_tensor(nudged) - to_tensor(untiled)).abs().mean()
    with torch.no_grad():
        energy = lambda im: lite(to_tensor(im), ["block9"])["block9"].pow(2).mean()
        assert abs(energy(tiled) / energy(untiled) - 1) < 0.1, (energy(tiled), energy(untiled))


def seam_ratio(before: torch.Tensor, after: torch.Tensor, rows: list[int], cols: list[int]) -> float:
    """How much the dream's strength jumps across the lines where tiles could meet, over its
    typical jump between neighbouring bands: a seam is where one tile changed the picture more
    than the next (what a still grid without margins measured: 4.8)."""

    def jumps(amount: torch.Tensor) -> torch.Tensor:
        bands = F.avg_pool1d(amount[None, None], 3, stride=1)[0, 0]  # bands[i]: mean of amount[i:i+3]
        return (bands[3:] - bands[:-3]).abs()  # [i]: the jump across the line before index i+3

    added = (after - before).abs()
    jr, jc = jumps(added.mean(dim=(0, 1, 3))), jumps(added.mean(dim=(0, 1, 2)))
    at_lines = torch.cat([jr[[r - 3 for r in rows]], jc[[c - 3 for c in cols]]])
    return float(at_lines.mean() / torch.cat([jr, jc]).median())


def test_no_seams_where_tiles_meet(lite, cat, monkeypatch):
    src = photo(cat, 256)
    h, w = src.shape[-2:]
    kw = dict(size=256, steps=8, octaves=1, jitter=0, quiet=True, model="efficientnet-lite0", tile=64)
    # A shifted grid may cut at any multiple of the stride.
    shifted = seam_ratio(src, to_tensor(dreamstyle.dream(cat, backbone=lite, **kw)), list(range(16, h - 3, 16)), list(range(16, w - 3, 16)))

    # The check must be able to see a seam: hold the grid still and drop the margins.
    monkeypatch.setattr(tiling, "tile_margin", lambda stride, tile: 0)
    monkeypatch.setattr(tiling, "grid", lambda h, w, tile, margin, align, gen, device="cpu", grid=tiling.grid:
                        grid(h, w, tile, 0, align, torch.Generator().manual_seed(0), device))  # fmt: skip
    g = torch.Generator().manual_seed(0)
    dy, dx = (16 * int(torch.randint(0, 4, (1,), generator=g)) for _ in range(2))  # the offsets that grid draws
    rows, cols = list(range(dy or 64, h - 3, 64)), list(range(dx or 64, w - 3, 64))
    still = seam_ratio(src, to_tensor(dreamstyle.dream(cat, backbone=lite, **kw)), rows, cols)
    assert shifted < 1.5 < 3 < still, (shifted, still)


class SavedMeter:
    """Live bytes autograd keeps for backward, and their peak: what tiling is meant to bound."""

    def __init__(self):
        self.live = self.peak = 0

    def pack(self, t: torch.Tensor):
        meter = self

        class Held:
            def __init__(self):
                self.t, self.n = t, t.numel() * t.element_size()
                meter.live += self.n
                meter.peak = max(meter.peak, meter.live)

            def __del__(self):
                meter.live -= self.n

        return Held()

    def measure(self, fn) -> int:
        self.live = self.peak = 0
        with torch.autograd.graph.saved_tensors_hooks(self.pack, lambda held: held.t):
            fn()
        return self.peak


def test_peak_activation_memory_stays_bounded_as_the_image_grows(lite, cat):
    meter = SavedMeter()
    peak = {
        (size, tile): meter.measure(lambda: dreamstyle.dream(cat, backbone=lite, size=size, steps=1, tile=tile, **ONE))
        for size in (128, 256) for tile in (0, 64)
    }
    # Untiled, 4x the pixels keep ~4x the activations (so the meter sees image size at all)...
    assert peak[256, 0] > 3 * peak[128, 0], peak
    # ... tiled, it is one tile's worth at either size.
    # ... tiled, one tile's worth at either size: measured 1.5x, because the 85 px high image clips
    # its tiles (64 + 2 * 32 margin) and the 170 px one does not. Tiles whose graphs outlived their
    # backward pass would pile up past the untiled peak.
    assert peak[256, 64] < 1.7 * peak[128, 64] and peak[256, 64] < 0.5 * peak[256, 0], peak


def test_auto_tiles_only_what_would_not_fit(lite):
    bpp = tiling.activation_bytes_per_pixel(lite, ["block9", "block10"], torch.device("cpu"), torch.float32)
    assert 500 < bpp < 5000, bpp  # measured 1435 for EfficientNet-Lite0 to block10
    budgets = tiling.CPU_WHOLE_BUDGET, tiling.CPU_ACTIVATION_BUDGET
    assert tiling.auto_tile(768 * 768, bpp, *budgets, 32) == 0  # everyday sizes run as before
    tile = tiling.auto_tile(4096 * 4096, bpp, *budgets, 32)
    assert 256 <= tile and 2 * (tile + 64) ** 2 * bpp <= tiling.CPU_ACTIVATION_BUDGET


def test_tiled_grams_are_the_whole_images(lite, cat):
    x = photo(cat, 256)
    layers = ["stem", "block3", "block8"]
    with torch.no_grad():
        whole = {l: gram(f) for l, f in lite(x, layers).items()}
    tiled = tiling.tiled_grams(lite, x, layers, 128, 16, torch.device("cpu"), torch.float32)
    for l in layers:
        err = (tiled[l] - whole[l]).norm() / whole[l].norm()
        assert err < 0.03, (l, float(err))  # measured 0.7 % at block8; 14 % with half the margin


def test_tiled_style_refine_lowers_the_style_loss(lite, cat):
    painting = SAMPLES / "swirls.jpg"
    s = StyleSettings(model="efficientnet-lite0", size=192, steps=12, tile=64, quiet=True)
    out = dreamstyle.stylize(cat, painting, s, backbone=lite)
    assert out.size == resize_longest(load_image(cat).rgb, 192).size
    assert out.info["dreamstyle"]["settings"]["tile"] == 64

    style_w = ["stem", "block1", "block3", "block5", "block8"]
    target = to_tensor(resize_longest(load_image(painting).rgb, 192))
    with torch.no_grad():
        grams = {l: gram(f) for l, f in lite(target, style_w).items()}
        loss = lambda img: float(sum(style_loss(l, grams[l])(lite(to_tensor(img), style_w)) for l in style_w))
    before, after = loss(resize_longest(load_image(cat).rgb, 192)), loss(out)
    assert after < 0.8 * before, (before, after)


def test_tile_setting_reaches_the_cli_and_is_checked(cat, tmp_path):
    out = tmp_path / "t.png"
    res = CliRunner().invoke(app, ["dream", str(cat), "--model", "efficientnet-lite0", "--size", "128", "--steps", "1",
                                   "--octaves", "1", "--tile", "64", "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert read_settings(out)["settings"]["tile"] == 64
    with pytest.raises(UserError, match="--tile"):
        DreamSettings(tile=16)
    with pytest.raises(UserError, match="--tile"):
        StyleSettings(tile=100_000)


@pytest.mark.parametrize("sigma", [1.0, 2.5])
def test_lean_blur_is_torchvisions_gaussian_blur(sigma):
    from torchvision.transforms.functional import gaussian_blur

    from dreamstyle.optim.loop import blur

    g = torch.randn(1, 3, 70, 45, generator=torch.Generator().manual_seed(0))
    k = 2 * math.ceil(3 * sigma) + 1
    assert torch.allclose(blur(g, sigma, rows=16), gaussian_blur(g, [k, k], [sigma, sigma]), atol=1e-5)
