"""The regions found for you (`dreamstyle regions`, engines/regions.py): a picture of two clearly
different halves gives two regions that are those halves, drawn in the palette's flat colours
numbered in reading order (the rule a map is read by), the same for a seed; the command writes a
map carrying its Job and refuses bad input in one line, writing nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dreamstyle.core.job import Job
from dreamstyle.engines.regions import PALETTE, find_regions, in_reading_order, merge_islands
from dreamstyle.errors import UserError
from helpers import SAMPLES, invoke

CPU = torch.device("cpu")


def sky_and_grass(w: int = 128, h: int = 96, seed: int = 0) -> Image.Image:
    """A smooth blue sky over textured green grass, the horizon a little above the middle."""
    rng = np.random.default_rng(seed)
    top = h * 2 // 5
    pic = np.zeros((h, w, 3), np.float32)
    fade = np.linspace(0, 1, top)[:, None, None]
    pic[:top] = (1 - fade) * np.array([90, 150, 230]) + fade * np.array([170, 205, 240])
    blades = rng.normal(0, 45, (h - top, w // 2, 1)).repeat(2, 1)  # vertical strokes, like grass
    pic[top:] = np.array([60, 130, 40]) + blades * np.array([0.6, 1.0, 0.5])
    return Image.fromarray(pic.clip(0, 255).astype(np.uint8)), top


def colours(img: Image.Image) -> list[tuple[int, int, int]]:
    """The map's colours in the order they first appear reading row by row."""
    flat = np.asarray(img).reshape(-1, 3)
    _, first = np.unique(flat, axis=0, return_index=True)
    return [tuple(int(c) for c in flat[i]) for i in sorted(first)]


def test_two_different_halves_are_the_two_regions(lite):
    picture, top = sky_and_grass()
    found = find_regions(picture, 2, lite, CPU, seed=0)
    assert found.size == picture.size and found.mode == "RGB"
    assert colours(found) == [PALETTE[0], PALETTE[1]]  # flat colours only, the sky (top left) first
    sky = np.all(np.asarray(found) == PALETTE[0], -1)
    truth = np.zeros_like(sky)
    truth[:top] = True
    iou = (sky & truth).sum() / (sky | truth).sum()
    assert iou > 0.8, f"the sky region overlaps the sky by IoU {iou:.2f}"


@pytest.mark.cpu(reason="byte-identical maps for a seed")
def test_a_photo_gives_flat_palette_colours_in_reading_order_the_same_for_a_seed(lite):
    with Image.open(SAMPLES / "astronaut.jpg") as img:
        photo = img.convert("RGB").resize((96, 128))
    first = find_regions(photo, 4, lite, CPU, seed=3)
    again = find_regions(photo, 4, lite, CPU, seed=3)
    assert np.array_equal(np.asarray(first), np.asarray(again))
    found = colours(first)
    assert found == list(PALETTE[: len(found)]) and 2 <= len(found) <= 4
    assert first.getpixel((0, 0)) == PALETTE[0]


def test_reading_order_numbers_regions_as_they_first_appear():
    label = np.array([[2, 2, 0], [1, 0, 0]])
    assert in_reading_order(label).tolist() == [[0, 0, 1], [2, 1, 1]]


def test_small_islands_join_the_region_around_them_and_no_region_vanishes():
    label = np.zeros((40, 40), np.int64)
    label[20:, :] = 1
    label[5:7, 5:7] = 1  # an island of region 1 inside region 0: merged
    label[30:32, 30:32] = 2  # region 2's only patch: kept, however small
    merged = merge_islands(label, 3, smallest=16)
    assert merged[5:7, 5:7].tolist() == [[0, 0], [0, 0]]
    assert (merged == 2).sum() == 4 and (merged == 1).sum() == 20 * 40 - 4


def test_a_k_the_palette_cannot_draw_is_refused(lite):
    with pytest.raises(UserError, match="--k 9 is out of range"):
        find_regions(sky_and_grass()[0], 9, lite, CPU)


def test_the_command_writes_a_map_beside_the_photo_carrying_its_job(tmp_path):
    picture, _ = sky_and_grass()
    picture.save(tmp_path / "field.png")
    res = invoke("regions", tmp_path / "field.png", "--k", "2", "--size", "128", "--quiet")
    assert res.exit_code == 0, res.output
    out = tmp_path / "field-regions.png"
    job = Job.from_png(out)
    assert job.engine == "regions" and job.settings.k == 2 and job.settings.model == "efficientnet-lite0"
    with Image.open(out) as m:
        assert m.size == picture.size and colours(m.convert("RGB")) == [PALETTE[0], PALETTE[1]]


@pytest.mark.parametrize("args, said", [
    (["--k", "9"], "error: --k 9 is out of range — use 2 to 8"),
    (["--k", "1"], "error: --k 1 is out of range"),
])  # fmt: skip
def test_a_bad_k_is_one_line_exit_2_and_nothing_written(tmp_path, args, said):
    sky_and_grass()[0].save(tmp_path / "field.png")
    res = invoke("regions", tmp_path / "field.png", *args, "-o", tmp_path / "map.png")
    assert res.exit_code == 2 and res.output.strip().startswith(said) and len(res.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["field.png"]


def test_not_a_picture_and_a_tiny_picture_are_refused_in_one_line(tmp_path):
    (tmp_path / "notes.png").write_text("not a picture")
    Image.new("RGB", (20, 20)).save(tmp_path / "tiny.png")
    for name, said in (("notes.png", "is not an image"), ("tiny.png", "too small to find regions in")):
        res = invoke("regions", tmp_path / name, "-o", tmp_path / "map.png")
        assert res.exit_code == 2 and said in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert not (tmp_path / "map.png").exists()
