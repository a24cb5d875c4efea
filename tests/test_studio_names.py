"""The studio's outputs keep the photo's name as the command line names them (cat-dream.png, -2
when taken); a job with no picture says why; a failed job's hint is one the studio can follow;
the engines docs/studio.md lists are the ones it takes (issue 30, items 7 and 10)."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dreamstyle import Job
from dreamstyle.core.settings import DreamSettings, VisualizeSettings, build
from dreamstyle.studio.app import create_app
from dreamstyle.studio.naming import OutputNames, stem_of
from dreamstyle.studio.schema import STUDIO_ENGINES, schema
from studio_api import SAMPLES, stream, upload, wait

HOST = "http://127.0.0.1:7860"
TINY = {"model": "efficientnet-lite0", "size": 48, "steps": 1, "octaves": 1}


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("studio-names")


@pytest.fixture(scope="module")
def client(out):
    with TestClient(create_app(out), base_url=HOST) as c:
        yield c


def name_of(client, status: dict) -> str:
    return {i["id"]: i["name"] for i in client.get("/api/gallery").json()["items"]}[status["result"]]


def send(client, name: str, as_name: str) -> str:
    with open(SAMPLES / name, "rb") as f:
        res = client.post("/api/uploads", files={"file": (as_name, f, "image/jpeg")})
    assert res.status_code == 201 and res.json()["name"] == as_name, res.text
    return res.json()["id"]


def test_a_picture_is_named_after_its_photo_with_a_suffix_only_when_taken(client, out):
    cat = upload(client, "cat.jpg")
    dream = {"engine": "dream", "inputs": {"image": f"upload:{cat}"}, "settings": TINY}
    # Two at once, both queued before either is written: two names, not one file twice.
    ids = [client.post("/api/jobs", json=dream).json()["id"] for _ in range(2)]
    done = [wait(client, i) for i in ids]
    assert [d["state"] for d in done] == ["done", "done"], done
    assert [name_of(client, d) for d in done] == ["cat-dream.png", "cat-dream-2.png"]
    # A file already there takes the name too (a picture the command line wrote, a stopped
    # job's partial, a map kept beside one): STEM.* is taken, whatever follows.
    (out / "cat-dream-3.partial.png").write_bytes((out / "cat-dream.png").read_bytes())
    again = client.post(f"/api/jobs/{ids[0]}/again")
    assert again.status_code == 201
    assert name_of(client, wait(client, again.json()["id"])) == "cat-dream-4.png"
    # The name the photo was sent with, in any script; what a file name cannot hold becomes -.
    odd = send(client, "coffee.jpg", "Café au lait.v2.JPG")
    style = {"engine": "style", "inputs": {"content": f"upload:{odd}", "styles": [f"upload:{cat}"]},
             "settings": {"model": "efficientnet-lite0", "size": 48, "steps": 1}}  # fmt: skip
    assert name_of(client, wait(client, client.post("/api/jobs", json=style).json()["id"])) == "Café-au-lait-v2-style.png"
    # Without a photo: the command line's MODEL-LAYER-channels.
    channels = {"engine": "visualize.channels", "inputs": {"layer": "block3", "channels": "0-1"},
                "settings": {"model": "efficientnet-lite0", "size": 48, "steps": 1}}  # fmt: skip
    assert name_of(client, wait(client, client.post("/api/jobs", json=channels).json()["id"])) == "efficientnet-lite0-block3-channels.png"

    # The gallery lists them by those names, each with the photo it was made from.
    items = {i["name"]: i for i in client.get("/api/gallery").json()["items"]}
    assert {"cat-dream.png", "cat-dream-2.png", "cat-dream-4.png", "Café-au-lait-v2-style.png"} <= set(items)
    assert items["cat-dream.png"]["again"]["inputs"]["image"] == f"upload:{cat}"
    assert client.get(items["Café-au-lait-v2-style.png"]["input"]).content == client.get(f"/api/uploads/{odd}").content
    assert not [n for n in items if re.fullmatch(r"(dream|style)-[0-9a-f]{8}\.png", n)]  # no random names left


def test_a_grid_and_its_cells_are_named_after_the_photo(client):
    cat = upload(client, "cat.jpg")
    job = {"engine": "dream", "inputs": {"image": f"upload:{cat}"}, "settings": TINY, "x": {"setting": "seed", "values": "0,1"}}
    made = client.post("/api/grids", json=job)
    assert made.status_code == 201, made.text
    deadline = time.time() + 120
    while (status := client.get(f"/api/grids/{made.json()['id']}").json())["state"] not in ("done", "failed") and time.time() < deadline:
        time.sleep(0.1)
    assert status["state"] == "done", status
    names = {i["id"]: i["name"] for i in client.get("/api/gallery").json()["items"]}
    assert names[status["result"]] == "cat-dream-grid.png"
    assert [names[c["result"]] for c in status["cells"]] == ["cat-dream-grid-x0-y0.png", "cat-dream-grid-x1-y0.png"]


def test_names_follow_the_command_lines_defaults(tmp_path):
    photo = str(SAMPLES / "cat.jpg")
    viz = build(VisualizeSettings, {"model": "efficientnet-lite0"})
    cases = [
        (Job("dream", {"image": photo}, build(DreamSettings, {})), "cat-dream"),
        (Job("visualize.maps", {"image": photo, "layer": "block3"}, viz), "cat-maps-block3"),
        (Job("visualize.filters", {"layer": None}, viz), "efficientnet-lite0-filters"),
        (Job("visualize.neuron", {"layer": "features.28", "channel": 12}, viz), "efficientnet-lite0-features-28-12-neuron"),
        (Job("visualize.class", {"classes": ["tabby cat", "goldfish"]}, viz), "efficientnet-lite0-class-tabby_cat-etc"),
    ]  # fmt: skip
    for job, stem in cases:
        assert stem_of(job, lambda path: None) == stem
    # An upload is named by what it was sent as, not by its id.
    assert stem_of(Job("dream", {"image": "/x/.uploads/0123456789abcdef.png"}, build(DreamSettings, {})),
                   lambda path: "holiday 2024.jpeg") == "holiday-2024-dream"  # fmt: skip


def test_names_handed_out_at_once_from_many_threads_are_all_different(tmp_path):
    names, got = OutputNames(), []
    threads = [threading.Thread(target=lambda: got.append(names.free(tmp_path, "cat-style", ".png"))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 20 and tmp_path / "cat-style.png" in got and tmp_path / "cat-style-20.png" in got


# --------------------------------------------------------------------------- no picture, and why


def test_a_job_without_a_picture_says_why_and_a_stopped_one_gives_its_partial(client):
    cat = upload(client, "cat.jpg")
    long = {"engine": "dream", "inputs": {"image": f"upload:{cat}"}, "settings": {**TINY, "size": 64, "steps": 5000}}
    running = client.post("/api/jobs", json=long).json()["id"]
    waiting = client.post("/api/jobs", json=long).json()["id"]
    wait(client, running, lambda s: s["step"] >= 3)
    busy = client.get(f"/api/jobs/{running}/result")
    assert busy.status_code == 409 and "running" in busy.json()["error"] and "wait for it to end" in busy.json()["hint"]

    assert client.post(f"/api/jobs/{waiting}/stop").json()["state"] == "stopped"
    never = client.get(f"/api/jobs/{waiting}/result")
    assert never.status_code == 404 and never.headers["content-type"] == "application/json"
    assert never.json()["error"] == "the job was stopped before it ran, so it has no picture" and "Again" in never.json()["hint"]
    assert "wait" not in never.json()["hint"]

    client.post(f"/api/jobs/{running}/stop")
    stopped = wait(client, running)
    assert stopped["state"] == "stopped" and stopped["result"]
    kept = client.get(f"/api/jobs/{running}/result")  # what it has: its picture so far
    assert kept.status_code == 200 and kept.headers["content-type"] == "image/png" and kept.content.startswith(b"\x89PNG")
    assert re.fullmatch(r"cat-dream(-\d+)?\.partial\.png", name_of(client, stopped))

    bad = client.post("/api/jobs", json={**long, "settings": {**TINY, "layers": "blok9"}}).json()["id"]
    assert wait(client, bad)["state"] == "failed"
    failed = client.get(f"/api/jobs/{bad}/result")
    assert failed.status_code == 404 and "failed" in failed.json()["error"] and "blok9" in failed.json()["error"]


def test_an_event_stream_ends_with_its_jobs_end_even_when_the_state_turned_first(client):
    """The worker makes a job's state final a moment before it appends the `end` event (writing
    the row to disk between them): a stream that looked then still sends `end`, as a page waits for it."""
    from dreamstyle.studio.queue import Entry

    worker = client.app.state.worker
    entry = Entry("0123456789abcdef", None, state="done", engine="dream")
    entry.events.append(("state", {"state": "running"}))
    worker.entries[entry.id] = entry
    threading.Timer(0.5, lambda: entry.events.append(("end", {"state": "done"}))).start()
    try:
        seen = stream(client, f"/api/jobs/{entry.id}/events")
    finally:
        del worker.entries[entry.id]
    assert seen == [("state", {"state": "running"}), ("end", {"state": "done"})]


def test_a_job_whose_weights_are_missing_fails_with_what_to_do_in_the_studio(client, monkeypatch, tmp_path):
    """The command line's offline error says `pass --weights FILE`, which the studio refuses: its
    hint says where the file goes, or to choose a model that runs here, as the model list does."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    monkeypatch.setenv("DREAMSTYLE_OFFLINE", "1")
    cat = upload(client, "cat.jpg")
    jid = client.post("/api/jobs", json={"engine": "dream", "inputs": {"image": f"upload:{cat}"},
                                         "settings": {**TINY, "model": "googlenet"}}).json()["id"]  # fmt: skip
    status = wait(client, jid)
    assert status["state"] == "failed" and "googlenet weights are not cached" in status["error"], status
    hint = status["hint"]
    assert "--weights" not in hint and "--model" not in hint, hint
    assert "choose a model that runs here (efficientnet-lite0" in hint and str(tmp_path / "empty-torch-home") in hint
    listed = {b["name"]: b for b in schema()["backbones"]}
    assert listed["googlenet"]["hint"] == hint and "--weights" not in listed["vgg16"]["hint"]
    assert "command line with --weights" in listed["vgg19-caffe"]["hint"]  # only a file can make it run: said as such


# --------------------------------------------------------------------------- the docs


def test_the_docs_list_the_engines_the_studio_takes_and_the_others_are_refused_with_why(client):
    from dreamstyle.core import registry

    text = " ".join((Path(__file__).resolve().parent.parent / "docs" / "studio.md").read_text().split())  # as it reads, line breaks aside
    line = re.search(r"Engines \(the studio takes these, and only these\):((?:\s*(?:,|and)?\s*`[\w.]+`)+)", text)
    assert line, "docs/studio.md lists the studio's engines"
    assert re.findall(r"`([\w.]+)`", line.group(1)) == list(STUDIO_ENGINES)
    refused = set(re.findall(r"`(visualize\.\w+)`", text)) - set(STUDIO_ENGINES)
    assert refused == {"visualize.shift", "visualize.top"}  # named only to say the studio does not take them
    cat = upload(client, "cat.jpg")
    for engine in set(registry.engine_names()) - set(STUDIO_ENGINES):
        assert f"`{engine}`" in text, engine
        res = client.post("/api/jobs", json={"engine": engine, "inputs": {"image": f"upload:{cat}"}, "settings": {}})
        assert res.status_code == 400 and res.json()["field"] == "engine", res.text
        assert res.json()["error"] == f"the studio does not run {engine!r}: {registry.engine(engine).why_not['studio']}"


def test_the_page_says_a_stopped_grid_cell_has_no_picture_rather_than_to_wait(tmp_path, monkeypatch):
    """A grid cell stopped before it ran never will have a picture: clicking it says so."""
    from studio_harness import browser, browser_or_skip, open_page, serve_studio, tid

    exe = browser_or_skip()
    monkeypatch.setenv("DREAMSTYLE_OFFLINE", "1")
    with serve_studio(tmp_path / "out") as url, browser(exe) as context:
        page = open_page(context, url)
        page.select_option(tid("engine"), "dream")
        page.set_input_files(tid("input-image"), SAMPLES / "cat.jpg")
        page.wait_for_selector(f"{tid('thumbs-image')} [data-upload]:not([data-upload=''])")
        page.select_option(tid("setting-model"), "efficientnet-lite0")
        for name, value in (("size", "48"), ("steps", "5000"), ("octaves", "1")):
            page.fill(tid(f"setting-{name}"), value)
        page.click(f"{tid('grid')} summary")
        page.select_option(tid("grid-x-setting"), "seed")
        page.fill(tid("grid-x-values"), "0,1")
        with page.expect_response(lambda r: r.url.endswith("/api/grids") and r.request.method == "POST") as posted:
            page.click(tid("grid-make"))
        assert posted.value.status == 201, posted.value.text()
        running, waiting = posted.value.json()["jobs"]
        assert page.request.post(f"{url}api/jobs/{waiting}/stop").json()["state"] == "stopped"
        page.request.post(f"{url}api/jobs/{running}/stop")
        page.wait_for_selector(f"{tid('grid-cell')}[data-job='{waiting}'][data-state='stopped']", timeout=60_000)
        page.click(f"{tid('grid-cell')}[data-job='{waiting}']")
        said = page.locator(f"{tid('message-info')} .message-text").last
        said.wait_for()
        assert said.inner_text().splitlines() == ["This cell was stopped, so it has no picture", "make the grid again, or this cell's settings alone"]
        page.screenshot(path=str(tmp_path / "stopped-cell.png"))  # for a look when it fails
        assert not [p for p in page.problems if "favicon" not in p], page.problems
