"""What a newcomer meets first, as words on the terminal: a refusal is one line even without -q
(nothing announced, no bar), a bad batch item names its picture once, `--from` finds its inputs
from another folder or says where a missing one was recorded, and `info` on a picture kept by
Ctrl-C says the run was interrupted, and where."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from dreamstyle import Job
from dreamstyle import run
from dreamstyle.errors import Interrupted
from dreamstyle.events import Step
from dreamstyle.core.settings import StyleSettings
from helpers import LITE, SAMPLES, invoke, pixels

CAT = SAMPLES / "cat.jpg"
SWIRLS = SAMPLES / "swirls.jpg"
TINY = [*LITE, "--size", "48", "--octaves", "1", "--steps", "1"]  # no -q: the terminal as a user sees it


def _photos(folder: Path) -> Path:
    folder.mkdir()
    for name in ("cat.jpg", "coffee.jpg"):
        shutil.copy(SAMPLES / name, folder / name)
    return folder


CASES = {
    "picture": lambda T: (["dream", CAT, *TINY, "--layers", "block9", "--channels", "200", "-o", T / "o.png"],
                          "layer block9 has 112 channels; channel 200 does not exist — use --channels from 0 to 111"),
    "zoom": lambda T: (["zoom", CAT, *TINY, "--frames", "2", "--channels", "500", "-o", T / "z.gif"],
                       "layer block9 has 112 channels; channel 500 does not exist — use --channels from 0 to 111"),
    "batch": lambda T: (["dream", _photos(T / "in"), *TINY, "--channels", "500", "-o", T / "out"],
                        "layer block9 has 112 channels; channel 500 does not exist — use --channels from 0 to 111"),
    "batch-layer": lambda T: (["style", _photos(T / "in"), SWIRLS, *LITE, "--size", "48", "--steps", "1", "--style-layers", "blok3", "-o", T / "out"],
                              "efficientnet-lite0 has no layer 'blok3' — did you mean 'block3' or 'block13' or 'block9'?"
                              " (`dreamstyle layers efficientnet-lite0` lists them all)"),
    "neuron": lambda T: (["visualize", "neuron", *LITE, "--layer", "block6", "--channel", "500", "--size", "32", "--steps", "1", "-o", T / "v.png"],
                         "layer block6 has 80 channels; channel 500 does not exist — use --channel from 0 to 79"),
    "guide-and-channels": lambda T: (["dream", CAT, *TINY, "--guide", SWIRLS, "--channels", "3", "-o", T / "o.png"],
                                     "--channels and --guide cannot be combined — a guided dream matches all channels to the guide; drop one of them"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_a_refusal_is_the_one_line_without_quiet(tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    args, line = CASES[case](tmp_path)
    before = sorted(tmp_path.rglob("*"))
    res = invoke(*args)
    assert res.exit_code == 2, (res.output, res.exception)
    assert res.stderr == f"error: {line}\n"  # no "dreamstyle dream: model …" line, no progress bar
    assert not [p for p in tmp_path.rglob("*") if p not in before and p.is_file()], "a refused run writes nothing"


def test_a_bad_batch_item_names_its_picture_once(tmp_path):
    folder = _photos(tmp_path / "in")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    res = invoke("dream", folder, *TINY, "-q", "-o", tmp_path / "out")
    assert res.exit_code == 2
    errors = [l for l in res.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and errors[0].count("broken.jpg") == 1, errors
    assert errors[0].startswith(f"error: {folder / 'broken.jpg'} is damaged")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cat.png", "coffee.png"]


@pytest.fixture()
def made_in_a_project(tmp_path, monkeypatch) -> Path:
    """A style picture made inside a project folder with relative paths, as typed there."""
    project = tmp_path / "project"
    (project / "samples").mkdir(parents=True)
    for src in (CAT, SWIRLS):
        shutil.copy(src, project / "samples" / src.name)
    monkeypatch.chdir(project)
    res = invoke("style", "samples/cat.jpg", "samples/swirls.jpg", *LITE, "--size", "48", "--steps", "2", "-q")
    assert res.exit_code == 0, res.output
    out = project / "samples" / "cat-style.png"
    assert Job.from_png(out).inputs["content"] == "samples/cat.jpg"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return out


def test_from_another_folder_finds_the_recorded_inputs(made_in_a_project, tmp_path):
    res = invoke("style", "--from", made_in_a_project, "-q", "-o", "again.png")
    assert res.exit_code == 0, res.output
    assert np.array_equal(pixels("again.png"), pixels(made_in_a_project)), "the same inputs, settings and seed"
    # Moved with its folder, the photo is found beside the picture (its default place).
    moved = tmp_path / "moved"
    made_in_a_project.parent.parent.rename(moved)
    picture = moved / "samples" / "cat-style.png"
    res = invoke("style", "--from", picture, "-q", "-o", "again2.png")
    assert res.exit_code == 0, res.output
    assert np.array_equal(pixels("again2.png"), pixels(picture))


def test_from_says_where_a_missing_input_was_recorded(made_in_a_project):
    (made_in_a_project.parent / "cat.jpg").unlink()
    res = invoke("style", "--from", made_in_a_project, "-q", "-o", "again.png")
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: no such file: samples/cat.jpg (the CONTENT recorded in {made_in_a_project}) — not at ")
    assert str(made_in_a_project.parent / "cat.jpg") in res.stderr and res.stderr.count("\n") == 1
    # The photo the command line gives instead is all it needs.
    res = invoke("style", SAMPLES / "coffee.jpg", "--from", made_in_a_project, "-q", "-o", "coffee.png")
    assert res.exit_code == 0, res.output


def test_info_on_a_partial_picture_says_where_the_run_stopped(tmp_path):
    cancel = threading.Event()

    def stop_at_step_3(event):
        if isinstance(event, Step) and event.level == 0 and event.step == 3:
            cancel.set()

    s = StyleSettings(model="efficientnet-lite0", size=96, steps=2, scales=[48, 96])
    job = Job("style", {"content": str(CAT), "styles": [str(SWIRLS)]}, s, output=str(tmp_path / "out.png"))
    with pytest.raises(Interrupted) as stopped:
        run(job, on_event=stop_at_step_3, cancel=cancel)
    assert stopped.value.path == tmp_path / "out.partial.png"
    res = invoke("info", stopped.value.path)
    assert res.exit_code == 0, res.output
    assert "interrupted  at step 3 of 4, in scale 2 of 2: the picture so far, not a finished output" in res.stdout
    assert "re-run (the whole run):" in res.stdout
    finished = invoke("info", SAMPLES.parent / "docs" / "dream.png")
    assert "interrupted" not in finished.stdout
