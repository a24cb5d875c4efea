"""The studio's queue survives its process: the real `dreamstyle studio` in a subprocess, killed
with SIGKILL while it runs the first of three jobs, then started again on the same folder (and
once more after a Ctrl-C). Nothing is lost or run twice: the waiting jobs run in their order, the
killed one is `interrupted` with its picture so far, and Resume goes on from that picture.

Plain urllib against a loopback port; the jobs are tiny (efficientnet-lite0, 64 px, its bundled
weights offline), the waits generous and polled, for a loaded two-core machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
START_S = 180  # importing torch and starting uvicorn on a busy machine
RUN_S = 240
LONG = {"model": "efficientnet-lite0", "size": 64, "steps": 5000}  # still running when it is killed
TINY = {"model": "efficientnet-lite0", "size": 64, "steps": 3, "octaves": 1}
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


class Api:
    """The studio's HTTP API at `base`, through plain urllib."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def alive(self) -> bool:
        return True

    def tail(self) -> str:
        return ""

    def request(self, path: str, body: bytes | None = None, ctype: str = "application/json") -> tuple[int, bytes]:
        req = urllib.request.Request(self.base + path, data=body, method="POST" if body is not None else "GET")
        if body is not None:
            req.add_header("content-type", ctype)
        try:
            with DIRECT.open(req, timeout=60) as res:
                return res.status, res.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def get(self, path: str):
        status, data = self.request(path)
        assert status == 200, f"GET {path}: {status} {data[:300]!r}"
        return json.loads(data)

    def post(self, path: str, body: dict | None = None, expect: int = 201):
        status, data = self.request(path, json.dumps(body or {}).encode())
        assert status == expect, f"POST {path}: {status} {data[:300]!r}\n{self.tail()}"
        return json.loads(data)

    def upload(self, name: str) -> str:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + (SAMPLES / name).read_bytes() + f"\r\n--{boundary}--\r\n".encode()  # fmt: skip
        status, data = self.request("/api/uploads", body, f"multipart/form-data; boundary={boundary}")
        assert status == 201, data
        return json.loads(data)["id"]

    def wait(self, jid: str, until, what: str, timeout: float = RUN_S) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            status = self.get(f"/api/jobs/{jid}")
            if until(status):
                return status
            if time.monotonic() > deadline or not self.alive():
                raise AssertionError(f"job {jid} never {what}: {status}\n{self.tail()}")
            time.sleep(0.1)

    def ended(self, jid: str) -> dict:
        return self.wait(jid, lambda s: s["state"] not in ("queued", "running"), "ended")

    def has_preview(self, jid: str) -> bool:
        return self.request(f"/api/jobs/{jid}/preview")[0] == 200

    def watch(self, jid: str) -> threading.Thread:
        """The job's event stream, read in a thread into its `.seen` [(event, data)] until it ends."""

        def read(seen: list) -> None:
            name = None
            try:
                with DIRECT.open(f"{self.base}/api/jobs/{jid}/events", timeout=120) as res:
                    for line in res:
                        line = line.decode().rstrip("\n")
                        if line.startswith("event: "):
                            name = line[7:]
                        elif line.startswith("data: "):
                            seen.append((name, json.loads(line[6:])))
            except OSError as exc:
                seen.append(("lost", str(exc)))

        seen: list = []
        thread = threading.Thread(target=read, args=(seen,), daemon=True)
        thread.seen = seen
        thread.start()
        return thread


class Studio(Api):
    """`dreamstyle studio --out OUT` on a free loopback port, its terminal in OUT/../studio-N.log."""

    def __init__(self, out: Path, env: dict[str, str], n: int):
        self.log = out.parent / f"studio-{n}.log"
        for _ in range(3):  # a free port can be taken before the studio binds it: another one then
            self.port = _free_port()
            super().__init__(f"http://127.0.0.1:{self.port}")
            cmd = [sys.executable, "-c", "from dreamstyle.cli import main; main()",
                   "studio", "--out", str(out), "--port", str(self.port), "--no-open"]  # fmt: skip
            with open(self.log, "wb") as log:
                self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            if self._started():
                return
            if "cannot listen" not in self.tail():
                break
        raise AssertionError(f"the studio did not start:\n{self.tail()}")

    def _started(self) -> bool:
        deadline = time.monotonic() + START_S
        while True:
            try:
                self.get("/api/jobs")
                return True
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    self.proc.wait(30)
                    return False
                time.sleep(0.2)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self, sig: int) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def studio_env(tmp_path):
    env = {**os.environ, "DREAMSTYLE_OFFLINE": "1", "TORCH_HOME": str(tmp_path / "torch-home"), "PYTHONUNBUFFERED": "1"}
    started: list[Studio] = []

    def start(out: Path) -> Studio:
        s = Studio(out, env, len(started) + 1)
        started.append(s)
        return s

    yield start
    for s in started:  # whatever a failed assertion left running
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(30)


def test_a_killed_studio_loses_no_job_and_runs_none_twice(tmp_path, studio_env):
    out = tmp_path / "out"
    out.mkdir()
    t0 = time.monotonic()
    timings: dict[str, float] = {}

    # --- 1: three jobs, the first running (a long style), two waiting (tiny dreams) ----------------
    first = studio_env(out)
    photo, painting = first.upload("cat.jpg"), first.upload("swirls.jpg")
    style = {"engine": "style", "inputs": {"content": f"upload:{photo}", "styles": [f"upload:{painting}"]}, "settings": LONG}
    dream = {"engine": "dream", "inputs": {"image": f"upload:{photo}"}, "settings": TINY}
    ids = [first.post("/api/jobs", job)["id"] for job in (style, dream, dream)]
    # A preview shown is a picture kept on disk; wait for one, so there is a partial to keep.
    first.wait(ids[0], lambda s: s["state"] == "running" and first.has_preview(ids[0]), "showed a picture")
    assert [first.get(f"/api/jobs/{i}")["state"] for i in ids[1:]] == ["queued", "queued"]
    timings["started, running"] = time.monotonic() - t0
    assert first.kill(signal.SIGKILL) == -signal.SIGKILL
    assert not list(out.glob("*.png"))  # the kill left no picture in the gallery

    # --- 2: started again on the same folder ---------------------------------------------------------
    second = studio_env(out)
    timings["restarted"] = time.monotonic() - t0
    known = {j["id"]: j for j in second.get("/api/jobs")["jobs"]}
    assert set(ids) <= set(known), f"jobs lost: {set(ids) - set(known)}"  # 3 of 3, the same ids
    killed = second.get(f"/api/jobs/{ids[0]}")
    assert killed["state"] == "interrupted" and killed["engine"] == "style", killed
    assert "studio stopped" in killed["error"] and "Resume" in killed["hint"] and killed["resumable"], killed
    assert 0 < killed["step"] < LONG["steps"], killed
    # Its picture so far, in the gallery as a partial, carrying its Job and where it stood.
    items = {i["id"]: i for i in second.get("/api/gallery")["items"]}
    partial = items[killed["result"]]
    assert partial["partial"] and partial["engine"] == "style", partial
    assert partial["job"]["ran"]["interrupted"]["step"] >= 3 and partial["job"]["settings"]["steps"] == LONG["steps"]
    status, png = second.request(f"/api/jobs/{ids[0]}/result")
    assert status == 200 and png.startswith(b"\x89PNG")

    # The waiting two run, in their order; the killed one is never run again.
    done = [second.ended(i) for i in ids[1:]]
    timings["waiting two done"] = time.monotonic() - t0
    assert [d["state"] for d in done] == ["done", "done"], done
    assert done[0]["ended"] <= done[1]["started"], done
    assert second.get(f"/api/jobs/{ids[0]}")["state"] == "interrupted"
    pictures = sorted(p.name for p in out.glob("*.png"))
    # Named after the photo (cat.jpg), as the command line names them; no second run of the style.
    assert pictures == ["cat-dream-2.png", "cat-dream.png", "cat-style.partial.png"] and partial["name"] == "cat-style.partial.png", pictures

    # --- Resume: the same job, starting from the kept picture; Again: a fresh copy ---------------------
    resumed = second.post(f"/api/jobs/{ids[0]}/resume")
    assert resumed["resumed"] is True and resumed["id"] not in ids
    again = second.post(f"/api/jobs/{ids[1]}/again")
    assert again["resumed"] is False
    assert second.get(f"/api/jobs/{ids[0]}")["next"] == resumed["id"]
    assert second.post(f"/api/jobs/{resumed['id']}/resume", expect=409)["error"]  # not ended: refused
    second.wait(resumed["id"], lambda s: s["state"] == "running" and second.has_preview(resumed["id"]), "showed a picture")

    # --- 3: Ctrl-C while the resumed job runs and the copy waits, both watched as the page does --------
    watchers = [second.watch(j) for j in (resumed["id"], again["id"])]
    time.sleep(0.5)
    t = time.monotonic()
    assert second.kill(signal.SIGINT) == 0, second.tail()
    assert time.monotonic() - t < 30  # not held open by the event streams until the job would end
    for w in watchers:
        w.join(30)
    # The streams ended with the studio (the joins above return). Whether the running job's stream
    # got its `end` event before the connection closed is a race of the shutdown (seen once in a
    # fresh-clone CI run): when it did, it says interrupted; the state itself is asserted below,
    # from the queue on disk.
    assert all(not w.is_alive() for w in watchers)
    last = watchers[0].seen[-1]
    assert last[0] != "end" or last[1]["state"] == "interrupted", watchers[0].seen
    timings["Ctrl-C"] = time.monotonic() - t0
    third = studio_env(out)
    known = {j["id"] for j in third.get("/api/jobs")["jobs"]}
    assert set(ids) | {resumed["id"], again["id"]} <= known
    stopped = third.get(f"/api/jobs/{resumed['id']}")
    assert stopped["state"] == "interrupted" and "closed" in stopped["error"] and stopped["result"], stopped
    kept = {i["id"]: i for i in third.get("/api/gallery")["items"]}[stopped["result"]]
    assert kept["partial"] and kept["job"]["settings"]["init"].endswith(partial["name"]), kept["job"]["settings"]
    assert third.ended(again["id"])["state"] == "done"
    # Still ended, and still only the ones that ran: nothing ran twice.
    states = {i: third.get(f"/api/jobs/{i}")["state"] for i in ids}
    assert states == {ids[0]: "interrupted", ids[1]: "done", ids[2]: "done"}
    assert len(list(out.glob("cat-dream*.png"))) == 3 and not [p for p in out.glob("cat-style*.png") if ".partial" not in p.name]
    assert third.kill(signal.SIGINT) == 0, third.tail()
    timings["all"] = time.monotonic() - t0
    print("crash story, seconds since start:", {k: round(v, 1) for k, v in timings.items()})


def test_the_queue_is_taken_back_row_by_row_and_one_studio_owns_it(tmp_path):
    """Without a model: the rows a killed studio left, taken back by a Worker whose runner only
    notes what it was asked to run."""
    from PIL import Image

    from dreamstyle import Job
    from dreamstyle.core.settings import DreamSettings, build
    from dreamstyle.media.images import read_settings, save_image
    from dreamstyle.studio.files import gallery_id
    from dreamstyle.studio.queue import Worker
    from dreamstyle.studio.store import Busy, Store, open_store

    out = tmp_path / "out"
    out.mkdir()
    job = Job("dream", {"image": str(SAMPLES / "cat.jpg")}, build(DreamSettings, {"model": "efficientnet-lite0", "size": 64}))
    store = Store(out)
    with pytest.raises(Busy, match="another studio"):
        Store(out)  # a second studio on the folder does not get its queue…
    assert open_store(out) is None  # …and runs with its queue in memory only
    rows = {"killed": "running", "written": "running", "done": "done", "first": "queued", "second": "queued"}
    for n, (name, state) in enumerate(rows.items()):
        one = job.replace(output=str(out / f"{name}.png"))
        store.add({"id": name, "engine": "dream", "job": one.to_json(), "state": state, "created": 1000.0 + n, "step": 7, "total": 20})
    store.add({"id": "garbled", "engine": "dream", "job": "{not json", "state": "queued", "created": 2000.0})
    kept = Image.new("RGB", (8, 8), "red")
    save_image(kept, store.snapshot("killed"), settings={**json.loads(job.to_json()), "ran": {"interrupted": {"step": 7, "of": 20}}})
    Image.new("RGB", (8, 8)).save(out / "written.png")  # its output was on disk: only its row was not
    store.close()  # as a kill would: the lock goes with the process

    ran: list[str] = []
    worker = Worker(lambda job, on_event, cancel: ran.append(Path(job.output).stem) or None, store=Store(out))
    try:
        deadline = time.monotonic() + 30
        while len(ran) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # time enough to run anything else it (wrongly) would
        assert ran == ["first", "second"]  # the waiting ones, in order; nothing else
        states = {e["id"]: e["state"] for e in worker.listing()}
        assert states == {"killed": "interrupted", "written": "done", "done": "done", "first": "done", "second": "done", "garbled": "failed"}
        killed = worker.get("killed")
        assert killed.partial == str(out / "killed.partial.png") and killed.result == gallery_id("killed.partial.png")
        assert read_settings(killed.partial)["ran"]["interrupted"] == {"step": 7, "of": 20}
        assert "step 7 of 20" in killed.error and killed.resumable is False  # a dream starts from its photo only
        assert worker.get("written").result == gallery_id("written.png")
        assert "could not be read back" in worker.get("garbled").error
        assert not list(store.snapshots.iterdir())
    finally:
        worker.close()
    # Closed and opened again: the same, with nothing left to run.
    worker = Worker(lambda job, on_event, cancel: ran.append("again") or None, store=Store(out))
    try:
        time.sleep(0.2)
        assert ran == ["first", "second"] and {e["id"]: e["state"] for e in worker.listing()} == states
    finally:
        worker.close()


def test_the_page_offers_resume_and_again_for_an_interrupted_job(tmp_path, monkeypatch):
    """A studio closed mid-run (as by Ctrl-C) and served again: the page lists the job as
    interrupted with Resume, Again and Dismiss, and Resume queues it from its picture so far."""
    from studio_harness import browser, chromium, open_page, serve_studio, tid

    exe = chromium()
    if exe is None or importlib.util.find_spec("playwright") is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs chromium and playwright: the page's Resume must be tried there")
        pytest.skip("no chromium or playwright here")
    monkeypatch.setenv("DREAMSTYLE_OFFLINE", "1")  # the jobs run in the server's thread
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    out = tmp_path / "out"
    with serve_studio(out) as url:
        api = Api(url)
        photo, painting = api.upload("cat.jpg"), api.upload("swirls.jpg")
        jid = api.post("/api/jobs", {"engine": "style", "inputs": {"content": f"upload:{photo}", "styles": [f"upload:{painting}"]},
                                     "settings": LONG})["id"]  # fmt: skip
        api.wait(jid, lambda s: s["state"] == "running" and api.has_preview(jid), "showed a picture")
    with serve_studio(out) as url, browser(exe) as context:
        api = Api(url)
        assert api.get(f"/api/jobs/{jid}")["state"] == "interrupted"
        page = open_page(context, url)
        item = f"{tid('queue-item')}[data-id='{jid}'][data-state='interrupted']"
        page.wait_for_selector(item)
        assert "interrupted at step" in page.inner_text(item)
        assert page.locator(f"{item} {tid('queue-again')}").count() == 1
        assert page.locator(f"{item} {tid('queue-dismiss')}").count() == 1
        with page.expect_response(lambda r: r.url.endswith(f"/api/jobs/{jid}/resume")) as posted:
            page.click(f"{item} {tid('queue-resume')}")
        assert posted.value.status == 201 and posted.value.json()["resumed"] is True
        new = posted.value.json()["id"]
        page.wait_for_selector(f"{tid('live')}[data-job='{new}']")  # followed in Live
        page.wait_for_selector(item, state="detached")  # resumed: no longer offered
        assert api.get(f"/api/jobs/{jid}")["next"] == new
        api.wait(new, lambda s: s["state"] == "running", "ran")
        page.click(tid("stop"))
        assert api.ended(new)["state"] == "stopped"
        assert page.problems == []
