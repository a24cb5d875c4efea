"""--backend ray: batches, sweeps and clips on a Ray cluster's workers (dreamstyle/cluster/).

One local Ray for the whole module (2 CPUs, 2 logical GPUs, no dashboard, a small object store,
on 127.0.0.1 only); each run on it starts its worker processes afresh, which costs seconds on
this machine, so the tests that need it are few and each asks several questions. The tests
without Ray (the chunks, the option checks) come first.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
from pathlib import Path

import pytest
import torch
from PIL import Image

from bench.cluster import chunked, pan_frames, seam_ratio
from dreamstyle.core.batch import run_batch
from dreamstyle.cluster import run_batch_on_ray, run_clip_on_ray
from dreamstyle.cluster.chunks import split_clip
from dreamstyle.cluster.reach import probes, sees
from dreamstyle.cluster.session import plan_pool
from dreamstyle.cluster.worker import TEST_KILL
from dreamstyle.errors import Interrupted, UserError
from dreamstyle.events import ItemDone
from dreamstyle.media.images import read_settings
from dreamstyle.core.planning import plan, sweep_plan
from dreamstyle.core.job import Job
from dreamstyle.core.runner import run
from dreamstyle.core.settings import ClusterSettings, DreamSettings, MotionSettings, StyleSettings
from helpers import DREAM_MOVES, invoke, moved, pixels
from helpers import local_ray as ray_here

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
PHOTOS = ("cat.jpg", "coffee.jpg", "rocket.jpg", "astronaut.jpg", "stripes.png", "mosaic.png")
# One step at --lr 0.05 moves the pixels far above resize noise (helpers.DREAM_MOVES). On the CPU
# whatever the test device: the cluster's GPUs are logical ones (see local_ray).
FAST = DreamSettings(model="efficientnet-lite0", size=64, steps=1, octaves=1, lr=0.05, device="cpu", quiet=True)
RAY = ClusterSettings(backend="ray", workers=2)


def photos(folder: Path, names=PHOTOS) -> Path:
    folder.mkdir()
    for name in names:
        shutil.copy(SAMPLES / name, folder / name)
    return folder


# --- without Ray -----------------------------------------------------------------------------


def test_chunks_cover_the_clip_once_each_with_a_lead_in():
    for count, workers in ((1, 1), (10, 2), (100, 2), (240, 8), (7, 64)):
        chunks = split_clip(count, workers)
        assert [n for c in chunks for n in c.frames] == list(range(count))
        assert chunks[0].warmup == 0 and all(c.warmup == min(3, c.first) for c in chunks)
        lengths = [len(c.frames) for c in chunks]
        assert max(lengths) - min(lengths) <= 1
    assert len(split_clip(240, 8)) == 16  # two a worker, so a fast worker takes more
    assert len(split_clip(100, 64)) == 9  # but at least 4 lead-ins long: the lead-in costs <= 1/4 more


def test_a_chunked_clip_fades_its_seams_in(lite):
    """A pan made in two chunks: where a chunk starts cold, or runs its lead-in and drops it, the
    step between the two frames across the seam is ~1.26x a step inside a chunk (the patterns a
    run grows depend on its whole history, so a lead-in cannot rebuild the same ones); faded
    over the lead-in, no step at the seam is larger than one inside (measured 0.99)."""
    frames = pan_frames(16)
    s = DreamSettings(model="efficientnet-lite0", size=64, steps=3, octaves=1, lr=0.05, jitter=4, quiet=True)
    job = Job("dream", {"image": frames}, s, motion=MotionSettings(blend=0.5))
    chunks = split_clip(16, 1, warmup=3, length=8)
    assert [(c.first, c.warmup) for c in chunks] == [(0, 0), (8, 3)]
    made = chunked(job, chunks, modes=("drop", "fade"))
    dropped, _ = seam_ratio(made["drop"], frames, [8], 3)
    faded, inside = seam_ratio(made["fade"], frames, [8], 3)
    assert inside > DREAM_MOVES  # the frames really were dreamed
    assert dropped > 1.15 and faded < 1.1, (dropped, faded)


def test_options_are_checked_before_anything_runs(tmp_path):
    folder = photos(tmp_path / "in", PHOTOS[:1])
    res = invoke("dream", folder, "-o", tmp_path / "o", "--workers", 2, "-q")
    assert res.exit_code == 2 and "--workers applies to --backend ray" in res.output
    res = invoke("dream", folder, "-o", tmp_path / "o", "--backend", "rey", "-q")
    assert res.exit_code == 2 and "did you mean 'ray'" in res.output
    res = invoke("dream", SAMPLES / "cat.jpg", "-o", tmp_path / "one.png", "--backend", "ray", "-q")
    assert res.exit_code == 2 and "runs batches, sweeps and clips" in res.output
    assert not (tmp_path / "one.png").exists()
    with pytest.raises(UserError, match="need 4 GPUs, and the cluster has 2"):
        plan_pool({"CPU": 8, "GPU": 2}, ClusterSettings(backend="ray", workers=4))
    assert plan_pool({"CPU": 8, "GPU": 2}, ClusterSettings(backend="ray")).workers == 2  # one per GPU
    assert plan_pool({"CPU": 3}, ClusterSettings(backend="ray")).gpus == 0  # no GPUs: CPU workers
    assert plan_pool({"CPU": 16, "GPU": 2}, ClusterSettings(backend="ray", gpus_per_worker=0.5)).workers == 4


def test_without_ray_installed_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were missing
    res = invoke("dream", photos(tmp_path / "in", PHOTOS[:1]), "-o", tmp_path / "o", "--backend", "ray", "-q")
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == ["error: --backend ray needs Ray Data (ray is missing) — install it: pip install 'dreamstyle[ray]'"]


def test_a_worker_writes_only_where_it_finds_the_drivers_probe(tmp_path):
    with probes([tmp_path], "auto") as token:
        assert sees(tmp_path, token) and not sees(tmp_path, "another run")
        elsewhere = tmp_path / "same name, other disk"
        elsewhere.mkdir()
        assert not sees(elsewhere, token)
    assert not sees(tmp_path, token) and list(tmp_path.iterdir()) == [elsewhere]  # the probe is gone
    with probes([tmp_path], "driver") as token:
        assert token == ""


def test_a_sweep_is_one_job_per_weight_and_photo(tmp_path):
    s = StyleSettings(model="efficientnet-lite0", size=64)
    todo = sweep_plan(photos(tmp_path / "in", PHOTOS[:2]), s, "10,1000", inputs={"styles": [str(SAMPLES / "swirls.jpg")]})
    assert todo.kind == "batch" and todo.outdir == tmp_path / "in-sweep"
    assert [(Path(j.output).name, j.settings.style_weight) for j in todo.jobs] == [
        ("cat-sw10.png", 10), ("cat-sw1000.png", 1000), ("coffee-sw10.png", 10), ("coffee-sw1000.png", 1000)]  # fmt: skip
    with pytest.raises(UserError, match="needs an output folder"):
        sweep_plan(str(tmp_path / "in" / "*.jpg"), s, "10")


# --- on a local Ray ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kill_file(tmp_path_factory) -> Path:
    """The test-only hook (cluster/worker.py): which items make their worker kill itself."""
    path = tmp_path_factory.mktemp("kill") / "kill.json"
    path.write_text("{}")
    return path


@pytest.fixture(scope="module")
def local_ray(kill_file):
    with ray_here({TEST_KILL: str(kill_file)}) as ray:
        yield ray


def local_bytes(jobs, out: Path) -> dict[str, bytes]:
    """What the local backend writes for `jobs` (into `out`), with this process's thread count,
    which the driver sent the workers (test_threads_and_errors_are_the_local_batchs shows it matters)."""
    out.mkdir()
    run_batch([j.replace(output=str(out / Path(j.output).name)) for j in jobs])
    return {p.name: p.read_bytes() for p in out.iterdir()}


@pytest.mark.cpu(reason="compares with the local backend's bytes")
def test_a_batch_on_two_workers_survives_dying_workers_and_resumes(local_ray, kill_file, tmp_path):
    """Six photos and two bad items on two workers. cat.jpg kills its worker once (retried,
    written); doomed.jpg kills every worker it lands on (reported lost after 1 + 1 tries);
    broken.jpg is no picture (reported, tried once). Every picture written is the local
    backend's, byte for byte, Job included. Then the same batch again makes only what is
    missing, and a third time nothing at all."""
    folder = photos(tmp_path / "in")
    shutil.copy(SAMPLES / "coffee.jpg", folder / "doomed.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    kill_file.write_text(json.dumps({"cat": "once", "doomed": "always", "broken": "count"}))
    jobs = plan("dream", folder, FAST, output=tmp_path / "out").jobs
    result = run_batch_on_ray(jobs, RAY, retries=1)
    assert result.summary() == "6 written, 0 already there, 2 failed", result.failed
    failed = dict(result.failed)
    assert failed[str(folder / "doomed.jpg")].startswith("lost: the worker running it died 2 times")
    assert str(folder / "broken.jpg") in failed[str(folder / "broken.jpg")]
    tries = {stem: Path(f"{kill_file}.{stem}.tries").read_text().split() for stem in ("cat", "doomed", "broken")}
    assert len(tries["cat"]) == 2 and len(set(tries["cat"])) == 2  # killed once, then made by a new process
    assert len(tries["doomed"]) == 2  # bounded: given up after its retry, never hanging
    assert len(tries["broken"]) == 1  # an application error is not retried
    ran = [s for s in result.items if s.pid]
    assert len({s.pid for s in ran}) >= 2 and result.workers == 2  # two worker processes (and their restarts)
    assert all(s.loads == 1 and s.by == "worker" for s in ran)  # each loaded the model once, wrote itself
    local = local_bytes(jobs, tmp_path / "local")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(n for n in local if n != "doomed.png")
    for job in jobs:
        out = Path(job.output)
        if out.name in ("broken.png", "doomed.png"):
            continue
        assert out.read_bytes() == local[out.name], out.name
        made = Job.from_png(out)  # every output carries its Job, as the engine ran it
        assert (made.engine, made.inputs, made.settings.size) == ("dream", job.inputs, 64)
        assert moved(out, job.inputs["image"]) > DREAM_MOVES
    # Whatever killed doomed's workers is gone: the same batch makes only what is missing, here
    # on one worker that hands its picture back for the driver to write (as when the workers
    # cannot see the output folder).
    kill_file.write_text("{}")
    (folder / "broken.jpg").unlink()
    jobs = plan("dream", folder, FAST, output=tmp_path / "out").jobs
    again = run_batch_on_ray(jobs, ClusterSettings(backend="ray", workers=1), write_by="driver")
    assert again.summary() == "1 written, 6 already there, 0 failed"
    assert [s.by for s in again.items] == ["driver"]
    assert (tmp_path / "out" / "doomed.png").read_bytes() == local["doomed.png"]
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}
    # And again from the command line: nothing to do, no worker started; said as a batch says it.
    res = invoke("dream", folder, "-o", tmp_path / "out", "--model", "efficientnet-lite0", "--size", 64, "--steps", 1,
                 "--octaves", 1, "--lr", 0.05, "--device", "cpu", "--backend", "ray", "--workers", 2, "-v")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "0 written, 7 already there, 0 failed" in res.output and "no item ran on the cluster" in res.output
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()} == before


@pytest.mark.cpu(reason="compares with the local backend's bytes")
def test_a_clip_in_chunks_on_two_workers_is_the_local_clip_also_after_a_cancel(local_ray, tmp_path):
    """Independent frames (--blend 0) make the same pictures however the clip is cut, so the
    chunks, their lead-ins, the cross-fade and the join must give the local clip's bytes. A run
    cancelled (as Ctrl-C does) once a chunk is in keeps it; the same run again finishes the clip."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, frame in enumerate(pan_frames(10)):
        frame.save(folder / f"f{t:03d}.png")
    job = Job("dream", {"image": str(folder)}, FAST, motion=MotionSettings(blend=0.0), output=str(tmp_path / "ray"))
    cancel = threading.Event()

    def stop_after_a_chunk(event) -> None:
        if isinstance(event, ItemDone) and event.kind == "frame":
            cancel.set()

    with pytest.raises(Interrupted) as stopped:
        run_clip_on_ray(job, RAY, chunk_frames=4, warmup=2, on_event=stop_after_a_chunk, cancel=cancel)
    kept = sorted(p.name for p in stopped.value.path.glob("frame_*.png"))
    assert len(kept) >= 3 and not (tmp_path / "ray").exists()  # at least the chunk that came in (3-4 frames)
    result = run_clip_on_ray(job, RAY, chunk_frames=4, warmup=2)
    assert result.frames == 10
    run(job.replace(output=str(tmp_path / "local")))  # with this process's thread count, as the workers were told
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert names == [f"frame_{n:05d}.png" for n in range(10)]
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == names
    for name in names:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    assert read_settings(tmp_path / "ray" / "frame_00007.png")["ran"]["frame"] == 7
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # the chunks' folder is gone
    with Image.open(tmp_path / "ray" / "frame_00005.png") as img:
        assert moved(img, pan_frames(10)[5]) > DREAM_MOVES


@pytest.mark.cpu(reason="compares with the local backend's bytes")
def test_threads_and_errors_are_the_local_batchs(local_ray, tmp_path):
    """From the command line, a picture at a size where the thread count shows and one that is no
    picture, here and on a worker (which Ray starts with one thread, as a 1-CPU actor). The driver
    runs two threads and sends its count in the Job, so the worker's picture is the local one,
    byte for byte; with the worker's own count it would not be. The bad item's error line is the
    local batch's, word for word: the path said once."""
    folder = photos(tmp_path / "in", ("cat.jpg",))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    shows = ["--model", "efficientnet-lite0", "--size", 128, "--steps", 2, "--octaves", 1, "--lr", 0.05, "--device", "cpu", "-q"]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        local = invoke("dream", folder, "-o", tmp_path / "local", *shows)
        on_ray = invoke("dream", folder, "-o", tmp_path / "ray", *shows, "--backend", "ray", "--workers", 1)
    finally:
        torch.set_num_threads(threads)
    assert local.exit_code == on_ray.exit_code == 2, (local.output, on_ray.output)

    def errors(res) -> list[str]:
        return [line for line in res.output.splitlines() if line.startswith("error:")]

    broken = str(folder / "broken.jpg")
    assert errors(on_ray) == errors(local) and len(errors(local)) == 1, (errors(local), errors(on_ray))
    assert errors(local)[0].startswith(f"error: {broken} ") and errors(local)[0].count(broken) == 1
    made = tmp_path / "ray" / "cat.png"
    assert made.read_bytes() == (tmp_path / "local" / "cat.png").read_bytes()
    assert read_settings(made)["settings"]["threads"] == 2
    one = tmp_path / "one.png"
    assert invoke("dream", folder / "cat.jpg", "-o", one, *shows, "--threads", 1).exit_code == 0
    assert (pixels(one) != pixels(made)).any()  # what the worker's own count makes
