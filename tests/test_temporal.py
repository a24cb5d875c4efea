"""Clips that hold together: optical flow, its consistency mask, warping, the temporal loss, the
three --temporal modes measured by the warping error, and clip runs as a user meets them (GIF in,
Ctrl-C, --from, a part of a clip with warm-up frames, multi-pass)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from dreamstyle import UserError, api
from dreamstyle.media import video
from dreamstyle.engines.flow import Flows, unreliable, warp, warping_error
from dreamstyle.media.images import read_settings, to_tensor
from dreamstyle.engines.temporal import TemporalLoss, long_term_weights
from helpers import LITE, SAMPLES, cli_process, ctrl_c, invoke, wait_for

STYLE = SAMPLES / "swirls.jpg"
TINY = [*LITE, "--size", "64", "--steps", "2", "-q"]


def pan(n: int, w: int = 96, h: int = 72, dx: int = 3, dy: int = 1) -> list[Image.Image]:
    """A window moving (dx, dy) a frame over a photo: frame t's pixel p is p - (dx, dy) in frame t+1."""
    src = Image.open(SAMPLES / "coffee.jpg").convert("RGB").resize((w + dx * n + 8, round((w + dx * n + 8) * 341 / 512)))
    return [src.crop((dx * t, dy * t, dx * t + w, dy * t + h)) for t in range(n)]


def square_over_table(n: int, dx: int = 6) -> tuple[list[Image.Image], list[int]]:
    """A 24 px square of the cat sliding right over a still coffee table; the square's left edges."""
    bg = Image.open(SAMPLES / "coffee.jpg").convert("RGB").resize((96, 72))
    sq = Image.open(SAMPLES / "cat.jpg").convert("RGB").crop((150, 40, 300, 190)).resize((24, 24))
    lefts = [20 + dx * t for t in range(n)]
    frames = []
    for left in lefts:
        f = bg.copy()
        f.paste(sq, (left, 24))
        frames.append(f)
    return frames, lefts


def flows_of(frames) -> Flows:
    flows = Flows()
    for t, f in enumerate(frames):
        flows.add(t, f)
    return flows


# --- flow, mask, warp -----------------------------------------------------------------------


def test_flow_of_a_pan_recovers_the_shift():
    a, b = pan(2)
    flow = flows_of([a, b]).flow(0, 1)  # frame 0's pixel p is at p + flow in frame 1
    inner = flow[8:-8, 8:-8]  # away from the borders, where part of the patch leaves the view
    assert (inner - torch.tensor([-3.0, -1.0])).abs().max() < 1.0, inner.reshape(-1, 2).mean(0)


def test_mask_marks_the_entering_strip_and_nothing_inside():
    flows = flows_of(pan(2))
    bad = unreliable(flows.flow(0, 1), flows.flow(1, 0))  # frame 1 looking back at frame 0
    assert bad[:, -3:].float().mean() > 0.95 and bad[-1, :].float().mean() > 0.95  # new on the right and at the bottom
    assert bad[8:-8, 8:-8].float().mean() < 0.02


def test_mask_marks_a_moving_objects_trail():
    frames, lefts = square_over_table(2)
    flows = flows_of(frames)
    bad = unreliable(flows.flow(0, 1), flows.flow(1, 0))
    trail = bad[24:48, lefts[0] : lefts[1]]  # the table the square uncovered in frame 1
    assert trail.float().mean() > 0.8, trail.float().mean()
    assert bad[:, 64:].float().mean() < 0.1 and bad[:16].float().mean() < 0.1  # the still table elsewhere


def test_warping_with_zero_flow_is_the_identity():
    x = torch.rand(2, 3, 17, 23, generator=torch.Generator().manual_seed(0))
    for mode in ("bilinear", "bicubic"):
        assert torch.allclose(warp(x, torch.zeros(17, 23, 2), mode=mode), x, atol=1e-5)


def test_warp_follows_the_flow_and_the_warping_error_sees_it():
    a, b = (to_tensor(f) for f in pan(2))
    flow = torch.zeros(72, 96, 2)
    flow[..., 0], flow[..., 1] = -3, -1
    mask = torch.ones(72, 96)
    mask[:, :3], mask[:1, :] = 0, 0  # frame 0's left columns and top row have left the view in frame 1
    # Frame 1 warped back to frame 0 by the true motion is frame 0 where both see the scene.
    assert (warp(b, flow) - a)[..., 1:-1, 3:-3].abs().max() < 1e-5
    assert warping_error([a, b], [flow], [mask]) < 1e-8
    assert warping_error([a, a], [flow], [mask]) > 1e-3  # a clip that does not follow the motion


def test_long_term_weights_count_each_pixel_once_nearest_first():
    c1 = torch.tensor([[1.0, 0.0, 0.0, 0.5]])
    c2 = torch.tensor([[1.0, 1.0, 0.0, 1.0]])
    c4 = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    w1, w2, w4 = long_term_weights([c1, c2, c4])
    assert w1.tolist() == c1.tolist()
    assert w2.tolist() == [[0.0, 1.0, 0.0, 0.5]] and w4.tolist() == [[0.0, 0.0, 1.0, 0.0]]


# --- the temporal term in a frame's optimisation ------------------------------------------------


def test_the_temporal_term_falls_during_a_frames_optimisation(lite):
    from dreamstyle.core.runner import context_for
    from dreamstyle.core.settings import StyleSettings
    from dreamstyle.engines.style import style_images
    from dreamstyle.events import Reporter, Step

    frames = pan(2)
    target = to_tensor(frames[0])  # held to another picture than the one it starts from
    c = torch.ones(1, 1, 72, 96)
    c[..., :, :24] = 0  # and not everywhere
    term = TemporalLoss([(target, c)], 50.0, 0.05)
    seen = []
    report = Reporter(lambda e: seen.append(e.losses()["temporal"]) if isinstance(e, Step) else None)
    s = StyleSettings(model="efficientnet-lite0", size=96, steps=30, quiet=True)
    style_images(frames[1], [STYLE], s, context_for(s, lite, report), temporal=term)
    # The style loss of the bare photo is 7x larger at first and L-BFGS goes after it first
    # (measured: the temporal term 23.9 at step 1, 23.4 at 10, 12.8 at 30).
    assert len(seen) == 30 and seen[-1] < 0.7 * seen[0] and seen[-1] < seen[20] < seen[10], seen


# --- the three modes ----------------------------------------------------------------------------


def true_pan(frames: list[Image.Image], dx: int, dy: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The pan's true flow(t, t+1) and the pixels of frame t still seen in frame t+1."""
    w, h = frames[0].size
    flow = torch.zeros(h, w, 2)
    flow[..., 0], flow[..., 1] = -dx, -dy
    mask = torch.ones(h, w)
    mask[:, :dx] = 0  # what leaves the view
    mask[:dy, :] = 0
    return [flow] * (len(frames) - 1), [mask] * (len(frames) - 1)


def tensors(frames) -> list[torch.Tensor]:
    return [to_tensor(f.convert("RGB")) for f in frames]


def test_warping_error_of_flow_is_below_blend_below_none_on_a_pan(lite):
    frames = pan(4, w=64, h=48, dx=2, dy=0)
    flows, masks = true_pan(frames, 2, 0)
    # Started from noise, every frame is fully painted in 20 steps, as frames are after a few
    # hundred steps from the photo: independent frames then paint the scene differently each time
    # (the flicker the modes are for). At 64 px and 20 steps from the photo they are painted so
    # lightly that they barely differ, and carrying strokes unwarped only adds error.
    kw = dict(backbone=lite, size=64, steps=20, init="noise", quiet=True)
    err = {}
    for mode, extra in (("none", {}), ("blend", {"blend": 0.5}), ("flow", {})):
        outs = list(api.stylize_frames(frames, STYLE, temporal=mode, **extra, **kw))
        err[mode] = warping_error(tensors(outs), flows, masks)
    assert err["flow"] < 0.5 * err["blend"] and err["blend"] < 0.8 * err["none"], err


def test_dream_creatures_move_with_the_scene(lite):
    frames = pan(4, w=64, h=48, dx=2, dy=0)
    flows, masks = true_pan(frames, 2, 0)
    kw = dict(backbone=lite, size=64, steps=3, octaves=1, lr=0.05, quiet=True)
    err = {mode: warping_error(tensors(api.dream_frames(frames, temporal=mode, blend=0.8, **kw)), flows, masks) for mode in ("blend", "flow")}
    assert err["flow"] < 0.8 * err["blend"], err


# --- clips as a user runs them ----------------------------------------------------------------


def frame_folder(tmp_path, frames) -> "Path":
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        f.save(folder / f"{i:03d}.png")
    return folder


def test_an_animated_gif_is_read_as_a_clip_and_a_still_one_as_a_picture(tmp_path):
    gif = video.write_frames(pan(3, w=64, h=48), tmp_path / "clip.gif", fps=5)
    out = tmp_path / "out.gif"
    res = invoke("dream", gif, "-o", out, *TINY, "--octaves", "1")
    assert res.exit_code == 0, res.output
    frames, fps = video.read_frames(out)
    assert len(frames) == 3 and fps == pytest.approx(5, rel=0.05)
    still = tmp_path / "still.gif"
    pan(1, w=64, h=48)[0].save(still)
    res = invoke("dream", still, "-o", tmp_path / "still.png", *TINY, "--octaves", "1")
    assert res.exit_code == 0 and (tmp_path / "still.png").is_file(), res.output


def test_temporal_marks_a_frame_folder_as_a_clip(tmp_path):
    src = frame_folder(tmp_path, pan(3, w=64, h=48))
    out = tmp_path / "out"
    res = invoke("dream", src, "--temporal", "none", "-o", out, *TINY, "--octaves", "1")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == [f"frame_{i:05d}.png" for i in range(3)]
    assert read_settings(out / "frame_00002.png")["motion"]["temporal"] == "none"


@pytest.mark.parametrize("args, needle", [
    (["--temporal", "wobble"], "unknown --temporal"),
    (["--blend", "0.3", "--temporal", "flow"], "--blend does not apply to style"),
    (["--temporal", "blend", "--long-term"], "--long-term and --passes need --temporal flow"),
    (["--passes", "0"], "--passes 0 is out of range"),
    (["--temporal-weight", "-1"], "--temporal-weight -1"),
])  # fmt: skip
def test_bad_clip_flags_are_refused_before_anything_runs(tmp_path, args, needle):
    src = frame_folder(tmp_path, pan(2, w=64, h=48))
    res = invoke("style", src, STYLE, "-o", tmp_path / "o.gif", *args, *TINY)
    assert res.exit_code == 2 and needle in res.output and "Traceback" not in res.output, res.output
    assert not (tmp_path / "o.gif").exists()


def test_clip_flags_are_refused_on_a_picture_and_style_flags_on_a_dream(tmp_path):
    from dreamstyle.engines.clip import open_source
    from dreamstyle.core.job import Job
    from dreamstyle.core.settings import DreamSettings, MotionSettings

    res = invoke("dream", SAMPLES / "cat.jpg", "--temporal", "flow", "-o", tmp_path / "o.png", *TINY)
    assert res.exit_code == 2 and "--temporal applies to a video input" in res.output, res.output
    gif = video.write_frames(pan(2, w=64, h=48), tmp_path / "clip.gif", fps=5)
    with pytest.raises(UserError, match="apply to style clips"):
        open_source(Job("dream", {"image": str(gif)}, DreamSettings(), motion=MotionSettings(passes=2)))


def test_from_a_frame_reruns_the_clip_with_its_temporal_settings(tmp_path):
    src = frame_folder(tmp_path, pan(3, w=64, h=48))
    first, again = tmp_path / "first", tmp_path / "again"
    res = invoke("style", src, STYLE, "--long-term", "--temporal-weight", "80", "-o", first, *TINY)
    assert res.exit_code == 0, res.output
    meta = read_settings(first / "frame_00001.png")
    assert meta["motion"]["temporal"] == "flow" and meta["motion"]["long_term"] == [1, 2, 4]
    assert meta["motion"]["temporal_weight"] == 80 and meta["ran"]["frame"] == 1
    res = invoke("style", "--from", first / "frame_00001.png", "-o", again, "-q")
    assert res.exit_code == 0, res.output
    for name in ("frame_00000.png", "frame_00001.png", "frame_00002.png"):  # the same clip, bit for bit
        assert (first / name).read_bytes() == (again / name).read_bytes(), name
    # A flag typed now wins over the record.
    res = invoke("style", "--from", first / "frame_00001.png", "--temporal", "none", "-o", tmp_path / "alone", "-q")
    assert res.exit_code == 0 and read_settings(tmp_path / "alone" / "frame_00002.png")["motion"]["temporal"] == "none"


def test_a_clip_recorded_before_flow_reruns_as_it_ran():
    from dreamstyle.core.job import Job

    old = {"schema": 1, "engine": "style", "inputs": {"content": "clip.mp4", "styles": ["s.jpg"]}, "settings": {},
           "motion": {"frames": 24, "zoom": 1.05, "rotate": 0.0, "fps": None, "blend": 0.5}}  # fmt: skip
    assert Job.from_json(json.dumps(old)).motion.temporal == "blend"


def test_ctrl_c_in_a_flow_clip_keeps_the_finished_frames(tmp_path):
    clip = video.write_frames(pan(40, w=64, h=48, dx=1, dy=0), tmp_path / "clip.mp4", fps=12)
    out = tmp_path / "painted"
    proc = cli_process("style", clip, STYLE, *LITE, "--size", 64, "--steps", 20, "--temporal", "flow", "-o", out)
    wait_for(proc, r"style efficientnet-lite0.*\b(?:[2-9]|[1-9]\d+)/40\b")  # two frames done
    err = ctrl_c(proc)
    assert proc.returncode == 130, err
    frames = sorted(out.iterdir())
    assert 1 <= len(frames) < 40 and f"saved the {len(frames)} finished frames" in err, err
    assert [f.name for f in frames] == [f"frame_{i:05d}.png" for i in range(len(frames))]
    assert all(read_settings(f)["motion"]["temporal"] == "flow" for f in frames)


def test_part_of_a_clip_with_warm_up_frames_is_the_same_as_in_the_whole_clip(lite):
    from dreamstyle.engines.clip import clip_frames, open_source
    from dreamstyle.events import Reporter
    from dreamstyle.core.job import Job
    from dreamstyle.core.runner import frame_runner
    from dreamstyle.core.settings import MotionSettings, StyleSettings

    s = StyleSettings(model="efficientnet-lite0", size=64, steps=4, quiet=True)
    job = Job("style", {"content": pan(4, w=64, h=48), "styles": [str(STYLE)]}, s, motion=MotionSettings())

    def frames(**part):
        return list(clip_frames(job, open_source(job), Reporter(), frame_runner(lite), **part))

    whole = frames()
    part = frames(start=2, stop=4, warmup=2)
    cold = frames(start=2, stop=3)
    assert [f.info["dreamstyle"]["ran"]["frame"] for f in part] == [2, 3]
    assert [f.tobytes() for f in part] == [f.tobytes() for f in whole[2:]]
    assert cold[0].tobytes() != whole[2].tobytes()  # without its warm-up, frame 2 starts afresh


def test_multi_pass_runs_every_pass_and_writes_the_last_in_order(lite):
    from dreamstyle.events import ItemDone, Started
    from dreamstyle.core.job import Job
    from dreamstyle.core.runner import run
    from dreamstyle.core.settings import MotionSettings, StyleSettings

    s = StyleSettings(model="efficientnet-lite0", size=64, steps=3, quiet=True)
    job = Job("style", {"content": pan(3, w=64, h=48), "styles": [str(STYLE)]}, s, motion=MotionSettings(passes=3))
    events = []
    result = run(job, on_event=lambda e: events.append(e) if e.level == 0 else None, backbone=lite)
    started = next(e for e in events if isinstance(e, Started))
    done = [(e.kind, e.index) for e in events if isinstance(e, ItemDone)]
    assert started.total == 9  # one bar over every frame of every pass
    # Passes alternate and the last runs forward: forward, backward, forward.
    assert done == [("pass", 0), ("pass", 1), ("pass", 2), ("pass", 2), ("pass", 1), ("pass", 0),
                    ("frame", 0), ("frame", 1), ("frame", 2)]  # fmt: skip
    assert [f.info["dreamstyle"]["ran"]["frame"] for f in result.images] == [0, 1, 2]


def test_the_bar_counts_frames_and_shows_the_current_frames_steps():
    from dreamstyle.core.console import Console
    from dreamstyle.events import ItemDone, Started, Step

    console = Console()
    console(Started(None, 3, "frame", "style efficientnet-lite0"))
    console(Step(7, 7, "style efficientnet-lite0", dict, lambda: None, level=1))
    assert console.bar.n == 0 and "step 7/7" in str(console.bar.postfix)
    console(ItemDone("frame", 0, 3))
    assert console.bar.n == 1
    console.close()
