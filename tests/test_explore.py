"""The explorer: its index is `layers`' table, its thumbnails are what they claim, its cache answers
without rendering and never fails a render, and its static site links up, carries Jobs and resumes."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from dreamstyle import Job
from dreamstyle.cli import app
from dreamstyle.core.settings_explore import ExploreSettings
from dreamstyle.engines import explore
from dreamstyle.engines.explore import RenderCache, explore_context, network_index, render_channels, top_images, unit_command, unit_on_photo
from dreamstyle.media.images import to_tensor

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
runner = CliRunner()
FAST = ExploreSettings(steps=2, size=64, quiet=True)


@pytest.fixture(scope="module")
def ctx():
    return explore_context("efficientnet-lite0", device="cpu")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Three pictures and a file that only says it is one."""
    d = tmp_path_factory.mktemp("photos")
    for name in ("cat.jpg", "coffee.jpg", "rocket.jpg"):
        shutil.copy(SAMPLES / name, d / name)
    (d / "broken.jpg").write_bytes(b"not a jpeg")
    return d


def test_the_index_is_the_layers_table(ctx):
    res = runner.invoke(app, ["layers", "efficientnet-lite0", "--json"])
    table = json.loads(res.output)["layers"]
    index = network_index("efficientnet-lite0")
    assert [{k: v for k, v in r.items() if k != "channels"} for r in index["layers"]] == table
    assert index["trained"] and index["renders"] and index["first_conv"] == "stem"
    assert index["key"] == re.sub(r"[^0-9a-f]", "", index["key"]) and len(index["key"]) == 16  # the weights' SHA-256 prefix
    assert [r["channels"] for r in index["layers"][:2]] == [r["shape"][0] for r in table[:2]]


def test_the_index_kept_in_the_cache_is_read_back_by_a_new_process(tmp_path, monkeypatch):
    cache = RenderCache(tmp_path)
    first = network_index("efficientnet-lite0", cache=cache)
    monkeypatch.setattr(explore, "_probed", set())  # as a new process finds it
    monkeypatch.setattr(explore, "_index", lambda *a: pytest.fail("probed again"))
    start = time.perf_counter()
    assert network_index("efficientnet-lite0", cache=cache) == first
    assert time.perf_counter() - start < 0.2


def test_a_network_without_weights_here_is_marked_random():
    for model in ("vgg16", "lenet"):  # offline (conftest): no hub cache
        index = network_index(model)
        assert not index["trained"] and index["key"] == "random-0" and index["weights"] is None
        assert not index["renders"] and "random weights" in index["note"]
        assert index["layers"]


def test_each_thumbnail_excites_its_own_channel_most(ctx, tmp_path, lite):
    chosen = list(range(8))
    got: dict[int, Path] = {}
    render_channels(ctx, network_index("efficientnet-lite0"), "block6", chosen, RenderCache(tmp_path),
                    on_done=lambda c, p: got.__setitem__(c, p), settings=ExploreSettings(quiet=True))  # fmt: skip
    assert sorted(got) == chosen
    for c, path in got.items():
        with torch.no_grad():
            means = lite(to_tensor(Image.open(path)), ["block6"])["block6"][0].mean(dim=(1, 2))[chosen]
        assert int(means.argmax()) == c, (c, means)
        job = Job.from_png(path)
        assert (job.engine, job.inputs["layer"], job.inputs["channels"], job.inputs["kind"]) == ("explore", "block6", [c], "channel")
        assert job.settings.size == 96


def test_a_cached_picture_comes_back_without_rendering(ctx, tmp_path, monkeypatch):
    cache, index = RenderCache(tmp_path), network_index("efficientnet-lite0")
    first: list = []
    render_channels(ctx, index, "block3", [1, 2], cache, kind="negative", on_done=lambda c, p: first.append((c, p)), settings=FAST)
    monkeypatch.setattr(explore, "unit_pictures", lambda *a, **k: pytest.fail("rendered again"))
    again: list = []
    start = time.perf_counter()
    render_channels(ctx, index["key"], "block3", [1, 2], cache, kind="negative", on_done=lambda c, p: again.append((c, p)), settings=FAST)
    assert again == first and time.perf_counter() - start < 0.2
    monkeypatch.undo()
    other: list = []  # another kind is another picture
    render_channels(ctx, index, "block3", [1], cache, kind="channel", on_done=lambda c, p: other.append(p), settings=FAST)
    assert other[0] != first[0][1]


def test_a_cache_that_cannot_be_written_still_gives_the_pictures(ctx, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cache = RenderCache(blocker / "cache")  # nothing can be made under a file, even as root
    got: list = []
    render_channels(ctx, network_index("efficientnet-lite0"), "block3", [0, 1], cache, kind="diverse", on_done=lambda c, p: got.append(p), settings=FAST)
    assert len(got) == 2 and all(p.is_file() for p in got)
    assert Image.open(got[0]).size[0] > 2 * Image.open(got[0]).size[1]  # a strip of three
    assert len(cache.notes) == 1 and "cannot be written" in cache.notes[0]


def test_a_cancel_stops_after_the_step_and_keeps_what_was_finished(ctx, tmp_path):
    import dataclasses
    import threading

    from dreamstyle.errors import Interrupted

    cancel, cache, got = threading.Event(), RenderCache(tmp_path), []

    def done(c, p):
        got.append(c)
        cancel.set()  # after the first batch of one channel

    with pytest.raises(Interrupted):
        render_channels(ctx, "k", "block3", [0, 1, 2], cache, on_done=done, cancel=cancel, settings=dataclasses.replace(FAST, chunk=1))
    assert got == [0] and len(list(tmp_path.rglob("*.png"))) == 1


def test_top_images_skip_and_count_unreadable_files(ctx, folder):
    ranked = top_images(ctx, folder, "block6", 3, n=2)
    assert len(ranked) == 2 and ranked.skipped == 1 and ranked.total == 4
    assert ranked[0][1] >= ranked[1][1] and all(p.parent == folder for p, _ in ranked)


def test_a_unit_on_a_photo_is_the_photo_with_its_field_drawn(ctx):
    img = unit_on_photo(ctx, SAMPLES / "cat.jpg", "block6", 3)
    assert max(img.size) == 448 and img.info["dreamstyle"].facts["receptive_field"] > 0


def test_the_unit_command_names_the_picture():
    line = unit_command("efficientnet-lite0", "block6", 12, "negative")
    assert line.startswith("dreamstyle explore --model efficientnet-lite0 --layers block6 --channels 12 --kind negative")
    assert line.endswith(".png")


@pytest.fixture(scope="module")
def site(tmp_path_factory, folder):
    out = tmp_path_factory.mktemp("site") / "site"
    cache = out.parent / "cache"
    args = ["explore", "--layers", "stem,block6", "--channels", "0-1", "--steps", "2", "--size", "48", "--large", "64",
            "--top", "2", "--top-folder", str(folder), "--cache", str(cache), "-o", str(out)]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return out, args, res.output


def test_the_site_links_up_and_every_png_carries_its_job(site):
    out, _, output = site
    assert "1 of 4 files" in output and "skipped" in output
    pages = sorted(out.rglob("*.html"))
    assert {p.relative_to(out).as_posix() for p in pages} >= {"index.html", "stem/index.html", "block6/index.html", "block6/1.html"}
    for page in pages:
        text = page.read_text()
        for ref in re.findall(r'(?:href|src)="([^"]+)"', text):
            assert (page.parent / ref).resolve().is_file(), f"{page.relative_to(out)} -> {ref}"
        for key in re.findall(r'data-(?:left|right|up|down)="([^"]+)"', text):
            assert (page.parent / key).resolve().is_file(), f"{page.relative_to(out)} key -> {key}"
    for png in out.rglob("*.png"):
        job = Job.from_png(png)
        if png.name == "kernels.png":
            assert job.engine == "visualize.filters"
            continue
        channel = int(png.stem.split("-")[0])
        kind = png.stem.split("-")[1] if "-" in png.stem else "channel"
        assert (job.engine, job.inputs["layer"], job.inputs["channels"], job.inputs["kind"]) == ("explore", png.parent.name, [channel], kind)
    assert len(list(out.rglob("*.png"))) == 2 * 2 * 5 + 1  # layers x channels x (thumbnail, large, diverse, negative, top) + kernels


def test_a_second_run_makes_nothing_new(site):
    out, args, _ = site
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and "(0 new pictures" in res.output
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == before


def test_a_picture_of_the_site_runs_again_from_its_job(site, tmp_path, monkeypatch):
    out, _, _ = site
    again = tmp_path / "again.png"
    res = runner.invoke(app, ["explore", "--from", str(out / "block6" / "1-negative.png"), "-q", "-o", str(again)])
    assert res.exit_code == 0, res.output
    job = Job.from_png(again)
    assert (job.inputs["layer"], job.inputs["channels"], job.inputs["kind"], job.settings.size) == ("block6", [1], "negative", 48)
    monkeypatch.chdir(tmp_path)  # without -o: the picture again, named for what it is
    res = runner.invoke(app, ["explore", "--from", str(again), "-q"])
    assert res.exit_code == 0 and (tmp_path / "efficientnet-lite0-block6-1-negative.png").is_file(), res.output


def test_a_site_on_ray_workers_is_made_of_one_job_per_picture(tmp_path):
    from helpers import local_ray

    out = tmp_path / "site"
    args = ["explore", "--layers", "block3", "--channels", "0-1", "--steps", "1", "--size", "32", "--large", "48",
            "--device", "cpu", "-o", str(out), "--backend", "ray", "--workers", "2"]  # fmt: skip
    with local_ray():
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        assert "8 written, 0 already there, 0 failed" in res.output
        pngs = sorted(out.rglob("*.png"))
        assert [p.name for p in pngs] == ["0-diverse.png", "0-large.png", "0-negative.png", "0.png", "1-diverse.png", "1-large.png", "1-negative.png", "1.png"]
        job = Job.from_png(out / "block3" / "1-large.png")
        assert (job.inputs["channels"], job.inputs["kind"], job.settings.size) == ([1], "large", 48)
        again = runner.invoke(app, args)
        assert again.exit_code == 0 and "0 written, 8 already there" in again.output


@pytest.mark.parametrize("args, words", [
    (["--model", "resnet5"], "unknown model"),
    (["--layers", "block66"], "no layer 'block66'"),
    (["--layers", "stem", "--channels", "40"], "stem has 32 channels"),
    (["--model", "vgg16"], "random weights"),
    (["--top-folder", "/nonexistent/photos"], "is not a folder"),
])  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, words):
    out = tmp_path / "site"
    res = runner.invoke(app, ["explore", *args, "--cache", str(tmp_path / "cache"), "-o", str(out)])
    assert res.exit_code == 2, res.output
    assert words in res.output and len(res.output.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "cache").exists()
