"""A GIF carries its Job, as a PNG and an MP4 do: in the GIF's comment extension. `info` reads a
zoom's GIF, and `zoom --from` makes it again with the flags typed on top."""

from __future__ import annotations

from dreamstyle.core.job import Job
from dreamstyle.media.video import read_frames
from helpers import LITE, SAMPLES, invoke

ZOOM = [*LITE, "--size", "48", "--octaves", "1", "--steps", "1", "--frames", "2", "-q"]


def test_a_zoom_gif_carries_its_job_for_info_and_from(tmp_path):
    gif = tmp_path / "zoom.gif"
    res = invoke("zoom", SAMPLES / "cat.jpg", *ZOOM, "--zoom", "1.1", "-o", gif)
    assert res.exit_code == 0, res.output
    job = Job.from_png(gif)
    assert job.engine == "zoom" and job.motion.frames == 2 and job.motion.zoom == 1.1 and job.settings.size == 48
    assert "frame" not in job.ran  # the whole clip's record, not its first frame's

    res = invoke("info", gif)
    assert res.exit_code == 0, res.output
    assert res.output.startswith("made by  dreamstyle zoom") and f"dreamstyle zoom --from {gif}" in res.output

    res = invoke("zoom", "--from", gif, "--frames", "3", "-q")
    assert res.exit_code == 0, res.output
    again = tmp_path / "zoom-2.gif"
    assert res.output.strip() == f"saved {again}"
    made = Job.from_png(again)
    assert made.motion.frames == 3 and made.motion.zoom == 1.1 and made.settings == job.settings
    assert len(read_frames(again)[0]) == 3
