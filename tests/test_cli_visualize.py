"""`dreamstyle visualize` from the command line: each saved sheet shows what its subcommand
claims, judged by efficientnet-lite0 on the PNG as a user gets it. (The optimisation itself is
tested through the API in test_visualize.py; these catch a CLI that renders the wrong objective,
the wrong layer or channel, lays cells out wrongly, or saves something else.)"""

from __future__ import annotations

import numpy as np
import torch

from dreamstyle.media.images import to_tensor
from helpers import LITE, SAMPLES, features, invoke, map_cells_agree, noise_images, pixels, sheet_cells

FAST = [*LITE, "--size", "64", "-q"]


def test_channels_sheet_excites_each_labelled_channel(lite, tmp_path):
    chosen = [3, 17, 40]
    out = tmp_path / "channels.png"
    res = invoke("visualize", "channels", "--layer", "block6", "--channels", ",".join(map(str, chosen)), "--steps", 16, *FAST, "-o", out)
    assert res.exit_code == 0, res.output
    cells = sheet_cells(out)
    assert len(cells) == len(chosen) and all(c.size == (64, 64) for c in cells), [c.size for c in cells]
    with torch.no_grad():
        base = lite(noise_images(8, 64), ["block6"])["block6"].float().mean(dim=(0, 2, 3))
    for c, cell in zip(chosen, cells):
        means = features(lite, cell, ["block6"])["block6"][0].mean(dim=(1, 2))
        # Measured at 16 steps: the cell's own channel is the strongest of block6's 80 (by mean),
        # at 15-28 against |noise| 0.4-6.
        assert int(means.argmax()) == c, (c, int(means.argmax()))
        assert means[c] > base[c].abs() + 1 and means[c] > 2 * base[c].abs(), (c, float(means[c]), float(base[c]))


def test_neuron_image_excites_the_centre_unit(lite, tmp_path):
    out = tmp_path / "neuron.png"
    res = invoke("visualize", "neuron", "--layer", "block6", "--channel", 5, "--steps", 32, *FAST, "-o", out)
    assert res.exit_code == 0, res.output
    a = features(lite, out, ["block6"])["block6"][0, 5]
    h, w = a.shape
    with torch.no_grad():
        noise = lite(noise_images(8, 64), ["block6"])["block6"][:, 5, h // 2, w // 2].float()
    # Measured: 14.6 at the centre against at most 4.6 for noise images.
    assert a[h // 2, w // 2] > noise.max() + 1 and a[h // 2, w // 2] > 2 * noise.max(), (float(a[h // 2, w // 2]), noise.tolist())


def test_class_images_are_classified_as_their_classes(lite, tmp_path, imagenet_classes):
    classes = ["goldfish", "volcano"]
    out = tmp_path / "classes.png"
    # 96 px: at 64 px the volcano was a coin toss between thread counts (margin +12 on one thread,
    # -7 on two); at 96 px it is its class by 12-27 logits on either.
    res = invoke("visualize", "class", *classes, "--steps", 32, *LITE, "--size", "96", "-q", "-o", out)
    assert res.exit_code == 0, res.output
    cells = sheet_cells(out)
    assert len(cells) == len(classes), [c.size for c in cells]
    for name, cell in zip(classes, cells):
        with torch.no_grad():
            logits = lite(to_tensor(cell), ["logits"])["logits"][0]
        assert imagenet_classes[int(logits.argmax())] == name


def test_maps_sheet_shows_the_layers_strongest_maps(lite, tmp_path):
    out = tmp_path / "maps.png"
    rocket = SAMPLES / "rocket.jpg"
    res = invoke("visualize", "maps", rocket, "--layer", "block3", "--top", 4, *FAST, "-o", out)
    assert res.exit_code == 0, res.output
    cells = map_cells_agree(lite, out, rocket, "block3", 64)
    # Not blank, and each cell is the map of the channel it should be, strongest first: another
    # layer, channel or image correlates at 0.3-0.6 at best.
    assert len(cells) == 4 and all(want == best and r > 0.9 for want, best, r in cells), cells


def test_filters_sheet_shows_the_stem_kernels(lite, tmp_path):
    out = tmp_path / "filters.png"
    res = invoke("visualize", "filters", *LITE, "-q", "-o", out)
    assert res.exit_code == 0, res.output
    conv = next(m for m in lite.modules() if isinstance(m, torch.nn.Conv2d))  # the first layer
    kernels = conv.weight.detach().float()
    cells = sheet_cells(out)
    assert len(cells) == kernels.shape[0] == 32
    for k, (kernel, cell) in enumerate(zip(kernels, cells)):
        # Sample the middle of each enlarged kernel pixel and compare with the kernel's weights
        # (RGB, as the image is fed): each cell is stretched to full contrast on its own, so
        # compare shapes by correlation, not levels. Measured: above 0.999 for every cell.
        n = kernel.shape[-1]
        centres = [int(cell.width * (i + 0.5) / n) for i in range(n)]
        shown = torch.from_numpy(pixels(cell)[np.ix_(centres, centres)]).permute(2, 0, 1).float()
        r = torch.corrcoef(torch.stack([shown.flatten(), kernel.flatten()]))[0, 1]
        assert r > 0.99, (k, float(r))
