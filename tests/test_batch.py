"""Batches: a folder or glob in, a folder out, resumable, one model, bad items reported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dreamstyle.core import batch, planning as inputs
from dreamstyle.cli import app
from dreamstyle.media.images import read_settings
from helpers import DREAM_MOVES, STYLE_CLOSER, map_cells_agree, moved, style_ratio

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# --lr 0.05: one step then moves the pixels ~12 levels, far above resize noise (see DREAM_MOVES).
FAST = ["--model", "efficientnet-lite0", "--size", "64", "--steps", "1", "--octaves", "1", "--lr", "0.05", "-q"]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture()
def photos(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("cat.jpg", "coffee.jpg", "rocket.jpg"):
        shutil.copy(SAMPLES / name, folder / name)
    return folder


def test_folder_batch_writes_all_then_resumes_only_the_missing_one(photos, tmp_path):
    out = tmp_path / "out"
    res = invoke("dream", photos, "-o", out, *FAST)
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["cat.png", "coffee.png", "rocket.png"]
    assert read_settings(out / "coffee.png")["inputs"]["image"] == str(photos / "coffee.jpg")
    # Each output is its own photo dreamed: moved from it, and further from the other photos.
    for name in names:
        src = photos / name.replace(".png", ".jpg")
        assert moved(out / name, src) > DREAM_MOVES, name
        assert all(moved(out / name, other) > moved(out / name, src) for other in photos.iterdir() if other != src), name
    before = {n: (out / n).stat().st_mtime_ns for n in names}
    (out / "coffee.png").unlink()
    res = invoke("dream", photos, "-o", out, *FAST)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == names
    after = {n: (out / n).stat().st_mtime_ns for n in names}
    assert after["cat.png"] == before["cat.png"] and after["rocket.png"] == before["rocket.png"]
    assert after["coffee.png"] != before["coffee.png"]


def test_force_redoes_everything(photos, tmp_path):
    out = tmp_path / "out"
    assert invoke("dream", photos, "-o", out, *FAST).exit_code == 0
    before = (out / "cat.png").stat().st_mtime_ns
    assert invoke("dream", photos, "-o", out, "--force", *FAST).exit_code == 0
    assert (out / "cat.png").stat().st_mtime_ns != before


def test_glob_takes_only_matching_files(photos, tmp_path):
    shutil.copy(SAMPLES / "stripes.png", photos / "stripes.png")
    out = tmp_path / "globbed"
    res = invoke("dream", str(photos / "c*.jpg"), "-o", out, *FAST)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["cat.png", "coffee.png"]
    assert moved(out / "cat.png", photos / "cat.jpg") > DREAM_MOVES
    assert moved(out / "coffee.png", photos / "coffee.jpg") > DREAM_MOVES


def test_bad_item_is_reported_and_the_rest_still_done(photos, tmp_path):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = tmp_path / "out"
    res = invoke("dream", photos, "-o", out, *FAST)
    assert res.exit_code == 2
    errors = [l for l in res.output.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and "broken.jpg" in errors[0] and "Traceback" not in res.output
    assert "1 failed" in res.output
    assert sorted(p.name for p in out.iterdir()) == ["cat.png", "coffee.png", "rocket.png"]


def test_style_and_maps_batches(photos, tmp_path, lite):
    swirls = SAMPLES / "swirls.jpg"
    # 20 steps: enough to bring each picture clearly nearer the painting (see STYLE_CLOSER).
    res = invoke("style", str(photos / "*.jpg"), swirls, "-o", tmp_path / "styled",
                 "--model", "efficientnet-lite0", "--size", "64", "--steps", "20", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "styled").glob("*.png"))) == 3
    assert read_settings(tmp_path / "styled" / "cat.png")["engine"] == "style"
    for photo in photos.iterdir():
        assert style_ratio(lite, tmp_path / "styled" / f"{photo.stem}.png", photo, [swirls]) < STYLE_CLOSER, photo.name
    res = invoke("visualize", "maps", photos, "--layer", "block3", "--top", 4, "--model", "efficientnet-lite0",
                 "--size", "64", "-o", tmp_path / "maps", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    # Each sheet shows its own photo's block3 maps, strongest first (not, say, the first photo's).
    for photo in photos.iterdir():
        cells = map_cells_agree(lite, tmp_path / "maps" / f"{photo.stem}.png", photo, "block3", 64)
        assert len(cells) == 4 and all(want == best and r > 0.9 for want, best, r in cells), (photo.name, cells)
    meta = read_settings(tmp_path / "maps" / "rocket.png")
    assert meta["engine"] == "visualize.maps" and meta["inputs"]["image"].endswith("rocket.jpg")


def test_batch_refusals(photos, tmp_path):
    res = invoke("dream", str(tmp_path / "nothing" / "*.jpg"), "-o", tmp_path / "o", *FAST)
    assert res.exit_code == 2 and "no files match" in res.output
    res = invoke("dream", str(photos / "*.jpg"), *FAST)
    assert res.exit_code == 2 and "-o" in res.output
    res = invoke("dream", photos, "-o", SAMPLES / "cat.jpg", *FAST)
    assert res.exit_code == 2 and "folder" in res.output
    res = invoke("dream", photos, "-o", tmp_path / "a" / "b", *FAST)
    assert res.exit_code == 2 and "does not exist" in res.output


def test_default_outdir_sits_beside_the_folder(photos, tmp_path):
    assert invoke("dream", photos, *FAST).exit_code == 0
    assert len(list((tmp_path / "in-dream").glob("*.png"))) == 3


def test_output_names_are_stable_and_distinct(tmp_path):
    ins = [Path("a/x.jpg"), Path("a/x.png"), Path("b/x.jpg"), Path("a/y.jpg")]
    names = [p.name for p in inputs.output_names(ins, tmp_path)]
    assert names == ["x.png", "x-2.png", "x-3.png", "y.png"]


def test_cancel_in_a_batch_keeps_the_current_picture_and_stops(photos, tmp_path):
    """The studio's Stop and a cluster's cancel set the flag Ctrl-C sets: the item under way
    keeps its picture so far as a partial, the ones after it are not started."""
    import threading

    from dreamstyle import DreamSettings, Interrupted, ItemDone, Step
    from dreamstyle.core.planning import plan

    s = DreamSettings(model="efficientnet-lite0", size=64, steps=5, octaves=1, quiet=True)
    todo = plan("dream", photos, s, output=tmp_path / "o")
    cancel, written, started = threading.Event(), [], []

    def listen(event):
        if isinstance(event, ItemDone) and event.level == 0:
            written.append(event.path)
        if isinstance(event, Step) and event.level == 1:
            started.append(event.step)
            if written and event.step == 2:
                cancel.set()

    with pytest.raises(Interrupted) as info:
        batch.run_batch(todo.jobs, on_event=listen, cancel=cancel)
    out = tmp_path / "o"
    assert info.value.path == out / "coffee.partial.png"
    assert sorted(p.name for p in out.iterdir()) == ["cat.png", "coffee.partial.png"]
    assert started == [1, 2, 3, 4, 5, 1, 2]  # rocket.jpg never started
