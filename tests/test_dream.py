"""DeepDream with the real efficientnet-lite0 weights: the objective really rises."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

import dreamstyle
from dreamstyle import DreamSettings, Interrupted, UserError
from dreamstyle.engines.dream import octave_sizes
from dreamstyle.media.images import load_image, read_settings, resize_longest, save_image, to_tensor
from dreamstyle.core.settings import build

FAST = dict(model="efficientnet-lite0", size=128, octaves=2, steps=6, quiet=True)


def energy(lite, img: Image.Image, layer: str) -> torch.Tensor:
    """Per-channel mean-square activation."""
    with torch.no_grad():
        return lite(to_tensor(img.convert("RGB")), [layer])[layer].pow(2).mean(dim=(0, 2, 3))


def test_dream_raises_the_dreamed_layers_energy(lite, cat):
    before = energy(lite, resize_longest(load_image(cat).rgb, 128), "block9").mean()
    out = dreamstyle.dream(cat, backbone=lite, layers="block9", **{**FAST, "steps": 20})
    assert out.size == (128, 85)
    after = energy(lite, out, "block9").mean()
    # Measured 2.0x; an ascent that went nowhere (wrong sign, no step) stays near 1x.
    assert after > 1.8 * before, (before, after)


def test_channel_targeting_raises_those_channels_most(lite, cat):
    chosen = [5, 17, 60]
    base = energy(lite, resize_longest(load_image(cat).rgb, 128), "block9")
    out = dreamstyle.dream(cat, backbone=lite, layers="block9", channels=chosen, **FAST)
    gain = energy(lite, out, "block9") / (base + 1e-6)
    others = torch.ones_like(gain, dtype=torch.bool)
    others[chosen] = False
    assert gain[chosen].min() > 2 * gain[others].median(), (gain[chosen], gain[others].median())


def test_guided_dream_moves_features_toward_the_guide(lite, cat):
    from tests.conftest import SAMPLES

    guide = SAMPLES / "swirls.jpg"

    def direction(img):
        with torch.no_grad():
            f = lite(to_tensor(resize_longest(img.convert("RGB"), 128)), ["block9"])["block9"]
        return torch.nn.functional.normalize(f.mean(dim=(0, 2, 3)), dim=0)

    g = direction(load_image(guide).rgb)
    before = direction(load_image(cat).rgb) @ g
    out = dreamstyle.dream(cat, backbone=lite, layers="block9", guide=str(guide), **FAST)
    after = direction(out) @ g
    plain = direction(dreamstyle.dream(cat, backbone=lite, layers="block9", **FAST)) @ g
    assert after > before + 0.1 and after > plain, (before, after, plain)


def test_octave_sizes_are_a_geometric_ladder_ending_at_full_size():
    sizes = octave_sizes(300, 400, 4, 1.4, min_side=32)
    assert sizes[-1] == (300, 400)
    assert sizes[0] == (round(300 / 1.4**3), round(400 / 1.4**3))
    assert all(a[0] < b[0] for a, b in zip(sizes, sizes[1:]))
    assert octave_sizes(60, 80, 4, 1.4, min_side=32) == [(43, 57), (60, 80)]


@pytest.mark.cpu("byte-identical reruns with one seed, recorded as device cpu, precision fp32")
def test_same_seed_gives_identical_bytes_and_settings_round_trip(lite, cat, tmp_path):
    paths = []
    for name in ("a.png", "b.png"):
        img = dreamstyle.dream(cat, backbone=lite, seed=7, **FAST)
        paths.append(save_image(img, tmp_path / name, settings=img.info["dreamstyle"]))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    other = dreamstyle.dream(cat, backbone=lite, seed=8, **FAST)
    assert to_tensor(other).ne(to_tensor(Image.open(paths[0]))).any()

    meta = read_settings(paths[0])
    assert meta["engine"] == "dream" and meta["settings"]["seed"] == 7
    assert meta["ran"]["weights"].endswith("efficientnet-lite0-57934424.pth")
    again = build(DreamSettings, meta["settings"])
    # Recorded as run: the model's default layers are written out, not left as "default".
    # ...and so is the thread count, which changes the bytes on the CPU (core/threads.py).
    assert again == build(DreamSettings, {**FAST, "seed": 7, "quiet": False, "layers": "block9:1,block10:0.5",
                                          "threads": torch.get_num_threads()})  # fmt: skip
    assert meta["ran"]["device"] == "cpu" and meta["ran"]["precision"] == "fp32"


def test_alpha_is_kept(lite, cat):
    rgba = Image.open(cat).convert("RGBA")
    alpha = Image.linear_gradient("L").resize(rgba.size)
    rgba.putalpha(alpha)
    out = dreamstyle.dream(rgba, backbone=lite, **FAST)
    assert out.mode == "RGBA"
    assert abs(out.getchannel("A").getpixel((0, 0)) - 0) < 3
    assert out.getchannel("A").getpixel((out.width // 2, out.height - 1)) > 250


def test_preset_then_override(lite, cat):
    out = dreamstyle.dream(cat, backbone=lite, preset="swirls", **{**FAST, "steps": 1})
    s = out.info["dreamstyle"]["settings"]
    assert s["layers"] == "block6:1,block7:1" and s["steps"] == 1 and s["lr"] == 0.012
    # The preset's per-model layers follow the backbone passed in, even without model=.
    fast = {k: v for k, v in FAST.items() if k != "model"}
    s = dreamstyle.dream(cat, backbone=lite, preset="swirls", **{**fast, "steps": 1}).info["dreamstyle"]["settings"]
    assert s["layers"] == "block6:1,block7:1" and s["model"] == "efficientnet-lite0"
    with pytest.raises(UserError, match="settings object"):
        dreamstyle.dream(cat, DreamSettings(**FAST), backbone=lite, preset="swirls")
    with pytest.raises(UserError, match="--octaves"):
        DreamSettings(octaves=0)


def test_snapshots_are_offered_every_n_steps(lite, cat):
    seen = []
    dreamstyle.dream(cat, backbone=lite, save_every=4, on_snapshot=lambda i, im: seen.append((i, im.size)), **FAST)
    assert [i for i, _ in seen] == [4, 8, 12]
    assert all(size == (128, 85) for _, size in seen)


def test_interrupt_hands_back_the_image_so_far(lite, cat):
    def stop(i, _):
        raise KeyboardInterrupt

    with pytest.raises(Interrupted) as err:
        dreamstyle.dream(cat, backbone=lite, save_every=3, on_snapshot=stop, **FAST)
    assert err.value.image is not None and err.value.image.size == (128, 85)


@pytest.mark.parametrize(
    "override, needle",
    [(dict(channels=[500]), "channels"), (dict(size=16), "too small"), (dict(layers="blok9"), "block9"),
     (dict(steps=-1), "--steps"), (dict(octave_scale=1.0), "--octave-scale"), (dict(norm="l2"), "mean-abs"),
     (dict(preset="nope"), "presets"), (dict(bogus=1), "unknown setting"),
     (dict(guide="samples/swirls.jpg", channels=[1]), "cannot be combined")],
)  # fmt: skip
def test_bad_settings_are_refused(lite, cat, override, needle):
    with pytest.raises(UserError) as err:
        dreamstyle.dream(cat, backbone=lite, **{**FAST, **override})
    assert needle in str(err.value)
