"""bench.video: its clips' motion is what it claims (so the warping error it reports means what it
says), and a quick run scores every mode."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench import video as bv
from dreamstyle.engines.flow import warping_error
from dreamstyle.media.images import to_tensor


@pytest.mark.parametrize("name, floor", [("pan", 1e-9), ("object", 1e-9), ("zoom", 3e-3)])
def test_the_clips_true_flow_carries_each_frame_onto_the_next(name, floor):
    frames, flows, masks = bv.CLIPS[name](3, 96, 64)
    x = [to_tensor(f) for f in frames]
    fl = [torch.from_numpy(f) for f in flows]
    ms = [torch.from_numpy(m.astype(np.float32)) for m in masks]
    # The inputs follow their own flow (the zoom up to its resampling) …
    moving = warping_error(x, fl, ms)
    assert moving < floor
    # … better than they follow any other amount of the same motion (none at all, too little, too much).
    for k in (0.0, 0.5, 0.8, 1.2, 1.5):
        assert warping_error(x, [k * f for f in fl], ms) > moving, k
    assert 0.5 < float(ms[0].mean()) < 1.0  # something leaves the view or is covered


def test_a_quick_run_scores_every_mode(tmp_path):
    path = bv.main(["--synthetic", "--frames", "2", "--steps", "2", "--size", "64", "--clips", "pan", "--out", str(tmp_path)])
    doc = json.loads(path.read_text())
    rows = doc["clips"]["pan"]["rows"]
    assert set(rows) == {"input", "none", "blend", "flow"}
    assert all(rows[m]["warping_error"] >= 0 and rows[m]["style_distance"] > 0 and rows[m]["seconds_per_frame"] > 0 for m in bv.MODES)
