"""The CPU thread count: it changes a CPU run's bytes, so it is a setting (--threads), the record
holds the count that ran (with the CPU's vector instructions), and `--from` runs with the recorded
count whatever this process's own is (core/threads.py). The Ray side (workers computing with the
driver's count) is in test_cluster.py."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch

from dreamstyle.core.job import Job
from dreamstyle.core.threads import applied, pinned, rerun_notes
from dreamstyle.media.images import read_settings
from helpers import invoke, pixels

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# The smallest dream measured to come out otherwise with 1 thread than with 2 on this machine's CPU
# (AVX512, torch 2.14): 15 of 32,640 values, 1 level each; at 64 px, or one step, the sums happened
# to round alike. A 256 px default dream differs by 11 levels on average.
SHOWS = ["--model", "efficientnet-lite0", "--size", 128, "--steps", 2, "--octaves", 1, "--lr", 0.05, "--device", "cpu"]


@contextlib.contextmanager
def process_threads(n: int):
    """This process computing with `n` threads (as OMP_NUM_THREADS=n would start it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.mark.cpu(reason="compares CPU bytes")
def test_the_recorded_thread_count_makes_the_same_bytes_whatever_the_process_runs(tmp_path):
    made = {}
    for n in (1, 2):
        made[n] = tmp_path / f"t{n}.png"
        res = invoke("dream", SAMPLES / "cat.jpg", *SHOWS, "--threads", n, "-q", "-o", made[n])
        assert res.exit_code == 0, res.output
        record = read_settings(made[n])
        assert record["settings"]["threads"] == n
        assert record["ran"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    # At this size the count shows: the two pictures are not the same.
    assert np.abs(pixels(made[1]) - pixels(made[2])).max() > 0
    # --from runs with the recorded count, not this process's: the same file, byte for byte.
    for n, other in ((1, 2), (2, 1)):
        again = tmp_path / f"again{n}.png"
        with process_threads(other):
            res = invoke("dream", "--from", made[n], "-q", "-o", again)
            assert torch.get_num_threads() == other  # the run's count is its own, and undone after it
        assert res.exit_code == 0, res.output
        assert again.read_bytes() == made[n].read_bytes(), n
    # A count typed over the recorded one wins, and says the picture may differ.
    over = tmp_path / "over.png"
    res = invoke("dream", "--from", made[1], "--threads", 2, "-o", over)
    assert res.exit_code == 0, res.output
    assert "note: --threads 2 instead of the 1 recorded" in res.output
    assert np.array_equal(pixels(over), pixels(made[2]))
    res = invoke("dream", "--from", made[1], "--threads", 2, "-q", "-o", tmp_path / "quiet.png")
    assert res.exit_code == 0 and res.output == ""  # -q: not a word
    # Left out, the count is this process's, and recorded as such.
    default = tmp_path / "default.png"
    with process_threads(1):
        assert invoke("dream", SAMPLES / "cat.jpg", *SHOWS, "-q", "-o", default).exit_code == 0
    assert default.read_bytes() == made[1].read_bytes()


def test_a_rerun_says_what_else_differs_from_where_it_was_made():
    here = torch.backends.cpu.get_cpu_capability()
    other = "AVX2" if here != "AVX2" else "AVX512"
    assert rerun_notes({"cpu_capability": here, "torch": torch.__version__}, 2, None) == []
    assert rerun_notes({"cpu_capability": here, "torch": torch.__version__}, 2, 2) == []
    notes = rerun_notes({"cpu_capability": other, "torch": "1.0.0"}, 2, 3)
    assert [n.split(":")[0] for n in notes] == ["--threads 3 instead of the 2 recorded", f"it was made on a CPU with {other}, this one runs {here}",
                                                f"it was made with torch 1.0.0, this is torch {torch.__version__}"]  # fmt: skip
    assert rerun_notes(None, None, 4) == []  # an output made before the count was recorded


def test_a_run_computes_with_its_count_and_a_job_for_elsewhere_names_it():
    with process_threads(2):
        with applied(1) as n:
            assert n == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with applied(None) as n:
            assert n == 2
        job = Job.from_json(Job("dream", {"image": "cat.jpg"}, _dream()).to_json())
        assert pinned(job).settings.threads == 2 and job.settings.threads is None
        assert pinned(pinned(job).replace(settings=_dream(threads=1))).settings.threads == 1  # named: kept


def _dream(**kw):
    from dreamstyle.core.settings import DreamSettings

    return DreamSettings(model="efficientnet-lite0", **kw)


def test_threads_out_of_range_is_one_line_and_nothing_written(tmp_path):
    out = tmp_path / "x.png"
    res = invoke("dream", SAMPLES / "cat.jpg", "--threads", 0, "-o", out)
    assert res.exit_code == 2 and res.output.strip().splitlines() == ["error: --threads 0 is out of range — use a positive number up to 1024"]
    assert not out.exists()


def test_every_command_that_takes_a_device_takes_threads():
    import typer

    from dreamstyle.cli.app import app

    def walk(cmd, path=()):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, (*path, name))
        else:
            yield " ".join(path), {o for p in cmd.params for o in getattr(p, "opts", [])}

    found = dict(walk(typer.main.get_command(app)))
    on_a_device = sorted(c for c, opts in found.items() if "--device" in opts)
    assert {"dream", "style", "zoom", "train", "regions", "explore", "visualize maps", "visualize top"} <= set(on_a_device)
    assert [c for c in on_a_device if "--threads" not in found[c]] == []
