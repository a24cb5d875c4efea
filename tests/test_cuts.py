"""Shot changes in a clip (engines/cuts.py, --cuts, --debug-flow): the rule on clips with and
without cuts, --cuts as typed, a clip restarting cleanly at a cut (the frames after it are those
of the second shot run alone), what is recorded and printed, the flow pictures, and cluster
chunks around a cut."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from bench.cluster import chunked
from bench.video import CLIPS
from dreamstyle.cluster.chunks import Chunk, split_clip
from dreamstyle.core.job import Job
from dreamstyle.core.runner import frame_runner
from dreamstyle.core.settings import DreamSettings, MotionSettings, StyleSettings
from dreamstyle.engines import cuts
from dreamstyle.engines.clip import clip_frames, open_source
from dreamstyle.errors import UserError
from dreamstyle.events import ItemDone, Reporter
from dreamstyle.media.images import read_settings
from dreamstyle.media.video import open_clip
from helpers import LITE, SAMPLES, invoke

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "walk-cut.mp4"
STYLE = SAMPLES / "swirls.jpg"


def two_shots(n: int = 3, w: int = 64, h: int = 48) -> list[Image.Image]:
    """A pan over the coffee table, then a hard cut to a pan over the rocket (frame n)."""
    def pan(name: str) -> list[Image.Image]:
        src = Image.open(SAMPLES / name).convert("RGB").resize((w + 3 * n + 8, h + n + 8))
        return [src.crop((3 * t, t, 3 * t + w, t + h)) for t in range(n)]

    return pan("coffee.jpg") + pan("rocket.jpg")


def alternating(every: int, n: int = 24) -> list[Image.Image]:
    a, b = (Image.open(SAMPLES / name).convert("RGB").resize((160, 90)) for name in ("coffee.jpg", "rocket.jpg"))
    return [a if (t // every) % 2 == 0 else b for t in range(n)]


# --- the rule -------------------------------------------------------------------------------


def test_the_fixture_has_its_one_cut_and_no_other():
    frames = list(open_clip(FIXTURE).frames())
    assert cuts.find_cuts(frames) == [24]
    d = cuts.steps([cuts.histogram(f) for f in frames])
    others = d[:23] + d[24:]
    # As measured when the thresholds were chosen (cuts.py): 0.94 at the cut, <= 0.09 elsewhere.
    assert d[23] > 2 * cuts.ABSOLUTE and max(others) < cuts.ABSOLUTE / 2, (d[23], max(others))


@pytest.mark.parametrize("name", sorted(CLIPS))
@pytest.mark.parametrize("w, h", [(160, 90), (64, 48)])
def test_a_pan_a_zoom_and_a_moving_thing_are_no_cut(name, w, h):
    frames, _, _ = CLIPS[name](24, w, h)
    assert cuts.find_cuts(frames) == []


@pytest.mark.parametrize("every", [3, 4, 6])
def test_two_photos_alternating_cut_at_every_change(every):
    assert cuts.find_cuts(alternating(every)) == list(range(every, 24, every))


def test_a_flash_and_a_slow_fade_are_no_cut_but_a_quick_dissolve_is():
    frames, _, _ = CLIPS["pan"](16, 160, 90)
    flash = list(frames)
    for t in (6, 10, 11):  # a one-frame and a two-frame flash
        flash[t] = ImageEnhance.Brightness(flash[t]).enhance(2.5)
    assert cuts.find_cuts(flash) == []
    rocket = Image.open(SAMPLES / "rocket.jpg").convert("RGB").resize((160, 90))
    fade = [Image.blend(f, rocket, min(1.0, max(0.0, (t - 4) / 8))) for t, f in enumerate(frames)]
    assert cuts.find_cuts(fade) == []
    dissolve = [Image.blend(f, rocket, min(1.0, max(0.0, (t - 4) / 3))) for t, f in enumerate(frames)]
    assert cuts.find_cuts(dissolve) == [5, 6, 7]


def test_the_scan_is_fast():
    import time

    frames = list(open_clip(FIXTURE).frames())
    start = time.perf_counter()
    cuts.find_cuts(frames)
    assert (time.perf_counter() - start) / len(frames) < 0.01  # measured ~0.2 ms a frame


# --- --cuts as typed ------------------------------------------------------------------------


def test_cuts_are_normalised_so_the_same_cuts_make_the_same_job():
    assert MotionSettings(cuts=" 40, 12,12").cuts == "12,40"
    assert MotionSettings(cuts="AUTO").cuts == "auto" and MotionSettings(cuts="none").cuts == "none"
    assert MotionSettings().cuts == "auto"
    for bad, needle in (("12,x", "is not auto, none or a list"), ("", "--cuts is empty"), ("0", "not a frame after the first"),
                        ("-3", "not a frame after the first")):  # fmt: skip
        with pytest.raises(UserError, match=needle):
            MotionSettings(cuts=bad)


@pytest.mark.parametrize("args, needle", [
    (["--cuts", "4,x"], "--cuts '4,x' is not auto, none or a list of frame numbers"),
    (["--cuts", "0"], "--cuts 0 is not a frame after the first"),
    (["--cuts", "9"], "--cuts 9 is past the clip's last frame, 5"),
    (["--debug-flow", "dbg", "--temporal", "blend"], "--debug-flow shows the optical flow"),
])  # fmt: skip
def test_bad_cuts_are_one_line_and_exit_2(tmp_path, args, needle):
    src = tmp_path / "clip.gif"
    from dreamstyle.media.video import write_frames

    write_frames(two_shots(), src, fps=5)
    args = [a if a != "dbg" else str(tmp_path / "dbg") for a in args]
    res = invoke("style", src, STYLE, "-o", tmp_path / "o.gif", *args, *LITE, "--size", "48", "--steps", "1", "-q")
    assert res.exit_code == 2 and needle in res.output and "Traceback" not in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1 and res.output.startswith("error: ") and " — " in res.output
    assert not (tmp_path / "o.gif").exists() and not (tmp_path / "dbg").exists()


def test_a_network_takes_cuts_and_records_them_but_not_debug_flow(tmp_path):
    from dreamstyle.core.planning import clip_motion

    assert clip_motion("fast", {"cuts": "12,4"}).cuts == "4,12"
    assert clip_motion("fast", {}, {"cuts": "7"}).cuts == "7"  # --from a network's clip frame
    with pytest.raises(UserError, match="--debug-flow"):
        clip_motion("fast", {"debug_flow": "dbg"})


# --- a clean restart ------------------------------------------------------------------------


def style_job(frames, **motion) -> Job:
    s = StyleSettings(model="efficientnet-lite0", size=48, steps=3, quiet=True)
    return Job("style", {"content": frames, "styles": [str(STYLE)]}, s, motion=MotionSettings(**motion))


def made(job, lite, events=None) -> list[Image.Image]:
    return list(clip_frames(job, open_source(job), Reporter(events.append if events is not None else None), frame_runner(lite)))


def test_after_a_cut_a_style_clip_is_the_second_shot_run_alone(lite):
    frames = two_shots()
    events = []
    whole = made(style_job(frames), lite, events)
    alone = made(style_job(frames[3:]), lite)
    assert [f.tobytes() for f in whole[3:]] == [f.tobytes() for f in alone]
    assert whole[3].tobytes() != whole[2].tobytes()
    ran = whole[4].info["dreamstyle"]["ran"]
    assert ran["cuts"] == [3] and ran["frame"] == 4 and whole[4].info["dreamstyle"]["motion"]["cuts"] == "auto"
    notes = [e.message for e in events if isinstance(e, ItemDone) and e.kind == "note"]
    assert notes == ["new shot starts at frame 3: nothing is carried across (--cuts none to hold them together)"]
    held = made(style_job(frames, cuts="none"), lite)  # held across the cut: frame 3 starts from frame 2
    assert [f.tobytes() for f in held[:3]] == [f.tobytes() for f in whole[:3]]
    assert held[3].tobytes() != alone[0].tobytes() and held[3].info["dreamstyle"]["ran"]["cuts"] == []


def test_a_given_cut_restarts_there_and_passes_never_cross_it(lite):
    frames = two_shots(2)  # the real cut at 2; --cuts 1 puts another one where there is none
    whole = made(style_job(frames, passes=2, cuts="1,2"), lite)
    shots = [made(style_job(frames[a:b], passes=2), lite) for a, b in ((0, 1), (1, 2), (2, 4))]
    assert [f.tobytes() for f in whole] == [f.tobytes() for shot in shots for f in shot]
    assert whole[0].info["dreamstyle"]["ran"]["cuts"] == [1, 2]


def test_a_dream_clip_restarts_at_a_cut(lite):
    s = DreamSettings(model="efficientnet-lite0", size=48, steps=2, octaves=1, lr=0.05, quiet=True)
    frames = two_shots()
    whole = made(Job("dream", {"image": frames}, s, motion=MotionSettings()), lite)
    alone = made(Job("dream", {"image": frames[3:]}, s, motion=MotionSettings()), lite)
    assert [f.tobytes() for f in whole[3:]] == [f.tobytes() for f in alone]


def test_without_a_temporal_state_auto_looks_for_nothing_and_a_list_is_recorded(lite):
    s = DreamSettings(model="efficientnet-lite0", size=48, steps=1, octaves=1, quiet=True)
    frames = two_shots(2)
    auto = made(Job("dream", {"image": frames}, s, motion=MotionSettings(temporal="none")), lite)
    given = made(Job("dream", {"image": frames}, s, motion=MotionSettings(temporal="none", cuts="2")), lite)
    assert "cuts" not in auto[0].info["dreamstyle"]["ran"] and given[0].info["dreamstyle"]["ran"]["cuts"] == [2]
    assert [f.tobytes() for f in auto] == [f.tobytes() for f in given]


# --- the command line: note, record, --from, --debug-flow -----------------------------------


def test_the_cli_notes_records_and_reruns_the_cuts_and_writes_the_flow(tmp_path):
    src = tmp_path / "frames"
    src.mkdir()
    for t, f in enumerate(two_shots()):
        f.save(src / f"f{t:02d}.png")
    out, dbg, tiny = tmp_path / "out", tmp_path / "dbg", [*LITE, "--size", "48", "--steps", "2"]
    res = invoke("style", src, STYLE, "--temporal", "flow", "-o", out, "--debug-flow", dbg, *tiny)
    assert res.exit_code == 0, res.output
    assert "note: new shot starts at frame 3" in res.output
    meta = read_settings(out / "frame_00004.png")
    assert meta["ran"]["cuts"] == [3] and meta["motion"]["cuts"] == "auto" and meta["motion"]["debug_flow"] is None
    names = sorted(p.name for p in dbg.iterdir())
    assert names == ["cuts.txt", *[f"flow_{t:05d}.png" for t in (1, 2, 4, 5)], *[f"mask_{t:05d}.png" for t in (1, 2, 4, 5)]]
    assert (dbg / "cuts.txt").read_text().splitlines()[1:] == ["3"]
    size = Image.open(out / "frame_00001.png").size
    for t in (1, 4):
        flow, mask = Image.open(dbg / f"flow_{t:05d}.png"), Image.open(dbg / f"mask_{t:05d}.png")
        assert flow.size == size and flow.mode == "RGB" and mask.size == size and mask.mode == "L"
        m = np.asarray(mask)
        assert m.max() == 255 and m.mean() > 128  # a pan: mostly trusted, the entering strip not
        assert np.asarray(flow.convert("HSV"))[..., 2].mean() > 20  # it moves: not black
    # An existing, non-empty folder is refused like an output, and --force overwrites it.
    res = invoke("style", src, STYLE, "--temporal", "flow", "-o", tmp_path / "again", "--debug-flow", dbg, *tiny)
    assert res.exit_code == 2 and "--debug-flow folder" in res.output and "--force" in res.output, res.output
    assert not (tmp_path / "again").exists()
    # --from a frame makes the same clip, with the same cuts.
    res = invoke("style", "--from", out / "frame_00004.png", "-o", tmp_path / "again", "-q")
    assert res.exit_code == 0, res.output
    for t in range(6):
        name = f"frame_{t:05d}.png"
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


# --- cluster chunks -------------------------------------------------------------------------


def test_a_lead_in_never_reaches_back_across_a_cut():
    chunks = split_clip(24, 1, warmup=3, length=8, cuts=[6, 16])
    assert [(c.first, c.last, c.warmup) for c in chunks] == [(0, 8, 0), (8, 16, 2), (16, 24, 0)]
    assert all(c.cuts == (6, 16) for c in chunks)
    for c in chunks:  # the frames a lead-in overlaps (and the join fades over) are of one shot
        assert not any(c.first - c.warmup < cut <= c.first for cut in (6, 16)) or c.warmup == 0
    assert [c.warmup for c in split_clip(24, 1, warmup=3, length=8)] == [0, 3, 3]  # no cuts: as before
    # As a worker reads its chunk, and the driver a kept plan (chunks.json): the cuts come back.
    assert [Chunk(**json.loads(json.dumps(asdict(c)))) for c in chunks] == chunks


def test_a_clip_made_in_chunks_restarts_at_its_cut_and_joins_to_the_whole(lite):
    """Chunks (0-1), (2-3) with lead-in 0-1, (4-5) with lead-in 3 only (the cut is at 3): every
    chunk restarts where the whole clip does, so the joined clip is the whole one, bit for bit."""
    s = DreamSettings(model="efficientnet-lite0", size=48, steps=2, octaves=1, lr=0.05, quiet=True)
    job = Job("dream", {"image": two_shots()}, s, motion=MotionSettings())
    chunks = split_clip(6, 1, warmup=3, length=2, cuts=[3])
    assert [(c.first, c.warmup) for c in chunks] == [(0, 0), (2, 2), (4, 1)]
    joined = chunked(job, chunks, modes=("fade",))["fade"]
    whole = made(job, lite)
    assert [f.tobytes() for f in joined] == [f.convert("RGB").tobytes() for f in whole]
    assert all(f.info["dreamstyle"]["ran"]["cuts"] == [3] for f in joined)
