"""Ctrl-C as a user meets it: a real process started through the console entry point, SIGINT as
a terminal sends it. Every engine keeps the work so far beside the output, with its settings,
and exits 130; a second Ctrl-C ends the process at once. (Dream's own case is in test_cli.py.)"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time

import imageio_ffmpeg
import pytest
from PIL import Image

from dreamstyle.media import video
from dreamstyle.media.images import read_settings
from helpers import LITE, SAMPLES, cli_process, ctrl_c, wait_for

CAT = SAMPLES / "cat.jpg"
SWIRLS = SAMPLES / "swirls.jpg"
# The progress bar past its first step: the run is under way and a picture exists. (The bar
# appears before the targets are computed; a Ctrl-C then has nothing to save yet.)
STEPPED = r"{} efficientnet-lite0.*\b[1-9]\d*/100000\b"


def video_settings(path) -> dict:
    """The settings JSON an MP4 carries in its `comment` tag, read back with ffmpeg."""
    meta = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    for line in meta.splitlines():
        if line.startswith("comment="):
            # ffmetadata escapes =, ;, #, \ and newlines with a backslash.
            return json.loads(re.sub(r"\\(.)", r"\1", line[len("comment=") :]))
    raise AssertionError(f"no comment tag in {path}:\n{meta}")


def finished(err: str) -> int:
    """How many finished frames the interrupted message says were kept."""
    said = re.search(r"\b(\d+) finished frames\b", err)
    assert said, err
    return int(said.group(1))


def test_ctrl_c_in_style_keeps_the_partial_picture_with_settings(tmp_path):
    out = tmp_path / "s.png"
    proc = cli_process("style", CAT, SWIRLS, *LITE, "--size", 128, "--steps", 100000, "-o", out)
    wait_for(proc, STEPPED.format("style"))
    err = ctrl_c(proc)
    assert proc.returncode == 130, err
    partial = tmp_path / "s.partial.png"
    assert sorted(tmp_path.iterdir()) == [partial] and str(partial) in err, err
    assert max(Image.open(partial).size) == 128
    meta = read_settings(partial)
    assert meta["engine"] == "style" and meta["settings"]["steps"] == 100000


def test_ctrl_c_in_zoom_keeps_the_finished_frames_as_a_partial_video(tmp_path):
    out = tmp_path / "z.mp4"
    proc = cli_process("zoom", CAT, "--frames", 1000, *LITE, "--size", 64, "--octaves", 1, "--steps", 2, "-o", out)
    wait_for(proc, r"zoom efficientnet-lite0.*\b(?:[2-9]|[1-9]\d+)/1000\b")  # two frames done
    err = ctrl_c(proc)
    assert proc.returncode == 130, err
    partial = tmp_path / "z.partial.mp4"
    assert sorted(tmp_path.iterdir()) == [partial] and str(partial) in err, err
    frames, _ = video.read_frames(partial)
    # It plays, and holds the frames the message says were finished (at least one: the bar had
    # counted two before the Ctrl-C).
    assert 1 <= len(frames) == finished(err) and all(f.width == 64 for f in frames)
    settings = video_settings(partial)["settings"]
    assert settings["size"] == 64 and settings["steps"] == 2


def test_ctrl_c_in_a_video_keeps_the_finished_frames_in_the_folder(tmp_path):
    frame = Image.open(CAT).convert("RGB").resize((64, 48))
    clip = video.write_frames([frame] * 60, tmp_path / "clip.mp4", fps=12)
    out = tmp_path / "frames"
    # 60 frames at 40 steps each: about a minute, far longer than the test waits.
    proc = cli_process("dream", clip, *LITE, "--size", 64, "--octaves", 1, "--steps", 40, "-o", out)
    wait_for(proc, r"dream efficientnet-lite0.*\b(?:[2-9]|[1-9]\d+)/60\b")  # two frames done
    err = ctrl_c(proc)
    assert proc.returncode == 130, err
    # A folder of frames is its own partial: the finished frames stay, each with its settings.
    assert sorted(tmp_path.iterdir()) == [clip, out] and str(out) in err, err
    frames = sorted(out.iterdir())
    assert 1 <= len(frames) == finished(err) < 60
    assert [f.name for f in frames] == [f"frame_{i:05d}.png" for i in range(len(frames))]
    assert all(read_settings(f)["settings"]["steps"] == 40 for f in frames)


# Stands in for a save that takes minutes (a huge picture, a stalled disk) or any long native
# call: a Python-level KeyboardInterrupt cannot cut it short, only the OS's default action can.
SLOW_SAVE = """
import sys, time
import PIL.Image

def save_that_only_the_default_action_can_stop(self, *args, **kwargs):
    print("saving slowly", file=sys.stderr, flush=True)
    while True:
        try:
            time.sleep(0.05)
        except KeyboardInterrupt:
            pass

PIL.Image.Image.save = save_that_only_the_default_action_can_stop
"""


def test_a_second_ctrl_c_ends_the_run_at_once(tmp_path):
    out = tmp_path / "s.png"
    proc = cli_process("style", CAT, SWIRLS, *LITE, "--size", 128, "--steps", 100000, "--optimizer", "adam", "-o", out, prelude=SLOW_SAVE)
    wait_for(proc, STEPPED.format("style"))
    proc.send_signal(signal.SIGINT)  # the first: stop and save what exists ...
    wait_for(proc, "saving slowly", timeout=30)  # ... which now would never finish
    start = time.time()
    proc.send_signal(signal.SIGINT)  # the second must end the process now
    try:
        proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("a second Ctrl-C did not end the process")
    assert time.time() - start < 5
    assert proc.returncode in (130, -signal.SIGINT)
    assert not out.exists()
