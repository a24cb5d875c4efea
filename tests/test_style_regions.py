"""Style by region: masks and colour maps read as soft weights, guided Grams, each region painted
after its own painting, and every bad mask refused in one line with nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw

from dreamstyle import UserError
from dreamstyle.core.job import Job
from dreamstyle.engines.style_regions import regions_at
from dreamstyle.media.images import to_tensor
from dreamstyle.optim import masks
from dreamstyle.optim.objectives import gram, guided_gram
from tests.helpers import LITE, _gram, features, gram_distance, invoke, style_layers

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CAT, SWIRLS, STRIPES = SAMPLES / "cat.jpg", SAMPLES / "swirls.jpg", SAMPLES / "stripes.png"
RED, GREEN, BLUE = (230, 25, 75), (60, 180, 75), (67, 99, 216)
FAST = [*LITE, "--size", "128", "--scales", "128", "--steps", "40"]


def halves(path: Path, size=(151, 100), left=RED, right=GREEN) -> Path:
    """A map: `left` colour on the left half, `right` on the right (the cat's aspect)."""
    im = Image.new("RGB", size, left)
    ImageDraw.Draw(im).rectangle([size[0] // 2, 0, size[0], size[1]], fill=right)
    im.save(path)
    return path


def left_mask(path: Path, size=(151, 100), value=255) -> Path:
    m = Image.new("L", size, 0)
    ImageDraw.Draw(m).rectangle([0, 0, size[0] // 2 - 1, size[1]], fill=value)
    m.save(path)
    return path


def side_distance(lite, out: Path, painting: Path, side: str, margin: float = 0.15) -> float:
    """The judge's Gram distance between one side of `out` (its positions more than `margin` of
    the width from the middle, seen in the whole picture) and `painting` at the picture's size, as
    the engine scales it: mean relative error over lite0's style layers."""
    im = Image.open(out).convert("RGB")
    paint = Image.open(painting).convert("RGB")
    k = max(im.size) / max(paint.size)
    paint = paint.resize((round(paint.width * k), round(paint.height * k)), Image.Resampling.LANCZOS)
    layers = style_layers()
    f, t = features(lite, im, layers), features(lite, paint, layers)
    errs = []
    for l in layers:
        a = f[l][0]
        w = a.shape[-1]
        cut = round(w * (0.5 - margin)), round(w * (0.5 + margin))
        x = (a[..., : cut[0]] if side == "left" else a[..., cut[1] :]).reshape(a.shape[0], -1)
        g, target = x @ x.T / x.shape[1], _gram(t[l])
        errs.append(float((g - target).pow(2).sum() / target.pow(2).sum()))
    return sum(errs) / len(errs)


def assert_refused(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for word in words:
        assert word in lines[0], lines[0]


# --- reading masks and maps --------------------------------------------------------------------


def test_a_map_is_read_in_the_order_its_colours_first_appear_row_by_row(tmp_path):
    # Green is met first reading from the top-left, so it is the first style's region.
    im = Image.new("RGB", (40, 20), RED)
    ImageDraw.Draw(im).rectangle([0, 0, 39, 4], fill=GREEN)
    im.save(tmp_path / "m.png")
    w = masks.read_map(tmp_path / "m.png", (20, 40), 2)
    assert w.shape == (2, 20, 40)
    assert w[0, :5].min() > 0.99 and w[1, 5:].min() > 0.99
    keyed = masks.read_map(tmp_path / "m.png", (20, 40), 2, key="red,green")
    assert keyed[0, 5:].min() > 0.99 and keyed[1, :5].min() > 0.99


def test_a_soft_edge_is_shared_between_the_two_regions_in_proportion(tmp_path):
    im = Image.new("RGB", (100, 10), RED)
    for x in range(40, 60):  # a ramp from red to green over 20 px
        t = (x - 40) / 19
        ImageDraw.Draw(im).line([x, 0, x, 9], fill=tuple(round(a + t * (b - a)) for a, b in zip(RED, GREEN)))
    ImageDraw.Draw(im).rectangle([60, 0, 99, 9], fill=GREEN)
    im.save(tmp_path / "soft.png")
    w = masks.read_map(tmp_path / "soft.png", (10, 100), 2)
    assert torch.allclose(w.sum(0), torch.ones(10, 100), atol=1e-5)
    row = w[0, 5]
    assert row[:40].min() > 0.99 and row[60:].max() < 0.01
    assert 0.35 < row[50] < 0.65 and row[42] > row[50] > row[57]  # falls steadily across the ramp


def test_masks_one_per_style_and_a_missing_last_one_is_the_rest(tmp_path):
    w = masks.from_masks([left_mask(tmp_path / "l.png", (40, 20), 128)], (20, 40), 2)
    assert abs(float(w[0, 10, 5]) - 128 / 255) < 0.01 and abs(float(w[1, 10, 5]) - 127 / 255) < 0.01
    assert float(w[0, 10, 35]) == 0 and float(w[1, 10, 35]) == 1


def test_guided_grams_are_the_grams_of_the_region_positions():
    f = torch.randn(1, 5, 6, 8)
    ones = torch.ones(1, 6, 8)
    assert torch.allclose(guided_gram(f, ones)[:, 0], gram(f), atol=1e-5)
    left = torch.zeros(1, 6, 8)
    left[..., :3] = 1
    assert torch.allclose(guided_gram(f, left)[:, 0], gram(f[..., :3]), atol=1e-5)


def test_a_clip_folder_gives_each_frame_its_own_mask(tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    for i in range(3):
        left_mask(folder / f"m{i:02d}.png")
    got = [regions_at({"masks": [str(folder)], "regions": None}, t)["masks"][0] for t in range(3)]
    assert [Path(g).name for g in got] == ["m00.png", "m01.png", "m02.png"]
    assert regions_at({"regions": "auto:2"}, 5) == {"regions": "auto:2"}
    with pytest.raises(UserError, match="3 pictures"):
        regions_at({"masks": [str(folder)]}, 3)


# --- painting by region ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def by_map(tmp_path_factory):
    """cat.jpg, swirls on the left half and stripes on the right, from a colour map."""
    tmp = tmp_path_factory.mktemp("regions")
    out = tmp / "out.png"
    result = invoke("style", CAT, SWIRLS, STRIPES, "--regions", halves(tmp / "map.png"), *FAST, "-o", out)
    assert result.exit_code == 0, result.output
    return out


def test_each_region_is_painted_after_its_own_painting(lite, by_map):
    assert side_distance(lite, by_map, SWIRLS, "left") < 0.5 * side_distance(lite, by_map, STRIPES, "left")
    assert side_distance(lite, by_map, STRIPES, "right") < 0.5 * side_distance(lite, by_map, SWIRLS, "right")


def test_the_record_keeps_the_map_and_from_paints_the_same_picture(by_map, tmp_path):
    job = Job.from_png(by_map)
    assert job.inputs["regions"].endswith("map.png") and len(job.inputs["styles"]) == 2
    again = tmp_path / "again.png"
    result = invoke("style", "--from", by_map, "-o", again)
    assert result.exit_code == 0, result.output
    assert (to_tensor(Image.open(again).convert("RGB")) - to_tensor(Image.open(by_map).convert("RGB"))).abs().max() < 1e-6


def test_a_mask_per_style_paints_as_the_map_does(lite, tmp_path):
    out = tmp_path / "masked.png"
    result = invoke("style", CAT, SWIRLS, STRIPES, "--mask", left_mask(tmp_path / "left.png"), *FAST, "-o", out)
    assert result.exit_code == 0, result.output
    assert side_distance(lite, out, SWIRLS, "left") < 0.5 * side_distance(lite, out, STRIPES, "left")
    assert side_distance(lite, out, STRIPES, "right") < 0.5 * side_distance(lite, out, SWIRLS, "right")


def test_region_weights_set_how_far_each_region_goes(lite, tmp_path):
    out = tmp_path / "weighted.png"
    result = invoke("style", CAT, SWIRLS, STRIPES, "--regions", halves(tmp_path / "map.png"), "--style-weight", "1,1000", *FAST, "-o", out)
    assert result.exit_code == 0, result.output
    assert Job.from_png(out).settings.region_weights == [1.0, 1000.0]
    photo = tmp_path / "photo.png"
    Image.open(CAT).convert("RGB").resize(Image.open(out).size, Image.Resampling.LANCZOS).save(photo)
    # A hint of swirls on the left, the full stripes on the right.
    left_ratio = side_distance(lite, out, SWIRLS, "left") / side_distance(lite, photo, SWIRLS, "left")
    right_ratio = side_distance(lite, out, STRIPES, "right") / side_distance(lite, photo, STRIPES, "right")
    assert right_ratio < 0.5 * left_ratio


def test_a_style_mask_takes_the_style_from_that_part_of_the_painting(lite, tmp_path):
    # A painting whose left half is swirls and right half stripes; its style mask marks the left.
    w, h = 128, 128
    both = Image.new("RGB", (w, h))
    both.paste(Image.open(SWIRLS).convert("RGB").resize((w // 2, h)), (0, 0))
    both.paste(Image.open(STRIPES).convert("RGB").resize((w - w // 2, h)), (w // 2, 0))
    both.save(tmp_path / "both.png")
    out, plain = tmp_path / "from-left.png", tmp_path / "from-all.png"
    result = invoke("style", CAT, tmp_path / "both.png", "--style-mask", left_mask(tmp_path / "sm.png", (w, h)), *FAST, "-o", out)
    assert result.exit_code == 0, result.output
    assert invoke("style", CAT, tmp_path / "both.png", *FAST, "-o", plain).exit_code == 0
    # Measured: 0.64 against 1.21 to swirls, 0.78 against 0.53 to stripes.
    assert gram_distance(lite, out, [SWIRLS]) < 0.7 * gram_distance(lite, plain, [SWIRLS])
    assert gram_distance(lite, out, [STRIPES]) > 1.2 * gram_distance(lite, plain, [STRIPES])


def test_regions_under_tiles_keep_each_side_its_painting(lite, tmp_path):
    out = tmp_path / "tiled.png"
    result = invoke("style", CAT, SWIRLS, STRIPES, "--regions", halves(tmp_path / "map.png"), *LITE, "--size", "128",
                    "--scales", "64,128", "--tile", "64", "--steps", "20", "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert side_distance(lite, out, SWIRLS, "left") < side_distance(lite, out, STRIPES, "left")
    assert side_distance(lite, out, STRIPES, "right") < side_distance(lite, out, SWIRLS, "right")


def test_a_mask_of_another_shape_is_stretched_with_a_note(tmp_path):
    out = tmp_path / "out.png"
    result = invoke("style", CAT, SWIRLS, STRIPES, "--mask", left_mask(tmp_path / "square.png", (64, 64)), *LITE, "--size", "64",
                    "--scales", "64", "--steps", "2", "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "note:" in result.output and "stretched" in result.output and out.exists()


# --- bad input: one line, exit 2, nothing written ---------------------------------------------


@pytest.mark.parametrize("case", ["black", "too_many", "not_image", "colours", "key", "auto", "weights", "blend", "both"])
def test_bad_masks_are_refused_in_one_line(tmp_path, case):
    args = {
        "black": ["--mask", left_mask(tmp_path / "black.png", value=0)],
        "too_many": ["--mask", left_mask(tmp_path / "a.png"), "--mask", left_mask(tmp_path / "b.png"), "--mask", left_mask(tmp_path / "c.png")],
        "not_image": ["--mask", tmp_path / "notes.png"],
        "colours": ["--regions", tmp_path / "three.png"],
        "key": ["--regions", halves(tmp_path / "map.png"), "--regions-key", "red,blue"],
        "auto": ["--regions", "auto:3"],
        "weights": ["--regions", halves(tmp_path / "map.png"), "--style-weight", "1,2,3"],
        "blend": ["--regions", halves(tmp_path / "map.png"), "--style-blend", "0.5,0.5"],
        "both": ["--regions", halves(tmp_path / "map.png"), "--mask", left_mask(tmp_path / "m.png")],
    }[case]
    (tmp_path / "notes.png").write_text("not a picture")
    three = Image.new("RGB", (151, 100), RED)
    ImageDraw.Draw(three).rectangle([50, 0, 99, 99], fill=GREEN)
    ImageDraw.Draw(three).rectangle([100, 0, 150, 99], fill=BLUE)
    three.save(tmp_path / "three.png")
    words = {"black": ["all black"], "too_many": ["3 masks for 2 styles"], "not_image": ["notes.png"], "colours": ["3 colours for 2 styles"],
             "key": ["blue", "not in"], "auto": ["auto:3", "2 styles"], "weights": ["3 region weights"], "blend": ["--style-blend"],
             "both": ["--mask and --regions"]}[case]  # fmt: skip
    out = tmp_path / "out.png"
    assert_refused(invoke("style", CAT, SWIRLS, STRIPES, *args, *LITE, "--size", "64", "--steps", "2", "-o", out), *words)
    assert not out.exists() and not list(tmp_path.glob("out*"))


def test_a_region_start_takes_its_own_painting_colours_from_its_own_pixels():
    from dreamstyle.optim.color import match_color

    src = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 0.1
    src[..., :4] += 0.45  # a grey left half
    src[..., 4:] += torch.tensor([0.85, 0.05, 0.05]).view(1, 3, 1, 1)  # a red right half
    target = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.2 + torch.tensor([0.1, 0.2, 0.7]).view(1, 3, 1, 1)
    left = torch.zeros(8, 8)
    left[:, :4] = 1

    def off(x):  # how far the left half's colours are from the painting's (means and spreads)
        a, t = x[0, :, :, :4].flatten(1), target[0].flatten(1)
        return float((a.mean(1) - t.mean(1)).abs().sum() + (a.std(1) - t.std(1)).abs().sum())

    # The region takes the painting's colours; matched on the whole photo, with the red half, it would not.
    assert off(match_color(src, target, where=left)) < 0.01 < off(match_color(src, target))
    assert off(match_color(src, target, where=left)) < 0.2 * off(match_color(src, target))


def test_regions_found_for_you_are_written_beside_the_picture_to_edit_and_pass_back(tmp_path):
    out = tmp_path / "found.png"
    result = invoke("style", CAT, SWIRLS, STRIPES, "--regions", "auto:2", *LITE, "--size", "96", "--scales", "96", "--steps", "3", "-o", out)
    assert result.exit_code == 0, result.output
    found = tmp_path / "found.regions.png"
    colours = {c for _, c in Image.open(found).convert("RGB").getcolors(1 << 16)}
    assert colours == {masks.PALETTE[0], masks.PALETTE[1]}
    again = invoke("style", CAT, SWIRLS, STRIPES, "--regions", found, *LITE, "--size", "96", "--scales", "96", "--steps", "3", "-o", tmp_path / "again.png")
    assert again.exit_code == 0, again.output


def test_a_sweep_paints_every_weight_by_region(tmp_path):
    result = invoke("style", CAT, SWIRLS, STRIPES, "--regions", halves(tmp_path / "map.png"), "--sweep", "10,1000", *LITE, "--size", "64",
                    "--scales", "64", "--steps", "3", "-o", tmp_path / "sweep")  # fmt: skip
    assert result.exit_code == 0, result.output
    made = sorted((tmp_path / "sweep").glob("*.png"))
    assert len(made) == 2 and all(Job.from_png(p).inputs["regions"].endswith("map.png") for p in made)
    assert {Job.from_png(p).settings.style_weight for p in made} == {10.0, 1000.0}


def test_a_key_or_region_weights_without_regions_are_refused(tmp_path):
    assert_refused(invoke("style", CAT, SWIRLS, "--regions-key", "red", *LITE, "--size", "64", "-o", tmp_path / "o.png"), "--regions-key")


def test_the_python_api_paints_by_region(tmp_path):
    import dreamstyle

    out = dreamstyle.stylize(CAT, [SWIRLS, STRIPES], masks=[left_mask(tmp_path / "l.png")], model="efficientnet-lite0", size=64,
                             scales=[64], steps=3)  # fmt: skip
    assert out.size == (64, 43) and "masks" in out.info["dreamstyle"]["inputs"]
    dreamed = dreamstyle.dream(CAT, mask=left_mask(tmp_path / "l.png"), model="efficientnet-lite0", size=64, steps=2, octaves=1)
    right = to_tensor(dreamed)[..., 40:] - to_tensor(Image.open(CAT).convert("RGB").resize(dreamed.size, Image.Resampling.LANCZOS))[..., 40:]
    assert right.abs().mean() < 2 / 255  # the unmasked right half stays the photo


def test_a_clip_paints_each_frame_by_its_own_mask(lite, tmp_path):
    # Three frames of the same photo; frame 0's mask gives swirls the left half, frame 2's the right.
    frames, masks_dir = tmp_path / "frames", tmp_path / "masks"
    frames.mkdir()
    masks_dir.mkdir()
    size = (96, 64)
    photo = Image.open(CAT).convert("RGB").resize(size, Image.Resampling.LANCZOS)
    for i in range(3):
        photo.save(frames / f"{i:03d}.png")
    left_mask(masks_dir / "000.png", size)
    left_mask(masks_dir / "001.png", size)
    right = Image.new("L", size, 0)
    ImageDraw.Draw(right).rectangle([size[0] // 2, 0, size[0], size[1]], fill=255)
    right.save(masks_dir / "002.png")
    out = tmp_path / "out"
    result = invoke("style", frames, SWIRLS, STRIPES, "--mask", masks_dir, "--temporal", "none", *LITE, "--size", "96", "--scales", "96",
                    "--steps", "30", "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    first, last = out / "frame_00000.png", out / "frame_00002.png"
    # Swirls where each frame's mask put them.
    assert side_distance(lite, first, SWIRLS, "left") < side_distance(lite, last, SWIRLS, "left")
    assert side_distance(lite, last, SWIRLS, "right") < side_distance(lite, first, SWIRLS, "right")
