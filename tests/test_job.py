"""A request is a value: Job JSON round-trips, is what every output embeds, and 0.1.0's still reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from dreamstyle import DreamSettings, Job, MotionSettings, ShiftSettings, StyleSettings, TopSettings, UserError, VisualizeSettings
from dreamstyle.cli import app
from dreamstyle.core.job import SCHEMA
from dreamstyle.core.settings_fast import FastSettings, TrainSettings
from dreamstyle.core.settings_regions import RegionsSettings
from dreamstyle.core.settings_explore import ExploreSettings
from dreamstyle.core.registry import ENGINES

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
LITE = dict(model="efficientnet-lite0")


def one_of_each() -> list[Job]:
    d = DreamSettings(**LITE, size=96, layers="block9:1,block10:0.5", channels=[1, 2], seed=7)
    v = VisualizeSettings(**LITE, size=64, batch=2, diversity=1.0)
    return [
        Job("dream", {"image": "photo.jpg"}, d, output="out.png"),
        Job("dream", {"image": "clip.mp4"}, d, output="out.mp4", motion=MotionSettings(blend=0.3, fps=12.0)),
        Job("style", {"content": "photo.jpg", "styles": ["a.jpg", "b.jpg"]}, StyleSettings(**LITE, style_blend=[0.7, 0.3], scales=[128, 256])),
        Job("zoom", {"image": "photo.jpg"}, d, motion=MotionSettings(frames=5, zoom=1.1, rotate=2.0)),
        Job("visualize.filters", {"layer": None, "channels": [0, 1]}, v),
        Job("visualize.maps", {"image": "photo.jpg", "layer": "block3", "top": 4}, v),
        Job("visualize.channels", {"layer": "block6", "channels": [0, 3]}, v),
        Job("visualize.neuron", {"layer": "block9", "channel": 12, "x": None, "y": 3}, v),
        Job("visualize.class", {"classes": ["goldfish", "980"]}, v),
        Job("visualize.shift", {"image": "photo.jpg"}, ShiftSettings(size=96, layers="block3,block8", rotate=10.0, points=5)),
        Job("visualize.top", {"layer": "block6", "channel": 12, "folder": "photos"}, TopSettings(top=4, chunk=8, steps=16)),
        Job("train", {"styles": ["a.jpg", "b.jpg"], "photos": "photos", "resume": None}, TrainSettings(size=64, iterations=10, net_size="base")),
        Job("fast", {"content": "photo.jpg"}, FastSettings(net="two.pt", mix=[0.3, 0.7], size=128)),
        Job("regions", {"image": "photo.jpg"}, RegionsSettings(k=4, size=128)),
        Job("style", {"content": "photo.jpg", "styles": ["a.jpg", "b.jpg"], "regions": "map.png", "style_masks": ["sky.png"]},
            StyleSettings(**LITE, regions_key="red,#3cb44b", region_weights=[100.0, 300.0])),
        Job("dream", {"image": "photo.jpg", "mask": "sky.png"}, d),
        Job("explore", {"layer": "block6", "channels": [12], "kind": "diverse"}, ExploreSettings(batch=3, diversity=1.0)),
    ]


def test_every_engine_is_covered_here():
    assert {j.engine for j in one_of_each()} == set(ENGINES)


@pytest.mark.parametrize("job", one_of_each(), ids=lambda j: j.engine + ("-clip" if j.is_clip else ""))
def test_json_round_trips_exactly(job):
    text = job.to_json()
    back = Job.from_json(text)
    assert back == job
    assert back.to_json() == text
    assert json.loads(text)["schema"] == SCHEMA
    assert Job.from_json(json.loads(text)) == job  # parsed JSON too, as scripts and the studio send it


def test_paths_are_strings_and_in_memory_images_are_null():
    img = Image.new("RGB", (8, 8))
    job = Job("style", {"content": img, "styles": [Path("a.jpg"), img]}, StyleSettings())
    d = job.to_dict()
    assert d["inputs"] == {"content": None, "styles": ["a.jpg", None]}
    assert job.inputs["styles"][0] == "a.jpg"


@pytest.mark.parametrize(
    "data, needle",
    [({"schema": SCHEMA + 1, "engine": "dream", "settings": {}}, "newer dreamstyle"),
     ({"schema": SCHEMA, "engine": "deepdream", "settings": {}}, "'dream'"),
     ({"schema": SCHEMA, "engine": "dream", "settings": {"stepz": 3}}, "'steps'"),
     ({"schema": SCHEMA, "engine": "dream", "settings": {"steps": -1}}, "--steps -1"),
     ("{not json", "not a dreamstyle job")],
)  # fmt: skip
def test_bad_job_json_is_refused_with_a_hint(data, needle):
    with pytest.raises(UserError) as info:
        Job.from_json(data if isinstance(data, str) else json.dumps(data))
    assert needle in str(info.value)


def test_settings_must_match_the_engine():
    with pytest.raises(UserError, match="StyleSettings"):
        Job("style", {}, DreamSettings())


@pytest.mark.parametrize(
    "name, engine, inputs, checks",
    [("v0.1.0-dream.png", "dream", {"image": str(SAMPLES / "cat.jpg")}, {"size": 64, "octaves": 1, "steps": 2}),
     ("v0.1.0-style.png", "style", {"content": str(SAMPLES / "cat.jpg"), "styles": [str(SAMPLES / "swirls.jpg")]}, {"size": 64, "steps": 3}),
     ("v0.1.0-neuron.png", "visualize.neuron", {"layer": "block9", "channel": 12, "x": None, "y": None}, {"size": 48, "steps": 3})],
)  # fmt: skip
def test_outputs_of_0_1_0_still_load(name, engine, inputs, checks):
    job = Job.from_png(FIXTURES / name)
    assert job.engine == engine
    # 0.1.0 recorded absolute paths of the machine that made the fixture: compare the file names.
    got = {k: ([Path(p).name for p in v] if isinstance(v, list) and k == "styles" else Path(v).name if k in ("image", "content") else v)
           for k, v in job.inputs.items()}  # fmt: skip
    want = {k: ([Path(p).name for p in v] if k == "styles" else Path(v).name if k in ("image", "content") else v) for k, v in inputs.items()}
    assert got == want
    assert {k: getattr(job.settings, k) for k in checks} == checks
    assert job.settings.model == "efficientnet-lite0"
    assert job.ran["dreamstyle"] == "0.1.0" and job.ran["device"] == "cpu"
    assert Job.from_json(job.to_json()) == job  # and it can be written in today's form


def test_output_embeds_the_job_and_info_json_prints_it(tmp_path):
    out = tmp_path / "o.png"
    res = CliRunner().invoke(app, ["dream", str(SAMPLES / "cat.jpg"), "--model", "efficientnet-lite0", "--size", "64",
                                   "--octaves", "1", "--steps", "1", "-q", "-o", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    job = Job.from_png(out)
    assert job.engine == "dream" and job.inputs == {"image": str(SAMPLES / "cat.jpg")}
    assert job.settings.layers  # the model's default layers, recorded as run
    printed = CliRunner().invoke(app, ["info", str(out), "--json"])
    assert printed.exit_code == 0
    assert Job.from_json(printed.stdout) == job
    assert json.loads(printed.stdout)["ran"]["precision"] in ("fp32", "bf16")


def test_from_reads_a_0_1_0_output(tmp_path):
    """--from goes through Job.from_png: a picture made by 0.1.0 re-runs (with today's input path)."""
    out = tmp_path / "again.png"
    res = CliRunner().invoke(app, ["visualize", "neuron", "--from", str(FIXTURES / "v0.1.0-neuron.png"), "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    job = Job.from_png(out)
    assert job.engine == "visualize.neuron" and job.inputs["layer"] == "block9" and job.inputs["channel"] == 12
    assert job.settings.size == 48 and job.settings.steps == 3
