"""The studio's form as a newcomer meets it: labels in words, help in full, the models that run here
first (and where the others' weights go), the queue's order, one step count, and the shortcuts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dreamstyle import Job
from dreamstyle.core.settings import DreamSettings, build
from dreamstyle.errors import UserError
from dreamstyle.studio.app import create_app
from dreamstyle.studio.queue import Worker
from dreamstyle.studio.schema import schema
from dreamstyle.studio.store import Store
from studio_api import upload

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
HOST = "http://127.0.0.1:7860"


def test_every_field_is_labelled_in_words():
    for engine, form in schema()["engines"].items():
        for f in form["settings"]:
            label = f["label"]
            assert "_" not in label and label[0].isupper(), f"{engine} {f['name']}: {label!r}"
    style = {f["name"]: f["label"] for f in schema()["engines"]["style"]["settings"]}
    assert style["style_weight"] == "Style weight" and style["lr"] == "Step size" and style["preserve_color"] == "Preserve colour"


def test_the_model_list_marks_what_runs_here_with_the_offline_errors_words(monkeypatch, tmp_path):
    """Without VGG weights the form starts on the bundled backbone; a VGG's entry says where its
    weights go in the words of the command line's offline error, less its --weights FILE, which
    the studio refuses (tests/test_studio_names.py: a failed job says the same); cached, it is the default."""
    from dreamstyle.models.backbones import load_backbone

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("DREAMSTYLE_OFFLINE", "1")
    s = schema()
    marks = {b["name"]: b for b in s["backbones"]}
    assert [b["name"] for b in s["backbones"]] == s["models"]
    assert marks["efficientnet-lite0"]["available"] and not marks["vgg16"]["available"] and not marks["vgg19-caffe"]["available"]
    with pytest.raises(UserError) as refused:
        load_backbone("vgg16", progress=False)
    said = refused.value.hint.split(", pass --weights")[0]  # put FILE (from URL) at PLACE
    assert marks["vgg16"]["hint"].startswith(said) and marks["vgg16"]["place"] in said and "--weights" not in marks["vgg16"]["hint"]
    model = {f["name"]: f for f in s["engines"]["style"]["settings"]}["model"]
    assert model["default"] == "vgg19" and model["pick"] == "efficientnet-lite0"

    Path(marks["vgg16"]["place"]).parent.mkdir(parents=True)
    Path(marks["vgg16"]["place"]).write_bytes(b"")  # only its presence is looked at
    s = schema()
    assert {b["name"]: b["available"] for b in s["backbones"]}["vgg16"]
    models = {e: next(f for f in form["settings"] if f["name"] == "model") for e, form in s["engines"].items() if e != "fast"}
    assert models["style"]["pick"] == "vgg16"  # its vgg19 is not here: the VGG that is
    assert all("pick" not in m for m in models.values() if m["default"] == "vgg16")


def _job(out: Path, name: str) -> Job:
    settings = build(DreamSettings, {"model": "efficientnet-lite0", "size": 64})
    return Job("dream", {"image": str(SAMPLES / "cat.jpg")}, settings, output=str(out / f"{name}.png"))


def test_a_waiting_job_moves_and_the_order_outlives_the_studio(tmp_path):
    started = threading.Event()

    def hold(job, on_event, cancel):  # the first job runs until the studio closes
        started.set()
        cancel.wait()

    worker = Worker(hold, store=Store(tmp_path))
    try:
        running = worker.submit(_job(tmp_path, "running")).id
        assert started.wait(10)
        a, b, c, d = (worker.submit(_job(tmp_path, n)).id for n in "abcd")
        assert worker.move(d, "front") == [d, a, b, c]
        assert worker.move(a, "down") == [d, b, a, c]
        assert worker.move(c, "up") == [d, b, c, a]
        assert worker.move(b, 99) == [d, c, a, b]  # an index past the end: last
        assert worker.move(b, 0) == [b, d, c, a]
        assert [j["id"] for j in worker.listing() if j["state"] == "queued"] == [b, d, c, a]
        with pytest.raises(UserError, match="running"):
            worker.move(running, "front")
        with pytest.raises(UserError, match="cannot move"):
            worker.move(a, "sideways")
        with pytest.raises(KeyError):
            worker.move("nope", "front")
    finally:
        worker.close()
    ran: list[str] = []
    worker = Worker(lambda job, on_event, cancel: ran.append(Path(job.output).stem) or None, store=Store(tmp_path))
    try:
        worker.submit(_job(tmp_path, "e"))  # a job added after the move still goes last
        deadline = time.monotonic() + 20
        while len(ran) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ran == ["b", "d", "c", "a", "e"]
    finally:
        worker.close()


def test_the_move_api(tmp_path):
    with TestClient(create_app(tmp_path), base_url=HOST) as client:
        photo = upload(client, "cat.jpg")
        job = {"engine": "dream", "inputs": {"image": f"upload:{photo}"}, "settings": {"model": "efficientnet-lite0", "size": 64, "octaves": 1}}
        long = client.post("/api/jobs", json={**job, "settings": {**job["settings"], "steps": 100_000}}).json()["id"]
        ids = [client.post("/api/jobs", json={**job, "settings": {**job["settings"], "steps": 2}}).json()["id"] for _ in range(3)]
        try:
            res = client.post(f"/api/jobs/{ids[2]}/move", json={"to": "front"})
            assert res.status_code == 200 and res.json()["order"] == [ids[2], ids[0], ids[1]]
            assert client.post(f"/api/jobs/{ids[2]}/move", json={"to": 1}).json()["order"] == [ids[0], ids[2], ids[1]]
            assert [j["id"] for j in client.get("/api/jobs").json()["jobs"] if j["state"] == "queued"] == [ids[0], ids[2], ids[1]]
            assert client.post("/api/jobs/nope/move", json={"to": "up"}).status_code == 404
            deadline = time.monotonic() + 60
            while client.get(f"/api/jobs/{long}").json()["state"] != "running" and time.monotonic() < deadline:
                time.sleep(0.05)
            busy = client.post(f"/api/jobs/{long}/move", json={"to": "front"})
            assert busy.status_code == 409 and busy.json()["hint"]
            assert client.post(f"/api/jobs/{ids[0]}/move", json={"to": "left"}).status_code == 400
        finally:
            for jid in [*ids, long]:
                client.post(f"/api/jobs/{jid}/stop")


# --------------------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory):
    """A studio on a machine without any downloaded weights (an empty torch hub, offline), and
    its page in chromium."""
    from studio_harness import browser, browser_or_skip, open_page, serve_studio

    exe = browser_or_skip()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DREAMSTYLE_OFFLINE", "1")
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("empty-torch-home")))
        out = tmp_path_factory.mktemp("studio-out")
        with serve_studio(out) as url, browser(exe) as context:
            page = open_page(context, url)
            yield {"page": page, "out": out, "shots": tmp_path_factory.mktemp("shots")}


def test_a_newcomer_without_vgg_weights_drops_a_photo_presses_make_and_gets_a_picture(newcomer):
    from studio_harness import make, tid

    page = newcomer["page"]
    assert page.input_value(tid("setting-model")) == "efficientnet-lite0"  # not vgg16: its weights are not here
    assert "needs weights" in page.inner_text(f"{tid('setting-model')} option[value='vgg16']")
    assert page.inner_text("[data-name='lr'] .name") == "Step size"
    page.click("#more summary")  # every help, in full: the schema's words (the flag's), none clipped
    helps = {f["name"]: f["help"] for f in schema()["engines"]["dream"]["settings"]}
    shown = page.evaluate("""() => [...document.querySelectorAll("[data-testid^='help-']")].map(h =>
        [h.dataset.testid.slice(5), h.textContent, h.scrollHeight <= h.clientHeight + 1, h.getBoundingClientRect().height > 0])""")
    assert len(shown) >= 10 and all(text == helps[name] and whole and seen for name, text, whole, seen in shown), shown
    page.set_input_files(tid("input-image"), SAMPLES / "cat.jpg")
    page.wait_for_selector(f"{tid('thumbs-image')} [data-upload]:not([data-upload=''])")
    for name, value in (("size", "64"), ("steps", "3"), ("octaves", "1")):  # tiny, for two CPU cores
        page.fill(tid(f"setting-{name}"), value)
    page.screenshot(path=str(newcomer["shots"] / "form-labels.png"), full_page=True)
    posted = make(page)
    assert posted["body"]["settings"]["model"] == "efficientnet-lite0"
    page.wait_for_selector("#live-state.done", timeout=120_000)
    page.wait_for_selector("#gallery > *[data-id]", timeout=30_000)
    assert not page.problems, page.problems


def test_shortcuts_queue_stop_and_list_and_the_queue_row_shows_the_live_step(newcomer):
    from studio_harness import tid

    page = newcomer["page"]
    page.fill(tid("setting-steps"), "100000")
    with page.expect_response(lambda r: r.url.endswith("/api/jobs") and r.request.method == "POST") as first:
        page.focus(tid("setting-size"))
        page.keyboard.press("Control+Enter")  # from inside a text field, too
    assert first.value.status == 201
    running = first.value.json()["id"]
    page.wait_for_function("() => /^step /.test(document.querySelector('#step').textContent)", timeout=60_000)
    page.wait_for_selector(f"#queue [data-id='{running}'][data-state='running']")
    for _ in range(5):  # the live panel and the queue row: one number
        live, row = page.evaluate("""(id) => [document.querySelector('#step').textContent,
            document.querySelector(`#queue [data-id='${id}'] .progress-text`).textContent]""", running)
        assert live == row, (live, row)
        page.wait_for_timeout(300)
    page.fill(tid("setting-steps"), "3")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => document.querySelectorAll(\"#queue [data-state='queued']\").length === 1")
    with page.expect_response(lambda r: r.url.endswith("/move")) as moved:
        page.keyboard.press("Control+Shift+Enter")
    assert moved.value.status == 200
    page.wait_for_function("() => document.querySelectorAll(\"#queue [data-state='queued']\").length === 2")
    order = moved.value.json()["order"]
    page.wait_for_function("(id) => document.querySelector(\"#queue [data-state='queued']\").dataset.id === id", arg=order[0])
    page.click(f"#queue [data-id='{order[1]}'] {tid('queue-front')}")
    page.wait_for_function("(id) => document.querySelector(\"#queue [data-state='queued']\").dataset.id === id", arg=order[1])
    page.screenshot(path=str(newcomer["shots"] / "queue-moves.png"))
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("?")
    page.wait_for_selector(f"{tid('keys')}[open]")
    page.screenshot(path=str(newcomer["shots"] / "keys.png"))
    page.keyboard.press("Escape")  # closes the list, and does not stop the job
    page.wait_for_selector(f"{tid('keys')}:not([open])", state="attached")
    assert page.inner_text("#live-state") == "running"
    page.keyboard.press("Escape")  # stops it (the Live panel then follows the next job)
    deadline = time.monotonic() + 60
    while page.request.get(f"{page.url}api/jobs/{running}").json()["state"] != "stopped" and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert page.request.get(f"{page.url}api/jobs/{running}").json()["state"] == "stopped"
    assert not page.problems, page.problems


def test_arrows_step_through_the_gallery_in_the_viewer(newcomer):
    page = newcomer["page"]
    page.wait_for_function("() => document.querySelectorAll('#gallery > *[data-id]').length >= 2", timeout=60_000)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_function("() => document.querySelectorAll('#gallery > *[data-id]').length >= 2")
    page.click("#gallery > *[data-id] .thumb")
    page.wait_for_selector("#viewer[open]")
    first = page.inner_text("#viewer-title")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("(t) => document.querySelector('#viewer-title').textContent !== t", arg=first)
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("(t) => document.querySelector('#viewer-title').textContent === t", arg=first)
    page.keyboard.press("Escape")
    page.wait_for_selector("#viewer:not([open])", state="attached")
    assert not page.problems, page.problems
