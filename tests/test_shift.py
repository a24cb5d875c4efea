"""The translation probe (`dreamstyle visualize shift`): a convolution follows a shifted picture
exactly at multiples of its stride and not in between, which the probe must show on a network
where that is certain; on the bundled backbone it runs end to end and keeps its numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from dreamstyle import Backbone, Job, ShiftSettings, UserError
from dreamstyle.core.runner import context_for
from dreamstyle.engines.shift_probe import measure_shift
from helpers import LITE, SAMPLES, invoke

EXACT = 1e-6


def noise_picture(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def conv_only(kernel: torch.Tensor | None = None) -> Backbone:
    """Convolutions without padding: nothing but the picture reaches any unit, so a shift by a
    multiple of a layer's stride moves its map by whole units, exactly."""
    torch.manual_seed(0)
    convs = [nn.Conv2d(3, 6, 3), nn.Conv2d(6, 6, 3, stride=2), nn.Conv2d(6, 6, 3, stride=2)]
    if kernel is not None:
        for c in convs:
            c.weight.data[:] = kernel
    stages = [("conv1", convs[0]), ("relu1", nn.ReLU()), ("conv2", convs[1]), ("conv3", convs[2])]
    return Backbone("toy", stages, None, (0.5,) * 3, (0.25,) * 3)


def measure(picture: Image.Image, backbone: Backbone, s: ShiftSettings) -> dict:
    return measure_shift(picture, s, context_for(s, backbone))


def test_conv_net_is_exactly_equivariant_at_stride_multiples_only():
    s = ShiftSettings(size=48, max_shift=12, layers="conv1,conv2,conv3", device="cpu")
    got = measure(noise_picture(48 + 12, 48), conv_only(), s)
    assert got["shift"] == [float(i) for i in range(13)]
    assert "probability" not in got  # no classifier: nothing to be invariant
    strides = {layer: d["stride"] for layer, d in got["layers"].items()}
    assert strides == {"conv1": 1, "conv2": 2, "conv3": 4}
    for layer, d in got["layers"].items():
        k = d["stride"]
        for shift, r in enumerate(d["correlation"]):
            if shift % k == 0:
                assert r == pytest.approx(1.0, abs=EXACT), (layer, shift, r)
            else:  # sampled at another phase: on noise, another picture altogether
                assert r < 0.9, (layer, shift, r)


def test_rotation_is_followed_by_a_symmetric_kernel():
    """A rotation-symmetric kernel commutes with a quarter turn, so the maps turn with the
    picture; an arbitrary kernel does not."""
    s = ShiftSettings(size=33, max_shift=0, rotate=90, points=2, layers="conv1", device="cpu")
    picture = noise_picture(33, 33, seed=1)
    box = measure(picture, conv_only(torch.ones(3, 3)), s)["layers"]["conv1"]["correlation"]
    assert box == [pytest.approx(1.0, abs=EXACT)] * 2
    arbitrary = measure(picture, conv_only(), s)["layers"]["conv1"]["correlation"]
    assert arbitrary[1] < 0.9


def test_nothing_to_move_is_refused():
    with pytest.raises(UserError, match="nothing moves"):
        ShiftSettings(max_shift=0)
    with pytest.raises(UserError, match="--scale"):
        ShiftSettings(scale=10)


def test_cli_on_the_bundled_backbone(tmp_path, lite):
    out = tmp_path / "shift.png"
    res = invoke("visualize", "shift", SAMPLES / "cat.jpg", "--size", 96, "--max-shift", 8, "--json", "-q", "-o", out)
    assert res.exit_code == 0, res.output
    numbers = json.loads(res.output)
    assert len(numbers["probability"]) == 9 and all(0 < p <= 1 for p in numbers["probability"])
    assert numbers["class"] == numbers["top1"][0]
    layers = numbers["layers"]
    assert [d["stride"] for d in layers.values()] == [2, 4, 8, 16, 32]  # one layer per stride by default
    stride2 = next(d["correlation"] for d in layers.values() if d["stride"] == 2)
    # lite0 pads, so even the shallowest map differs at its edge; inside, it follows the shift.
    assert min(stride2[0::2]) > max(stride2[1::2]) and min(stride2[0::2]) > 0.95
    job = Job.from_png(out)
    assert job.engine == "visualize.shift" and job.settings.max_shift == 8 and job.settings.model == "efficientnet-lite0"
    from dreamstyle.media.images import read_settings

    assert read_settings(out)["ran"]["measured"] == numbers  # the picture carries its numbers
    with Image.open(out) as img:
        assert img.size == (800, 640)
    # --from re-runs it: the same photo and settings, a flag on top.
    again = tmp_path / "again.png"
    res = invoke("visualize", "shift", "--from", out, "--max-shift", 4, "-q", "-o", again)
    assert res.exit_code == 0, res.output
    redo = read_settings(again)
    assert redo["inputs"]["image"] == str(SAMPLES / "cat.jpg") and redo["settings"]["size"] == 96
    assert redo["ran"]["measured"]["probability"] == pytest.approx(numbers["probability"][:5], abs=1e-5)


def test_cli_refusals(tmp_path):
    res = invoke("visualize", "shift", SAMPLES / "cat.jpg", *LITE, "--layers", "block99", "-o", tmp_path / "x.png")
    assert res.exit_code == 2 and "block99" in res.output and "did you mean" in res.output
    res = invoke("visualize", "shift", SAMPLES / "cat.jpg", "--model", "lite0", "-o", tmp_path / "x.png")
    assert res.exit_code == 2 and res.output.startswith("error: unknown model 'lite0'")
    assert not (tmp_path / "x.png").exists()
