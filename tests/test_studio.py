"""The studio's HTTP API on a real engine: upload, submit, watch, stop, queue, gallery, refusals."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient
from typer.testing import CliRunner

from dreamstyle import Job
from dreamstyle.cli import app as cli
from dreamstyle.studio.app import create_app
from studio_api import events, upload, wait

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
LITE = {"model": "efficientnet-lite0", "size": 64}
HOST = "http://127.0.0.1:7860"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("studio-out")


@pytest.fixture(scope="module")
def client(out):
    with TestClient(create_app(out), base_url=HOST) as c:
        yield c


@pytest.mark.cpu("its result reruns to byte-identical output")
def test_a_style_job_streams_its_steps_and_previews_and_its_result_reruns_to_the_same_bytes(client, tmp_path):
    photo, painting = upload(client, "cat.jpg"), upload(client, "swirls.jpg")
    job = {"engine": "style", "inputs": {"content": f"upload:{photo}", "styles": [f"upload:{painting}"]},
           "settings": {**LITE, "size": 96, "steps": 60}}  # long enough for previews ¼ s apart  # fmt: skip
    res = client.post("/api/jobs", json=job)
    assert res.status_code == 201, res.text
    jid = res.json()["id"]
    seen = events(client, jid)
    names = [n for n, _ in seen]
    assert names[0] == "state" and seen[1] == ("state", {"state": "running"}) and names[-1] == "end"
    steps = [d["step"] for n, d in seen if n == "step"]
    assert steps == list(range(1, 61))
    previews = [d for n, d in seen if n == "preview"]
    assert len(previews) >= 2 and [p["n"] for p in previews] == list(range(1, len(previews) + 1))
    assert "item" in names and seen[-1][1]["state"] == "done"
    status = client.get(f"/api/jobs/{jid}").json()
    assert status["state"] == "done" and status["step"] == 60 and set(status["losses"]) >= {"loss", "style", "content"}
    # The preview shows the picture as it formed: it moved away from the photo.
    shown = np.asarray(Image.open(io.BytesIO(client.get(f"/api/jobs/{jid}/preview").content)).convert("RGB"), dtype=float)
    photo_px = np.asarray(Image.open(io.BytesIO(client.get(f"/api/uploads/{photo}").content)).convert("RGB").resize(shown.shape[1::-1]), dtype=float)
    assert np.abs(shown - photo_px).mean() > 5
    # The result carries its Job, which runs again to the same bytes.
    result = client.get(f"/api/jobs/{jid}/result")
    assert result.status_code == 200 and result.headers["content-type"] == "image/png"
    first = tmp_path / "first.png"
    first.write_bytes(result.content)
    again = Job.from_png(first)
    assert again.engine == "style" and again.settings.steps == 60
    import dreamstyle

    dreamstyle.run(again.replace(output=str(tmp_path / "again.png")))
    assert (tmp_path / "again.png").read_bytes() == result.content


def test_stop_keeps_the_picture_so_far_in_the_gallery(client):
    photo = upload(client, "coffee.jpg")
    jid = client.post("/api/jobs", json={"engine": "dream", "inputs": {"image": f"upload:{photo}"},
                                         "settings": {**LITE, "steps": 2000, "octaves": 1}}).json()["id"]  # fmt: skip
    wait(client, jid, lambda s: s["step"] >= 3)
    assert client.post(f"/api/jobs/{jid}/stop").json()["state"] == "running"
    status = wait(client, jid, lambda s: s["state"] != "running")
    assert status["state"] == "stopped" and status["step"] < 2000 and status["result"]
    items = {i["id"]: i for i in client.get("/api/gallery").json()["items"]}
    partial = items[status["result"]]
    assert partial["partial"] and partial["engine"] == "dream" and partial["again"]["inputs"]["image"] == f"upload:{photo}"
    assert client.get(partial["input"]).content == client.get(f"/api/uploads/{photo}").content  # before/after has its "before"


def test_one_job_at_a_time_in_order_and_a_queued_job_can_be_dropped(client):
    photo = upload(client, "cat.jpg")
    job = {"engine": "dream", "inputs": {"image": f"upload:{photo}"}, "settings": {**LITE, "steps": 4, "octaves": 1}}
    ids = [client.post("/api/jobs", json=job).json()["id"] for _ in range(3)]
    listing = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
    assert sum(listing[i]["state"] == "running" for i in ids) <= 1
    assert client.post(f"/api/jobs/{ids[2]}/stop").json()["state"] in ("stopped", "running", "done")
    ended = [wait(client, i, lambda s: s["state"] in ("done", "stopped", "failed")) for i in ids]
    assert [e["state"] for e in ended[:2]] == ["done", "done"]
    if ended[2]["state"] == "stopped":  # dropped while it waited: it never ran
        assert ended[2]["step"] == 0 and ended[2]["result"] is None
    # They ran in the order they came, one at a time: each started after the one before had ended.
    assert ended[0]["started"] < ended[1]["started"] and ended[0]["ended"] <= ended[1]["started"]


def test_an_engine_error_fails_that_job_and_the_studio_goes_on(client):
    photo = upload(client, "cat.jpg")
    bad = client.post("/api/jobs", json={"engine": "dream", "inputs": {"image": f"upload:{photo}"},
                                         "settings": {**LITE, "layers": "blok9", "steps": 1}}).json()["id"]  # fmt: skip
    status = wait(client, bad, lambda s: s["state"] != "queued" and s["state"] != "running")
    assert status["state"] == "failed" and "blok9" in status["error"] and "block9" in status["hint"]
    good = client.post("/api/jobs", json={"engine": "visualize.channels", "inputs": {"layer": "block3", "channels": "0-1"},
                                          "settings": {"model": "efficientnet-lite0", "size": 48, "steps": 2}}).json()["id"]  # fmt: skip
    assert wait(client, good, lambda s: s["state"] in ("done", "failed", "stopped"))["state"] == "done"


def test_the_gallery_outlives_the_studio(client, out):
    """A restarted studio over the same folder shows what the last one made."""
    before = {i["id"] for i in client.get("/api/gallery").json()["items"]}
    assert before
    with TestClient(create_app(out), base_url=HOST) as again:
        assert {i["id"] for i in again.get("/api/gallery").json()["items"]} == before


def test_the_gallery_lists_pictures_the_cli_made_there_newest_first(client, out):
    res = CliRunner().invoke(cli, ["dream", str(SAMPLES / "rocket.jpg"), "--model", "efficientnet-lite0", "--size", "64",
                                   "--octaves", "1", "--steps", "1", "-q", "-o", str(out / "from-the-cli.png")])  # fmt: skip
    assert res.exit_code == 0, res.output
    (out / "not-ours.png").write_bytes((SAMPLES / "stripes.png").read_bytes())  # no Job inside: not listed
    items = client.get("/api/gallery").json()["items"]
    names = [i["name"] for i in items]
    assert names[0] == "from-the-cli.png" and "not-ours.png" not in names
    assert [i["created"] for i in items] == sorted((i["created"] for i in items), reverse=True)
    cli_item = items[0]
    assert cli_item["job"]["engine"] == "dream" and cli_item["input"] is None  # its photo is not an upload
    got = client.get(cli_item["image"] + "?download=1")
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]


@pytest.mark.parametrize(
    "body, status, needle",
    [({"engine": "dream", "inputs": {"image": "/etc/passwd"}, "settings": {}}, 400, "upload:ID"),
     ({"engine": "dream", "inputs": {"image": "upload:0123456789abcdef"}, "settings": {}}, 400, "no upload"),
     ({"engine": "zoom", "inputs": {}, "settings": {}}, 400, "does not run 'zoom'"),
     ({"engine": "dream", "inputs": {"image": "UP"}, "settings": {"stepz": 3}}, 400, "'steps'"),
     ({"engine": "dream", "inputs": {"image": "UP"}, "settings": {"size": 0}}, 400, "--size 0"),
     ({"engine": "dream", "inputs": {"image": "UP"}, "settings": {"weights": "/tmp/x.pth"}}, 400, "weights"),
     ({"engine": "dream", "inputs": {"image": "UP"}, "settings": {"guide": "../../etc/passwd"}}, 400, "upload:ID"),
     ({"engine": "style", "inputs": {"content": "UP"}, "settings": {}}, 400, "missing STYLE"),
     ({"engine": "dream", "inputs": {"image": "UP"}, "settings": {}, "preset": "swirly"}, 400, "swirls")],
)  # fmt: skip
def test_bad_jobs_are_refused_with_a_json_error(client, body, status, needle):
    photo = upload(client, "cat.jpg")
    body = json.loads(json.dumps(body).replace('"UP"', json.dumps(f"upload:{photo}")))
    res = client.post("/api/jobs", json=body)
    assert res.status_code == status and needle in res.json()["error"] + str(res.json()["hint"]), res.text


def test_bad_uploads_are_refused(out, tmp_path):
    small = create_app(tmp_path / "o", max_upload_bytes=20_000, max_pixels=100 * 100)
    with TestClient(small, base_url=HOST) as c:
        res = c.post("/api/uploads", files={"file": ("notes.txt", b"hello, not a picture", "text/plain")})
        assert res.status_code == 400 and "notes.txt" in res.json()["error"] and "Pillow" in res.json()["error"]
        big = (SAMPLES / "cat.jpg").read_bytes()
        assert len(big) > 20_000
        res = c.post("/api/uploads", files={"file": ("cat.jpg", big, "image/jpeg")})
        assert res.status_code == 413 and "bytes" in res.json()["error"]
        buf = io.BytesIO()
        Image.new("RGB", (200, 200)).save(buf, format="PNG")
        res = c.post("/api/uploads", files={"file": ("wide.png", buf.getvalue(), "image/png")})
        assert res.status_code == 413 and "too large" in res.json()["error"] and "--max-pixels" in res.json()["hint"]
        assert c.post("/api/uploads", data={"x": "1"}).status_code == 400
        assert list((tmp_path / "o" / ".uploads").iterdir()) == []  # nothing refused was kept


def test_files_are_reached_by_ids_only(client):
    for url in ("/api/gallery/..%2f..%2fetc%2fpasswd/image", "/api/uploads/..%2fx", "/api/gallery/0123456789abcdef/input",
                "/api/jobs/nope", "/api/jobs/nope/preview", "/static/..%2f..%2fapp.py"):  # fmt: skip
        assert client.get(url).status_code == 404, url


def test_another_origin_and_another_host_are_refused(client):
    photo = upload(client, "cat.jpg")
    job = {"engine": "dream", "inputs": {"image": f"upload:{photo}"}, "settings": {**LITE, "steps": 1}}
    res = client.post("/api/jobs", json=job, headers={"origin": "https://evil.example"})
    assert res.status_code == 403 and "another site" in res.json()["error"]
    assert client.post("/api/jobs", json=job, headers={"sec-fetch-site": "cross-site"}).status_code == 403
    assert client.post("/api/uploads", files={"file": ("a.png", b"x")}, headers={"origin": "null"}).status_code == 403
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 still says so in Host.
    assert client.get("/api/gallery", headers={"host": "evil.example:7860"}).status_code == 403
    ok = client.post("/api/jobs", json=job, headers={"origin": HOST})
    assert ok.status_code == 201


def test_off_loopback_a_token_is_needed_then_a_strict_cookie_carries_it(tmp_path):
    app = create_app(tmp_path / "o", token="s3cret", loopback=False)
    with TestClient(app, base_url="http://192.168.1.20:7860") as c:
        assert c.get("/api/gallery").status_code == 403
        assert c.get("/api/gallery?token=wrong").status_code == 403
        first = c.get("/?token=s3cret")
        assert first.status_code == 200
        cookie = first.headers["set-cookie"]
        assert "dreamstyle_token=s3cret" in cookie and "SameSite=Strict" in cookie and "HttpOnly" in cookie
        assert c.get("/api/gallery").status_code == 200  # the cookie now
    with TestClient(app, base_url="http://192.168.1.20:7860") as c:
        assert c.get("/api/gallery", headers={"authorization": "Bearer s3cret"}).status_code == 200  # scripts


def test_the_form_is_generated_from_the_settings(client):
    s = client.get("/api/schema").json()
    style = {f["name"]: f for f in s["engines"]["style"]["settings"]}
    assert style["style_weight"]["main"] and style["style_weight"]["default"] == 100.0 and style["style_weight"]["type"] == "float"
    assert "style loss" in style["style_weight"]["help"]
    assert style["preserve_color"]["choices"] == ["none", "luminance", "histogram"]
    # Steps are a number or "auto" (style's default): a text field, read by the server's build().
    assert style["steps"]["default"] == "auto" and style["steps"]["type"] == "int|auto"
    assert "weights" not in style and "quiet" not in style
    assert [i["name"] for i in s["engines"]["style"]["inputs"] if not i["widget"]] == ["content", "styles"]  # the rest are painted (test_studio_regions)
    assert {p["name"] for p in s["presets"]["dream"]} >= {"classic", "swirls"}
    assert "efficientnet-lite0" in s["models"]
    page = client.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_again_puts_default_layers_back_to_default(client):
    """Again must not pin the layers a model defaulted to: another model in the form lacks them."""
    item = next(i for i in client.get("/api/gallery").json()["items"] if i["engine"] == "style")
    assert item["job"]["settings"]["style_layers"]  # recorded as run
    assert item["again"]["settings"]["style_layers"] is None and item["again"]["settings"]["content_layers"] is None
