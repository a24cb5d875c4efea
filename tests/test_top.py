"""`dreamstyle visualize top LAYER:CHANNEL FOLDER`: among noise pictures, the one with a patch
that excites the channel is found first and cropped where the patch is; the folder's scan is
cached, so another channel runs the network on no picture again; an empty folder is refused."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from dreamstyle import TopSettings, UserError
from dreamstyle.core.runner import context_for
from dreamstyle.media.images import read_settings
from dreamstyle.optim.objectives import channel as channel_objective
from dreamstyle.engines.top_images import CACHE, crop_box, fit_label, parse_unit, scan, strongest
from dreamstyle.engines.visualize import render
from helpers import invoke

LAYER, CHANNEL = "block3", 5
SIZE = 96
PATCH = (60, 0, 96, 36)  # where the exciting patch is pasted (left, top, right, bottom): away from the centre


@pytest.fixture(scope="module")
def folder(tmp_path_factory, lite):
    """Six noise pictures and one noise picture with the channel's own image pasted into it."""
    d = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(d / f"noise{i}.png")
    side = PATCH[2] - PATCH[0]
    patch = render(channel_objective(LAYER, CHANNEL), backbone=lite, size=side, steps=24, seed=0, device="cpu", quiet=True)[0]
    planted = Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
    planted.paste(patch, PATCH[:2])
    planted.save(d / "planted.png")
    return d


def settings(**kw) -> TopSettings:
    return TopSettings(size=SIZE, device="cpu", quiet=True, **kw)


def scanned_with(folder, backbone, s: TopSettings):
    return scan(folder, LAYER, s, context_for(s, backbone))


def count_forwards(monkeypatch, backbone) -> list[int]:
    """How many pictures the backbone is run on (batch sizes summed)."""
    seen: list[int] = []
    real = type(backbone).forward

    def forward(self, x, layers):
        if self is backbone:
            seen.append(x.shape[0])
        return real(self, x, layers)

    monkeypatch.setattr(type(backbone), "forward", forward)
    return seen


def test_the_planted_picture_comes_first_cropped_at_the_patch(folder, lite, monkeypatch):
    seen = count_forwards(monkeypatch, lite)
    entries, scanned = scanned_with(folder, lite, settings(chunk=4))
    assert scanned == 7 and sorted(seen) == [3, 4]  # batched: two passes for seven pictures
    best = strongest(entries, CHANNEL, 3)
    assert best[0][0] == "planted.png", best
    assert best[0][1] > 1.5 * best[1][1]  # not a near tie (measured: 39 against at most 1.5 for noise)
    from dreamstyle.models.inspector import fields

    rf, stride, _ = fields(lite, [LAYER])[LAYER]
    x0, y0, x1, y1 = crop_box(best[0][2], best[0][3], SIZE, rf)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    # The strongest unit sits on the patch (to within a unit of the map).
    assert PATCH[0] - stride <= cx <= PATCH[2] + stride and PATCH[1] - stride <= cy <= PATCH[3] + stride, (cx, cy, rf)
    assert (folder / CACHE).is_dir()


def test_a_second_channel_runs_the_network_on_no_picture(folder, lite, monkeypatch):
    scanned_with(folder, lite, settings())  # whatever ran before, the cache is filled now
    seen = count_forwards(monkeypatch, lite)
    entries, scanned = scanned_with(folder, lite, settings())
    assert scanned == 0 and seen == [] and len(entries) == 7
    assert strongest(entries, CHANNEL + 1, 7)[0][0] in {f"noise{i}.png" for i in range(6)} | {"planted.png"}
    # A picture that changed is seen again, and only that one.
    st = (folder / "noise3.png").stat()
    os.utime(folder / "noise3.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    _, scanned = scanned_with(folder, lite, settings())
    assert scanned == 1 and sum(seen) == 1


def test_cli_sheet_and_its_record(folder, tmp_path):
    out = tmp_path / "top.png"
    res = invoke("visualize", "top", f"{LAYER}:{CHANNEL}", folder, "--size", SIZE, "--steps", 4, "--top", 3, "--model", "efficientnet-lite0", "-q", "-o", out)
    assert res.exit_code == 0, res.output
    ran = read_settings(out)["ran"]
    assert [t["file"] for t in ran["top"]][0] == "planted.png" and len(ran["top"]) == 3
    with Image.open(out) as img:
        assert img.width > 2 * SIZE  # the channel's image beside the crops
    out2 = tmp_path / "top2.png"
    res = invoke("visualize", "top", f"{LAYER}:{CHANNEL + 1}", folder, "--size", SIZE, "--steps", 4, "--top", 3, "-q", "-o", out2)
    assert res.exit_code == 0, res.output
    assert read_settings(out2)["ran"]["scanned"] == 0  # the first call's scan was reused


def test_refusals(tmp_path, folder):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = invoke("visualize", "top", "block3:5", empty, "-o", tmp_path / "x.png")
    assert res.exit_code == 2 and res.output.count("\n") == 1
    assert res.output.startswith(f"error: {empty} holds no pictures — ")
    res = invoke("visualize", "top", "block3:999", folder, "--size", SIZE, "-o", tmp_path / "x.png")
    assert res.exit_code == 2 and "channel 999 does not exist" in res.output
    res = invoke("visualize", "top", "block3", folder, "-o", tmp_path / "x.png")
    assert res.exit_code == 2 and "LAYER:CHANNEL" in res.output
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(UserError):
        parse_unit("block3:x")
    assert parse_unit("block3:12") == ("block3", 12)


def test_a_broken_picture_is_reported_and_not_recorded_as_scanned(tmp_path):
    d = tmp_path / "pictures"
    d.mkdir()
    rng = np.random.default_rng(1)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(d / name)
    (d / "broken.jpg").write_bytes(b"not a picture")
    out = tmp_path / "top.png"
    res = invoke("visualize", "top", f"{LAYER}:{CHANNEL}", d, "--size", 64, "--steps", 2, "--top", 2, "--model", "efficientnet-lite0", "-o", out)
    assert res.exit_code == 0, res.output
    assert "note: skipped 1 of the 3 pictures in pictures/ that could not be read (broken.jpg)" in res.output, res.output
    ran = read_settings(out)["ran"]
    assert ran["scanned"] == 2 and ran["skipped"] == ["broken.jpg"], ran


def test_sheet_labels_keep_a_file_names_start_and_end():
    assert fit_label("12.3 a.png", 92) == "12.3 a.png"
    label = fit_label("12.3 starry_night_over_the_rhone.jpg", 92)
    assert label.startswith("12.3 st") and label.endswith(".jpg") and "…" in label
    from PIL import Image as I, ImageDraw, ImageFont

    assert ImageDraw.Draw(I.new("RGB", (1, 1))).textlength(label, font=ImageFont.load_default()) <= 92
