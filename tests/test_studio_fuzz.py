"""The studio's API under bad requests and load (issue 23): no answer of 500 or more, a JSON body
on every error, bounded queues, uploads and event streams, and a studio that still runs a good job.

The fuzz is property-based (Hypothesis), bounded in count and time: valid style and dream jobs
with one or two settings, inputs or top-level keys replaced by values of the wrong type, out of
range, with control characters, huge numbers, null or nested objects, unknown keys, other content
types and bodies that are not JSON at all; random methods, paths and ids on every route; uploads of
random bytes under random names. While it runs, a long "blocker" job holds the worker, so a fuzzed
job the checks accept waits in the queue, where it is stopped (dropped, never run).
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from starlette.testclient import TestClient

from dreamstyle.core import registry
from dreamstyle.studio import app as studio_app
from dreamstyle.studio.app import create_app
from dreamstyle.studio.files import StoreFull, Uploads

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
HOST = "http://127.0.0.1:7860"
LITE = {"model": "efficientnet-lite0", "size": 64, "steps": 2}
# Examples per property: a few hundred requests in all, well under a minute on two CPU cores.
EXAMPLES = int(os.environ.get("DREAMSTYLE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=5000, database=None, suppress_health_check=[HealthCheck.too_slow])
FINAL = ("done", "stopped", "failed", "interrupted")


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("studio-fuzz")


@pytest.fixture(scope="module")
def client(out):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the blocker's steps leave the other core to the requests
    try:
        with TestClient(create_app(out), base_url=HOST) as c:
            yield c
    finally:
        torch.set_num_threads(threads)


def upload(client, name: str) -> str:
    res = client.post("/api/uploads", files={"file": (name, (SAMPLES / name).read_bytes(), "image/jpeg")})
    assert res.status_code == 201, res.text
    return res.json()["id"]


@pytest.fixture(scope="module")
def pictures(client) -> tuple[str, str]:
    return upload(client, "cat.jpg"), upload(client, "swirls.jpg")


@pytest.fixture(scope="module")
def blocker(client, pictures) -> str:
    """A job that runs for minutes unless stopped, holding the worker while the fuzz runs."""
    body = {"engine": "dream", "inputs": {"image": f"upload:{pictures[0]}"},
            "settings": {"model": "efficientnet-lite0", "size": 48, "steps": 100_000, "octaves": 1}}  # fmt: skip
    res = client.post("/api/jobs", json=body)
    assert res.status_code == 201, res.text
    jid = res.json()["id"]
    status = wait(client, jid, lambda s: s["state"] in FINAL or s["step"] >= 1)
    assert status["state"] == "running", status
    return jid


def wait(client, jid: str, until, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while True:
        status = client.get(f"/api/jobs/{jid}").json()
        if until(status):
            return status
        assert time.time() < deadline, f"job {jid} never got there: {status}"
        time.sleep(0.05)


def good_jobs(pictures) -> list[dict]:
    photo, painting = pictures
    return [{"engine": "style", "inputs": {"content": f"upload:{photo}", "styles": [f"upload:{painting}"]}, "settings": dict(LITE)},
            {"engine": "dream", "inputs": {"image": f"upload:{photo}"}, "settings": {**LITE, "octaves": 1}}]  # fmt: skip


def answered(res, method: str = "GET") -> None:
    """No server error, and every error a one-line JSON {"error", "hint", "field"}."""
    assert res.status_code < 500, (res.status_code, res.text[:500])
    if res.status_code >= 400 and method != "HEAD":
        assert res.headers.get("content-type", "").startswith("application/json"), (res.status_code, res.text[:300])
        body = res.json()
        assert set(body) == {"error", "hint", "field"}, body
        assert isinstance(body["error"], str) and body["error"] and body["error"].isprintable(), body


def dropped(client, res, blocker: str) -> None:
    """A job a fuzzed request queued is stopped at once: it waits behind the blocker, so it is dropped unrun."""
    if res.status_code == 201 and "id" in res.json() and res.json()["id"] != blocker:
        stop = client.post(f"/api/jobs/{res.json()['id']}/stop")
        answered(stop, "POST")
        assert stop.json()["state"] == "stopped", stop.text


# --- strategies ---------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 5e-324, 0, -1, 2**63, "", "auto", "vgg19", "\u0000", "\n", "1e309", "NaN", "-1",
                     "efficientnet-lite0", "upload:0123456789abcdef", "../../etc/passwd", "x" * 5000]),
    st.text(max_size=30),
)  # fmt: skip
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                      max_leaves=8)  # fmt: skip
FIELDS = {name: [f for f in registry.engine(name).settings.__dataclass_fields__] for name in ("style", "dream")}
JSON_TYPES = ["application/json"] * 6 + ["application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded",
                                         "multipart/form-data; boundary=x", "application/merge-patch+json", "", "image/png"]  # fmt: skip
RAW = st.one_of(
    st.binary(max_size=300), st.text(max_size=100).map(str.encode),
    st.sampled_from([b"", b"null", b"[]", b"{}", b'"style"', b"1" * 5000, b"[" * 50_000, b"[" * 70_000, b'{"engine": NaN}',
                     b'{"engine": "dream", "settings": {"steps": Infinity}}', b"\xff\xfe{\x00}\x00", b'{"engine": "dream"',
                     json.dumps({"engine": "dream"}).encode("utf-16"), b'{"a": ' * 3000 + b"1" + b"}" * 3000]),
)  # fmt: skip


@st.composite
def job_bodies(draw, pictures) -> dict:
    body = copy.deepcopy(draw(st.sampled_from(good_jobs(pictures))))
    where = draw(st.sampled_from(["settings"] * 4 + ["inputs", "top"]))
    for _ in range(draw(st.integers(1, 2))):
        if where == "settings":
            body["settings"][draw(st.sampled_from(FIELDS[body["engine"]]) | st.text(max_size=12))] = draw(VALUES)
        elif where == "inputs":
            body["inputs"][draw(st.sampled_from([*body["inputs"], "image", "styles", "layer", "channels"]) | st.text(max_size=8))] = draw(VALUES)
        else:
            body[draw(st.sampled_from(["engine", "inputs", "settings", "preset", "motion", "output", "again"]) | st.text(max_size=8))] = draw(VALUES)
    return body


ROUTES = ["/", "/api/schema", "/api/uploads", "/api/uploads/{id}", "/api/jobs", "/api/jobs/{id}", "/api/jobs/{id}/events",
          "/api/jobs/{id}/preview", "/api/jobs/{id}/result", "/api/jobs/{id}/stop", "/api/jobs/{id}/again", "/api/jobs/{id}/resume",
          "/api/gallery", "/api/gallery/{id}/image", "/api/gallery/{id}/input", "/static/{id}", "/static/app.js", "/{id}", "/api/{id}",
          "/api/jobs/{id}/{id}", "/api/explore/{id}", "/api/explore/efficientnet-lite0/{id}",
          "/api/explore/efficientnet-lite0/{id}/events", "/api/explore/efficientnet-lite0/block1/{id}",
          "/api/explore/efficientnet-lite0/block1/{id}/photo", "/api/explore/top/{id}"]  # fmt: skip
METHODS = ["GET", "GET", "GET", "HEAD", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


# --- the fuzz -----------------------------------------------------------------------------------


def test_fuzzed_jobs_are_refused_with_json_or_queued_never_a_500(client, pictures, blocker):
    before = {j["id"] for j in client.get("/api/jobs").json()["jobs"]}

    @FUZZ
    @given(body=job_bodies(pictures), ctype=st.sampled_from(JSON_TYPES), raw=st.none() | RAW)
    def fuzz(body, ctype, raw):
        content = raw if raw is not None else json.dumps(body).encode()
        res = client.post("/api/jobs", content=content, headers={"content-type": ctype} if ctype else {})
        answered(res, "POST")
        if res.status_code == 201:
            assert raw is None and ctype.split(";")[0].endswith("json"), (ctype, content[:200])
        dropped(client, res, blocker)

    fuzz()
    # No refused job was queued: what the listing holds beyond what it held is fuzzed jobs that were accepted, all stopped.
    after = [j for j in client.get("/api/jobs").json()["jobs"] if j["id"] not in before]
    assert all(j["state"] == "stopped" and j["step"] == 0 for j in after), after


def test_fuzzed_methods_paths_and_ids_on_every_route(client, pictures, blocker):
    gallery = [i["id"] for i in client.get("/api/gallery").json()["items"]]
    jobs = [j["id"] for j in client.get("/api/jobs").json()["jobs"] if j["id"] != blocker and j["state"] in FINAL]
    known = [*pictures, *gallery, *jobs, "0123456789abcdef"]
    ids = st.one_of(st.sampled_from(known), st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
                    st.text(max_size=40).map(lambda t: quote(t, safe="")), st.sampled_from(["..", "%2e%2e", "%00", "a" * 3000]))  # fmt: skip

    @FUZZ
    @given(method=st.sampled_from(METHODS), route=st.sampled_from(ROUTES), data=st.data(),
           query=st.sampled_from(["", "?download=1", "?token=x", "?download=%00"]), ctype=st.sampled_from(JSON_TYPES),
           body=st.none() | RAW)  # fmt: skip
    def fuzz(method, route, data, query, ctype, body):
        path = route
        while "{id}" in path:
            path = path.replace("{id}", data.draw(ids), 1)
        res = client.request(method, path + query, content=body, headers={"content-type": ctype} if ctype else {})
        answered(res, method)
        dropped(client, res, blocker)

    fuzz()


def test_fuzzed_uploads(client, blocker):
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(png, format="PNG")
    real = [png.getvalue(), (SAMPLES / "cat.jpg").read_bytes()[:3000], b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"GIF89a" + b"\xff" * 30]

    @FUZZ
    @given(data=st.one_of(st.binary(max_size=200), st.sampled_from(real)), name=st.text(max_size=60),
           field=st.sampled_from(["file", "file", "files", ""]), part=st.sampled_from(["image/png", "text/plain", ""]),
           extra=st.booleans(), ctype=st.sampled_from([None, None, "application/json", "text/plain", ""]))  # fmt: skip
    def fuzz(data, name, field, part, extra, ctype):
        if ctype is not None:
            res = client.post("/api/uploads", content=data, headers={"content-type": ctype} if ctype else {})
        else:
            files = [(field, (name, data, part))] + ([("file", ("second.png", real[0], "image/png"))] if extra else [])
            res = client.post("/api/uploads", files=files)
        answered(res, "POST")
        if res.status_code == 201:
            assert set(res.json()) == {"id", "name", "width", "height"}

    fuzz()


# --- the refusals, one by one -------------------------------------------------------------------

ISSUE_EXAMPLES = [("device", True), ("preserve_color", 0), ("content_weight", "\u0000"), ("seed", "vgg19"), ("optimizer", {}),
                  ("style_layers", 1e308), ("style_scale", None), ("save_every", "\u0000"), ("content_weight", -1e308)]  # fmt: skip


@pytest.mark.parametrize("key, value", ISSUE_EXAMPLES)
def test_the_issues_bad_style_jobs_are_refused_before_the_queue_naming_the_field(client, pictures, key, value):
    """The bodies that answered 500 (or were queued to fail later) in issue 23: 400, the field named."""
    before = len(client.get("/api/jobs").json()["jobs"])
    body = good_jobs(pictures)[0]
    body["settings"][key] = value
    res = client.post("/api/jobs", json=body)
    assert res.status_code == 400, res.text
    answered(res)
    assert res.json()["field"] == key and res.json()["hint"], res.json()
    assert len(client.get("/api/jobs").json()["jobs"]) == before


@pytest.mark.parametrize("preset", ["x" * 5000, "/etc/dreamstyle.toml", "../presets/mine", "mine.toml", 0, False, ["swirls"]])
def test_a_preset_is_a_name_never_a_path(client, pictures, preset):
    """A name too long for a file once answered 500 (found by bench/studio_fuzz.py); a path would
    have the server read a TOML file the page names."""
    res = client.post("/api/jobs", json={**good_jobs(pictures)[1], "preset": preset})
    assert res.status_code == 400 and res.json()["field"] == "preset", res.text
    answered(res)


@pytest.mark.parametrize(
    "content, ctype, status, needle",
    [(b'{"engine": "dream"}', "text/plain", 415, "Content-Type: application/json"),
     (b'{"engine": "dream"}', None, 415, "Content-Type: application/json"),
     (b" " * (64 * 1024 + 1), "application/json", 413, "bytes"),
     (b'{"engine": NaN}', "application/json", 400, "NaN is not a JSON number"),
     (b"[" * 50_000, "application/json", 400, "RecursionError"),
     (b"1" * 5000, "application/json", 400, "not JSON"),
     (b'{"engine": "dream", "settngs": {}}', "application/json", 400, "'settings'")],
)  # fmt: skip
def test_bodies_that_are_not_a_jobs_json(client, content, ctype, status, needle):
    res = client.post("/api/jobs", content=content, headers={"content-type": ctype} if ctype else {})
    assert res.status_code == status, res.text
    answered(res, "POST")
    assert needle in res.json()["error"] + str(res.json()["hint"]), res.json()


def test_unknown_routes_and_methods_answer_json(client):
    res = client.get("/api/nothing-here")
    assert res.status_code == 404 and "no such page" in res.json()["error"]
    res = client.put("/api/jobs", json={})
    assert res.status_code == 405 and "PUT" in res.json()["error"] and "POST" in res.headers["allow"]
    res = client.delete("/api/gallery")
    assert res.status_code == 405 and "GET" in res.json()["hint"]
    assert client.get("/static/nothing.js").json()["error"]
    res = client.post("/api/uploads", content=b"not a form", headers={"content-type": "application/octet-stream"})
    assert res.status_code == 415 and "multipart/form-data" in res.json()["error"]


def test_an_unforeseen_exception_is_a_one_line_json_500_and_a_logged_traceback(client, caplog, monkeypatch):
    gallery = client.app.state.gallery

    def broken():
        raise RuntimeError("the disk said no\nand more")

    monkeypatch.setattr(gallery, "items", broken)
    with caplog.at_level(logging.ERROR, logger="dreamstyle.studio"):
        res = client.get("/api/gallery")
    assert res.status_code == 500 and res.json()["error"] == "internal error: RuntimeError: the disk said no", res.text
    assert "Traceback" in caplog.text and "the disk said no" in caplog.text
    monkeypatch.undo()
    assert client.get("/api/gallery").status_code == 200  # the studio goes on


def test_a_broken_picture_in_the_folder_is_left_out_of_the_gallery(client, out):
    (out / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    res = client.get("/api/gallery")
    assert res.status_code == 200 and "broken.png" not in [i["name"] for i in res.json()["items"]]


def test_a_diverged_loss_is_sent_as_null(client, blocker):
    entry = client.app.state.worker.get(blocker)
    entry.losses = {"loss": float("nan"), "style": float("inf")}
    res = client.get(f"/api/jobs/{blocker}")
    assert res.status_code == 200 and res.json()["losses"] == {"loss": None, "style": None}
    assert client.get("/api/jobs").status_code == 200


# --- the caps -----------------------------------------------------------------------------------


def test_a_full_queue_answers_429(client, pictures, blocker, monkeypatch):
    monkeypatch.setattr(studio_app, "MAX_QUEUED", 3)
    job = good_jobs(pictures)[1]
    queued = []
    for _ in range(3):
        res = client.post("/api/jobs", json=job)
        assert res.status_code == 201, res.text
        queued.append(res.json()["id"])
    res = client.post("/api/jobs", json=job)
    assert res.status_code == 429 and "3 jobs are already waiting" in res.json()["error"] and "stop" in res.json()["hint"]
    assert res.headers["retry-after"]
    client.post(f"/api/jobs/{queued[0]}/stop")
    res = client.post("/api/jobs", json=job)  # room again
    assert res.status_code == 201
    for jid in [*queued[1:], res.json()["id"]]:
        assert client.post(f"/api/jobs/{jid}/stop").json()["state"] == "stopped"


def test_event_watchers_per_job_are_capped_and_counted_back(client, blocker, monkeypatch):
    monkeypatch.setattr(studio_app, "MAX_WATCHERS", 2)
    url = f"/api/jobs/{blocker}/events"
    assert client.get(f"/api/jobs/{blocker}").json()["state"] == "running"
    with client.stream("GET", url) as one, client.stream("GET", url) as two:
        lines = one.iter_lines(), two.iter_lines()  # kept: a line iterator dropped closes its stream
        assert one.status_code == two.status_code == 200 and all(next(it).startswith("event: ") for it in lines)
        with client.stream("GET", url) as third:  # a stream: were it let through, it would not end
            assert third.status_code == 429 and "2 event streams are open on this job" in json.loads(third.read())["error"]
    deadline = time.time() + 10  # the closed streams are counted back
    while True:
        with client.stream("GET", url) as again:
            if again.status_code == 200:
                break
        assert time.time() < deadline, "closed event streams were never counted back"
        time.sleep(0.1)


def _png(color: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (color, 0, 0)).save(buf, format="PNG")
    return buf.getvalue()


def test_the_upload_store_removes_the_oldest_unused_and_never_a_needed_one(tmp_path):
    store = Uploads(tmp_path / "up", max_files=3)
    a, b, c = (store.add(_png(k), f"{k}.png")["id"] for k in (1, 2, 3))
    for k, uid in enumerate((a, b, c)):
        os.utime(store.path(uid), (1000 + k, 1000 + k))  # a oldest, c newest
    store.needed = lambda: {f"upload:{a}"}  # a waiting job's
    store.named = lambda: [f"upload:{b}"]  # a gallery picture's
    d = store.add(_png(4), "4.png")["id"]
    kept = {p.stem for p in (tmp_path / "up").glob("*.png")}
    assert kept == {a, b, d}  # c went: unused; b (named by the gallery) and a (needed) stayed although older
    os.utime(store.path(d), (2000, 2000))
    e = store.add(_png(5), "5.png")["id"]
    assert {p.stem for p in (tmp_path / "up").glob("*.png")} == {a, b, e}
    store.needed = lambda: {f"upload:{x}" for x in (a, b, e)}
    with pytest.raises(StoreFull, match="needed by a job it holds"):
        store.add(_png(6), "6.png")
    assert {p.stem for p in (tmp_path / "up").glob("*.png")} == {a, b, e} and not list((tmp_path / "up").glob(".*"))
    # The byte cap: room for about two of these pictures, as kept (with the name each was sent with).
    small = Uploads(tmp_path / "bytes", max_bytes=2 * store.path(a).stat().st_size + 10)
    ids = [small.add(_png(k), f"{k}.png")["id"] for k in (1, 2, 3)]
    assert len(list((tmp_path / "bytes").glob("*.png"))) == 2 and small.path(ids[-1])


def test_a_full_upload_store_answers_507(client):
    uploads = client.app.state.uploads
    held = {p.stem for p in uploads.folder.glob("*.png")}
    saved = uploads.max_files, uploads.needed
    uploads.max_files, uploads.needed = len(held), lambda: {f"upload:{h}" for h in held}
    try:
        res = client.post("/api/uploads", files={"file": ("x.png", _png(9), "image/png")})
    finally:
        uploads.max_files, uploads.needed = saved
    assert res.status_code == 507 and "no room" in res.json()["error"], res.text


# --- and afterwards -----------------------------------------------------------------------------


def test_after_all_that_a_good_job_still_runs(client, pictures, blocker):
    for j in client.get("/api/jobs").json()["jobs"]:
        if j["state"] == "queued":
            client.post(f"/api/jobs/{j['id']}/stop")
    assert client.post(f"/api/jobs/{blocker}/stop").status_code == 200
    assert wait(client, blocker, lambda s: s["state"] in FINAL)["state"] == "stopped"
    res = client.post("/api/jobs", json=good_jobs(pictures)[1])
    assert res.status_code == 201, res.text
    jid = res.json()["id"]
    seen = []
    with client.stream("GET", f"/api/jobs/{jid}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
    assert seen[-1]["state"] == "done", seen[-1]
    status = client.get(f"/api/jobs/{jid}").json()
    assert status["state"] == "done" and status["step"] == 2
    picture = client.get(f"/api/jobs/{jid}/result")
    assert picture.status_code == 200 and Image.open(io.BytesIO(picture.content)).size[0] > 0


def test_the_bench_against_a_real_studio_over_loopback(tmp_path):
    """bench/studio_fuzz.py, small: a `dreamstyle studio` process served by uvicorn (real HTTP
    parsing, real sockets on 127.0.0.1) under fuzzed requests, watchers and gallery readers."""
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-m", "bench.studio_fuzz", "--requests", "300", "--senders", "6", "--watchers", "4",
                           "--readers", "4", "--out", str(tmp_path)], cwd=root, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (result,) = tmp_path.glob("studio-fuzz-*.json")
    r = json.loads(result.read_text())
    assert r["fuzzed"] == 600 and r["requests"] >= 600, r
    assert (r["server_errors"], r["dropped"], r["not_json"]) == (0, 0, 0), r
    assert r["watchers"]["opened"] == r["watchers"]["ended"] == 4 and r["gallery_reads"]["served"] > 0, r
    assert r["good_job_after"] == "done" and r["server_alive"], r
    assert 400 in map(int, r["status"]) and 201 in map(int, r["status"])  # it did send bad jobs, and good ones


def test_an_unknown_model_is_refused_at_submission_not_after(client):
    before = len(client.get("/api/jobs").json()["jobs"])
    res = client.post("/api/jobs", json={"engine": "visualize.filters", "inputs": {}, "settings": {"model": "vgg61"}})
    assert res.status_code == 400 and res.json()["field"] == "model" and "vgg16" in res.json()["hint"]
    assert len(client.get("/api/jobs").json()["jobs"]) == before
