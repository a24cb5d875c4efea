"""`run(job)`: events in order, a cancel that keeps the picture, one model load per process."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import dreamstyle
from dreamstyle import DreamSettings, Failed, Finished, Interrupted, ItemDone, Job, MotionSettings, Started, Step, StyleSettings
from dreamstyle.media.images import load_image, read_settings, resize_longest

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CAT = SAMPLES / "cat.jpg"
FAST = DreamSettings(model="efficientnet-lite0", size=96, octaves=2, steps=3, quiet=True)


@pytest.mark.cpu("the run is reported as device cpu, precision fp32")
def test_events_come_in_order_and_the_step_picture_is_the_one_forming(tmp_path):
    events = []
    out = tmp_path / "o.png"
    result = dreamstyle.run(Job("dream", {"image": str(CAT)}, FAST, output=str(out)), on_event=events.append)
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "Started" and kinds[-1] == "Finished"
    steps = [e for e in events if isinstance(e, Step)]
    assert [e.step for e in steps] == list(range(1, 7)) and {e.total for e in steps} == {6}
    octaves = [e.index for e in events if isinstance(e, ItemDone) and e.kind == "octave"]
    assert octaves == [0, 1]
    # Each octave is reported after its last step.
    assert kinds.index("ItemDone") == kinds.index("Step") + 3
    started = events[0]
    assert started.model == "efficientnet-lite0" and started.device == "cpu" and started.precision == "fp32"
    assert set(steps[-1].losses()) == {"loss"} and steps[-1].losses()["loss"] < 0  # minus the activation energy
    # The last step's picture is the result: the preview shows what will be saved.
    last = np.asarray(steps[-1].picture().convert("RGB"), dtype=float)
    assert np.abs(last - np.asarray(result.image.convert("RGB"), dtype=float)).max() <= 1
    assert isinstance(events[-1], Finished) and events[-1].result.output == out and out.is_file()


def test_cancel_mid_run_keeps_the_picture_as_it_stood(tmp_path):
    cancel = threading.Event()
    seen = []

    def listen(event):
        if isinstance(event, Step):
            seen.append(event.step)
            if event.step == 4:
                cancel.set()
        if isinstance(event, Failed):
            seen.append(event)

    out = tmp_path / "o.png"
    job = Job("dream", {"image": str(CAT)}, DreamSettings(model="efficientnet-lite0", size=64, octaves=2, steps=50, quiet=True), output=str(out))
    with pytest.raises(Interrupted) as info:
        dreamstyle.run(job, on_event=listen, cancel=cancel)
    assert seen[:4] == [1, 2, 3, 4] and len(seen) == 5  # stopped right after the step that cancelled
    failed = seen[-1]
    assert failed.cancelled and failed.partial == tmp_path / "o.partial.png"
    assert not out.exists() and failed.partial.is_file()
    assert read_settings(failed.partial)["engine"] == "dream"
    # The partial is the photo changed by four steps, shown at the full size.
    partial = np.asarray(info.value.image.convert("RGB"), dtype=float)
    src = np.asarray(resize_longest(load_image(CAT).rgb, 64), dtype=float)
    assert partial.shape == src.shape and 0.3 < np.abs(partial - src).mean() < 20


def test_the_model_is_loaded_once_per_process(monkeypatch, tmp_path):
    from dreamstyle import run as run_module  # the function; its module is what loads

    import importlib

    mod = importlib.import_module("dreamstyle.core.runner")
    mod.clear_cache()
    loads = []
    real = mod.load_backbone
    monkeypatch.setattr(mod, "load_backbone", lambda *a, **k: loads.append(a) or real(*a, **k))
    for k in range(3):
        run_module(Job("dream", {"image": str(CAT)}, FAST, output=str(tmp_path / f"{k}.png")))
    run_module(Job("style", {"content": str(CAT), "styles": [str(SAMPLES / "swirls.jpg")]},
                   StyleSettings(model="efficientnet-lite0", size=64, steps=1, quiet=True)))  # fmt: skip
    assert len(loads) == 1  # the same model, weights, device and pooling: one load for all four


def test_a_bad_output_is_refused_before_the_model_loads(monkeypatch, tmp_path):
    import importlib

    mod = importlib.import_module("dreamstyle.core.runner")
    mod.clear_cache()
    monkeypatch.setattr(mod, "load_backbone", lambda *a, **k: pytest.fail("loaded a model for a job that cannot be saved"))
    (tmp_path / "o.png").write_bytes(b"keep")
    events = []
    with pytest.raises(dreamstyle.UserError, match="already exists"):
        dreamstyle.run(Job("dream", {"image": str(CAT)}, FAST, output=str(tmp_path / "o.png")), on_event=events.append)
    assert [type(e) for e in events] == [Failed] and (tmp_path / "o.png").read_bytes() == b"keep"


def test_a_clip_reports_frames_and_nests_each_frames_steps(tmp_path):
    frames = [load_image(CAT).rgb.resize((64, 48)).crop((2 * t, 0, 2 * t + 56, 44)) for t in range(3)]
    events = []
    job = Job("dream", {"image": frames}, DreamSettings(model="efficientnet-lite0", size=56, octaves=1, steps=2, quiet=True),
              motion=MotionSettings(blend=0.5))  # fmt: skip
    result = dreamstyle.run(job, on_event=events.append)
    assert isinstance(events[0], Started) and events[0].unit == "frame" and events[0].total == 3
    done = [e for e in events if isinstance(e, ItemDone) and e.kind == "frame"]
    assert [e.index for e in done] == [0, 1, 2] and all(e.level == 0 for e in done)
    assert {e.level for e in events if isinstance(e, Step)} == {1}
    assert len(result.images) == 3
    assert [img.info["dreamstyle"]["ran"]["frame"] for img in result.images] == [0, 1, 2]
    assert all(img.info["dreamstyle"]["motion"]["blend"] == 0.5 for img in result.images)
