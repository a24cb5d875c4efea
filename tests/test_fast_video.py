"""Clips painted by a trained network (`style clip --net NAME.pt`): through the clip machinery every
clip shares, each frame painted alone, the flags that hold frames together by optimisation
refused, Ctrl-C keeping the frames done, `--from` re-making the clip, `--backend ray`; and the
temporal training loss (engines/fast_temporal.py). Networks are tiny (32 px crops, 8 batches)
and clips 6 frames of 64x48: their flicker is measured in bench/fast_video.py, not here."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import dreamstyle
from dreamstyle.core import registry
from dreamstyle.core.job import Job
from dreamstyle.core.settings import MotionSettings
from dreamstyle.core.settings_fast import FastSettings, TrainSettings
from dreamstyle.errors import Interrupted, UserError
from dreamstyle.events import ItemDone, Step
from dreamstyle.media import video
from dreamstyle.media.network_file import load_network
from helpers import invoke
from helpers import local_ray as ray_here

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SWIRLS = SAMPLES / "swirls.jpg"
TINY = dict(model="efficientnet-lite0", size=32, batch=2, iterations=8, minutes=None, quiet=True)
FRAMES = 6


@pytest.fixture(scope="module")
def net(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("net") / "swirls.pt"
    dreamstyle.run(Job("train", {"styles": [str(SWIRLS)]}, TrainSettings(**TINY), output=str(out)))
    return out


@pytest.fixture(scope="module")
def frames() -> list[Image.Image]:
    """A pan across the cat: frames that differ a little, as in a real video."""
    src = Image.open(SAMPLES / "cat.jpg").convert("RGB").resize((112, 80))
    return [src.crop((4 * t, 2 * t, 4 * t + 64, 2 * t + 48)) for t in range(FRAMES)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, frames) -> Path:
    out = tmp_path_factory.mktemp("clip") / "frames"
    out.mkdir()
    for t, f in enumerate(frames):
        f.save(out / f"f{t:03d}.png")
    return out


@pytest.fixture()
def clip_mp4(tmp_path, frames) -> Path:
    return video.write_frames(frames, tmp_path / "clip.mp4", fps=8)


def pixels(img) -> np.ndarray:
    return np.asarray(img.convert("RGB") if isinstance(img, Image.Image) else Image.open(img).convert("RGB"), dtype=np.float64)


def alone(frame: Image.Image, net: Path) -> np.ndarray:
    """The frame painted as a picture of its own."""
    return pixels(dreamstyle.run(Job("fast", {"content": frame}, FastSettings(net=str(net), quiet=True))).image)


def test_a_video_is_painted_frame_by_frame_at_its_rate(net, clip_mp4, tmp_path):
    out = tmp_path / "painted.mp4"
    res = invoke("style", clip_mp4, "--net", net, "-o", out, "-q")
    assert res.exit_code == 0, res.output
    painted, fps = video.read_frames(out)
    decoded, _ = video.read_frames(clip_mp4)
    assert len(painted) == FRAMES and fps == pytest.approx(8) and painted[0].size == (64, 48)
    for got, frame in zip(painted, decoded):
        unpainted, own = np.abs(pixels(got) - pixels(frame)).mean(), np.abs(pixels(got) - alone(frame, net)).mean()
        assert unpainted > 10 and own < 0.15 * unpainted, (unpainted, own)  # the frame as painted alone, but for the codec
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4", "painted.mp4"]  # no temp file left


def test_a_frame_folder_is_a_clip_whose_frames_carry_the_job_and_from_remakes_it(net, folder, frames, tmp_path):
    """--temporal none (accepted with --net) marks the folder as a clip; PNG frames are exact."""
    out = tmp_path / "painted"
    res = invoke("style", folder, "--net", net, "--size", 48, "--temporal", "none", "-o", out, "-q")
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"frame_{t:05d}.png" for t in range(FRAMES)]
    job = Job.from_png(out / "frame_00002.png")
    assert job.engine == "fast" and job.is_clip and job.motion.temporal == "none" and job.ran["frame"] == 2
    assert job.ran["net_sha256"] == load_network(net).sha256 and job.settings.size == 48
    first = dreamstyle.run(Job("fast", {"content": frames[2]}, FastSettings(net=str(net), size=48, quiet=True))).image
    assert np.array_equal(pixels(out / "frame_00002.png"), pixels(first))
    # --from a frame makes the whole clip again, the same pixels.
    res = invoke("style", "--from", out / "frame_00002.png", "-o", tmp_path / "again", "-q")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == names
    for name in names:
        assert np.array_equal(pixels(out / name), pixels(tmp_path / "again" / name)), name


@pytest.mark.parametrize("flags, says", [
    (["--temporal", "flow"], "--temporal flow does not apply to painting with --net"),
    (["--temporal", "blend"], "--temporal blend does not apply"),
    (["--blend", "0.3"], "--blend does not apply"),
    (["--temporal-weight", "10"], "--temporal-weight does not apply"),
    (["--long-term"], "--long-term does not apply"),
    (["--passes", "3"], "--passes does not apply"),
])  # fmt: skip
def test_what_holds_frames_together_by_optimisation_is_refused_in_one_line(net, clip_mp4, tmp_path, flags, says):
    before = sorted(p.name for p in tmp_path.iterdir())
    res = invoke("style", clip_mp4, "--net", net, *flags, "-o", tmp_path / "out.mp4", "-q")
    assert res.exit_code == 2 and res.output.count("error:") == 1 and says in res.output, res.output
    assert "holds frames together through its training" in res.output and "Traceback" not in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_clip_job_from_elsewhere_is_refused_a_temporal_mode(net, clip_mp4):
    """The studio and the API build Jobs without the CLI: the engine's check refuses the same."""
    settings = FastSettings(net=str(net), quiet=True)
    with pytest.raises(UserError, match="--temporal flow does not apply to painting with --net"):
        registry.check(Job("fast", {"content": str(clip_mp4)}, settings, motion=MotionSettings()))  # flow: the default
    registry.check(Job("fast", {"content": str(clip_mp4)}, settings, motion=MotionSettings(temporal="none")))


def test_ctrl_c_keeps_the_frames_painted(net, clip_mp4, tmp_path):
    out = tmp_path / "painted.mp4"
    cancel = threading.Event()

    def stop_after_two(e) -> None:
        if isinstance(e, ItemDone) and e.kind == "frame" and e.index == 1:
            cancel.set()

    job = Job("fast", {"content": str(clip_mp4)}, FastSettings(net=str(net), quiet=True), motion=MotionSettings(temporal="none"),
              output=str(out))  # fmt: skip
    with pytest.raises(Interrupted) as stopped:
        dreamstyle.run(job, on_event=stop_after_two, cancel=cancel)
    kept = stopped.value.path
    assert kept == tmp_path / "painted.partial.mp4" and not out.exists()
    assert stopped.value.frames == 2 and len(video.read_frames(kept)[0]) == 2


# --- the temporal training loss ----------------------------------------------------------------


def test_the_temporal_term_is_zero_for_a_painter_that_moves_with_the_photo_and_not_otherwise():
    from dreamstyle.engines.fast_temporal import temporal_term

    x = torch.rand(2, 3, 40, 48)
    mix = torch.ones(2, 1)
    same = temporal_term(lambda p, m: p, x, mix, torch.Generator().manual_seed(1))
    stamp = torch.rand(1, 3, 40, 48)  # painted at fixed places on the canvas: it does not move with the photo
    stuck = temporal_term(lambda p, m: 0.5 * p + 0.5 * stamp, x, mix, torch.Generator().manual_seed(1))
    assert float(same) < 1e-10 and float(stuck) > 1e-3, (float(same), float(stuck))


def test_training_with_a_temporal_weight_reports_the_term_and_lowers_it():
    """Two tiny networks from the same seed on the same batches, one with the temporal loss: it
    reports the term at every batch, and ends with a lower term on photos held out of training."""
    from dreamstyle.engines.fast_temporal import temporal_term
    from dreamstyle.media.images import load_image, resize_longest, to_tensor
    from dreamstyle.models.transformer_net import TransformerNet, mix_vector

    nets, reported = {}, []
    for weight in (0.0, 2000.0):
        settings = TrainSettings(**{**TINY, "iterations": 16, "temporal_weight": weight})
        listen = (lambda e: reported.append(e.losses()) if isinstance(e, Step) else None) if weight else None
        file = dreamstyle.run(Job("train", {"styles": [str(SWIRLS)]}, settings), on_event=listen).image
        nets[weight] = TransformerNet(file.styles, file.net_size)
        nets[weight].load_state_dict(file.state_dict)
    assert len(reported) == 16 and all("temporal" in r for r in reported)
    photos = torch.cat([to_tensor(resize_longest(load_image(SAMPLES / n).rgb, 32))[..., :24, :32] for n in ("stripes.png", "mosaic.png")])
    with torch.no_grad():
        term = {w: float(sum(temporal_term(n.eval(), photos, mix_vector(None, 1).expand(2, -1), torch.Generator().manual_seed(k))
                             for k in range(8))) for w, n in nets.items()}  # fmt: skip
    assert term[2000.0] < 0.8 * term[0.0], term


# --- on a local Ray ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray():
    with ray_here() as ray:
        yield ray


def test_the_ray_backend_paints_a_folder_and_a_clip_with_a_network(local_ray, net, folder, frames, tmp_path):
    """The network file reaches the workers as the paintings of the optimisation path do: by its
    path, which every worker must read (here, one machine). A batch of pictures, then the same
    folder as a clip in chunks; each picture is what painting it alone here gives."""
    res = invoke("style", folder, "--net", net, "--device", "cpu", "-o", tmp_path / "batch", "--backend", "ray", "--workers", 2, "-q")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "batch").iterdir()) == [f"f{t:03d}.png" for t in range(FRAMES)]
    for t, frame in enumerate(frames):
        got = tmp_path / "batch" / f"f{t:03d}.png"
        assert Job.from_png(got).ran["net_sha256"] == load_network(net).sha256
        assert np.abs(pixels(got) - alone(frame, net)).max() <= 2, t  # one worker thread vs this process's: rounding at most
    res = invoke("style", folder, "--net", net, "--device", "cpu", "--temporal", "none", "-o", tmp_path / "clip", "--backend", "ray",
                 "--workers", 2, "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    painted = sorted((tmp_path / "clip").iterdir())
    assert [p.name for p in painted] == [f"frame_{t:05d}.png" for t in range(FRAMES)]
    for t, (got, frame) in enumerate(zip(painted, frames)):
        assert Job.from_png(got).is_clip and Job.from_png(got).ran["frame"] == t
        assert np.abs(pixels(got) - alone(frame, net)).max() <= 2, t


def test_the_flicker_bench_scores_a_network_on_clips_with_known_motion(net, tmp_path):
    """bench/fast_video.py at toy size, the network only: warping errors above the input's own,
    a style distance, and frames per second through the whole command."""
    import json

    from bench.fast_video import main

    doc = json.loads(main(["--net", str(net), "--style", str(SWIRLS), "--size", "48", "--frames", "3", "--fps-frames", "3",
                           "--clips", "pan", "--no-optimisation", "--out", str(tmp_path)]).read_text())  # fmt: skip
    pan = doc["clips"]["pan"]
    assert pan["network"]["warping_error"] > pan["input"]["warping_error"] + 1e-5 and pan["network"]["style_distance"] > 0
    assert doc["end_to_end"]["frames"] == 3 and doc["end_to_end"]["fps"] > 0
