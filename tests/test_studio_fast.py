"""The studio's trained networks over HTTP: the network list, painting at once (POST /api/paint)
for the sliders and the camera, Keep as a queued `fast` job, and training from the page as a
queued `train` job whose network then appears in the list. Networks here are tiny (32 px crops,
a few iterations): what they paint is judged in tests/test_fast.py and docs/fast.md."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

import dreamstyle
from dreamstyle.core.job import Job
from dreamstyle.core.settings_fast import TrainSettings
from dreamstyle.studio.app import create_app
from studio_api import events, upload

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
HOST = "http://127.0.0.1:7860"
# No temporal loss: in 8 iterations it holds the two paintings too close together for the mix tests.
TINY = dict(model="efficientnet-lite0", size=32, batch=2, iterations=8, minutes=None, quiet=True, temporal_weight=0.0)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """A studio folder holding one two-painting network, as `dreamstyle train -o OUT/networks/two.pt` leaves it."""
    out = tmp_path_factory.mktemp("studio-fast")
    (out / "networks").mkdir()
    job = Job("train", {"styles": [str(SAMPLES / "swirls.jpg"), str(SAMPLES / "mosaic.png")]}, TrainSettings(**TINY),
              output=str(out / "networks" / "two.pt"))  # fmt: skip
    dreamstyle.run(job)
    return out


@pytest.fixture(scope="module")
def client(out):
    with TestClient(create_app(out), base_url=HOST) as c:
        yield c


def paint(client, content: str, **settings):
    return client.post("/api/paint", json={"inputs": {"content": f"upload:{content}"}, "settings": {"net": "two.pt", **settings}})


def pixels(res) -> np.ndarray:
    assert res.status_code == 200, res.text
    assert res.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(res.content)).convert("RGB"), dtype=float)


def files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and ".dreamstyle" not in p.parts}


def wait(client, jid: str, timeout: float = 180) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.get(f"/api/jobs/{jid}").json()
        if status["state"] in ("done", "stopped", "failed", "interrupted"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {jid} never ended: {status}")


def test_the_network_list_shows_each_network_with_its_paintings_and_preview(client, out):
    (out / "networks" / "broken.pt").write_bytes(b"not a network")
    try:
        nets = {n["name"]: n for n in client.get("/api/networks").json()["networks"]}
    finally:
        (out / "networks" / "broken.pt").unlink()
    two = nets["two.pt"]
    assert (two["paintings"], two["iterations"], two["net_size"], two["size"], two["error"]) == (2, 8, "small", 32, None)
    assert len(two["styles"]) == 2  # one slider per painting
    sheet = client.get(two["preview"])
    assert sheet.status_code == 200 and Image.open(io.BytesIO(sheet.content)).width > 32
    assert "not a network" in nets["broken.pt"]["error"] and nets["broken.pt"]["paintings"] == 0
    assert client.get("/api/networks/nowhere.pt/preview").status_code == 404


def test_paint_answers_a_png_of_the_asked_size_that_changes_with_the_mix_and_writes_nothing(client, out):
    cat = upload(client, "cat.jpg")
    before = files_in(out)
    first, second = pixels(paint(client, cat, mix=[1, 0], size=96)), pixels(paint(client, cat, mix=[0, 1], size=96))
    assert max(first.shape[:2]) == 96 and first.shape == second.shape
    assert np.abs(first - second).mean() > 0.5  # another painting of the two, another picture
    assert max(pixels(paint(client, cat, mix=[1, 0], size=64)).shape[:2]) == 64
    # A camera frame: the picture's bytes in the request, settings beside them, painted the same way.
    buf = io.BytesIO()
    Image.open(SAMPLES / "cat.jpg").convert("RGB").resize((128, 96)).save(buf, format="JPEG")
    res = client.post("/api/paint", files={"file": ("frame.jpg", buf.getvalue(), "image/jpeg")},
                      data={"settings": json.dumps({"net": "two.pt", "mix": [1, 1]})})  # fmt: skip
    assert pixels(res).shape == (96, 128, 3) and float(res.headers["x-paint-ms"]) > 0
    assert files_in(out) == before


@pytest.mark.parametrize("settings, status, field, needle", [
    ({"net": "nowhere.pt"}, 400, "net", "no network 'nowhere.pt'"),
    ({"net": "../networks/two.pt"}, 400, "net", "not by a path"),
    ({"net": "broken.pt"}, 400, "net", "not a network dreamstyle can load"),
    ({"net": "twin.pt"}, 400, "net", "damaged network"),
    ({"net": "two.pt", "mix": [1, 2, 3]}, 400, "mix", "--mix has 3 weights"),
    ({"net": "two.pt", "mix": [0, 0]}, 400, "mix", "not all zero"),
    ({"net": "two.pt", "mix": "lots"}, 400, "mix", "mix"),
    ({"net": "two.pt", "size": 4000}, 413, "size", "painted live"),
    ({"net": "two.pt", "size": 10**9}, 400, "size", "--size"),
    ({"net": "two.pt", "stepz": 3}, 400, "stepz", "stepz"),
    ({}, 400, "net", "missing --net"),
])  # fmt: skip
def test_bad_paint_requests_are_json_errors_naming_the_field(client, out, settings, status, field, needle):
    import torch

    nets = out / "networks"
    (nets / "broken.pt").write_bytes(b"not a network")
    raw = torch.load(nets / "two.pt", weights_only=True)
    raw["state_dict"] = {k: v[:1] for k, v in raw["state_dict"].items()}  # the right format, weights of the wrong shapes
    torch.save(raw, nets / "twin.pt")
    try:
        cat = upload(client, "cat.jpg")
        res = client.post("/api/paint", json={"inputs": {"content": f"upload:{cat}"}, "settings": settings})
    finally:
        (nets / "broken.pt").unlink()
        (nets / "twin.pt").unlink()
    body = res.json()
    assert res.status_code == status and body["field"] == field and needle in body["error"] + str(body["hint"]), res.text


def test_paint_refuses_what_is_not_a_picture_request(client):
    settings = json.dumps({"net": "two.pt"})
    res = client.post("/api/paint", files={"file": ("frame.jpg", b"no jpeg here", "image/jpeg")}, data={"settings": settings})
    assert res.status_code == 400 and "camera frame" in res.json()["error"]
    res = client.post("/api/paint", files={"file": ("frame.jpg", b"x", "image/jpeg")}, data={"settings": "{nope"})
    assert res.status_code == 400 and res.json()["field"] == "settings"
    res = client.post("/api/paint", json={"inputs": {"content": "/etc/passwd"}, "settings": {"net": "two.pt"}})
    assert res.status_code == 400 and res.json()["field"] == "inputs.content"
    res = client.post("/api/paint", content=b"hello", headers={"content-type": "text/plain"})
    assert res.status_code == 415 and "error" in res.json()


def test_the_form_offers_fast_and_train_with_the_pages_own_inputs(client):
    engines = client.get("/api/schema").json()["engines"]
    fast = {s["name"]: s for s in engines["fast"]["settings"]}
    assert fast["net"]["widget"] == "network" and fast["mix"]["widget"] == "mix" and "model" not in fast
    photos = {i["name"]: i for i in engines["train"]["inputs"]}
    assert (photos["photos"]["kind"], photos["photos"]["many"], photos["photos"]["optional"]) == ("image", True, True)
    assert photos["resume"]["kind"] == "network"


def test_training_from_the_page_lists_its_network_which_paints_and_keep_puts_a_picture_in_the_gallery(client, out):
    art = upload(client, "swirls.jpg")
    photos = [upload(client, n) for n in ("cat.jpg", "coffee.jpg", "rocket.jpg")]
    few = client.post("/api/jobs", json={"engine": "train", "inputs": {"styles": [f"upload:{art}"], "photos": [f"upload:{photos[0]}"]}})
    assert few.status_code == 400 and few.json()["field"] == "inputs.photos"
    body = {"engine": "train", "inputs": {"styles": [f"upload:{art}"], "photos": [f"upload:{p}" for p in photos]},
            "settings": {**{k: v for k, v in TINY.items() if k != "quiet"}, "iterations": 4, "preview_minutes": 1e-6}}  # fmt: skip
    res = client.post("/api/jobs", json=body)
    assert res.status_code == 201, res.text
    jid = res.json()["id"]
    seen = events(client, jid)
    status = wait(client, jid)
    assert status["state"] == "done" and status["result"] is None, status  # a network, not a picture of the gallery
    name = status["network"]
    assert name == "swirls.pt" and (out / "networks" / name).is_file()  # the painting's name, as `dreamstyle train` names it
    assert any(n == "preview" for n, _ in seen) and seen[-1][1]["network"] == name
    assert client.get(f"/api/jobs/{jid}/preview").status_code == 200  # the last preview sheet
    listed = {n["name"]: n for n in client.get("/api/networks").json()["networks"]}
    assert listed[name]["paintings"] == 1 and listed[name]["iterations"] == 4 and listed[name]["preview"]
    assert listed[name]["styles"] == [f"/api/uploads/{art}"]  # its painting, shown by its slider
    from dreamstyle.media.network_file import load_network

    record = Job.from_json(load_network(out / "networks" / name).record)
    assert len(list(Path(record.inputs["photos"]).iterdir())) == 3  # the uploaded photos, as the folder the engine reads
    assert all(i["engine"] != "train" for i in client.get("/api/gallery").json()["items"])  # the gallery lists pictures only

    cat = upload(client, "cat.jpg")
    assert max(pixels(paint(client, cat, net=name, size=48)).shape[:2]) == 48
    # Keep: the live settings as a queued `fast` job, into the gallery with its Job.
    kept = client.post("/api/jobs", json={"engine": "fast", "inputs": {"content": f"upload:{cat}"}, "settings": {"net": name, "size": 48}})
    assert kept.status_code == 201, kept.text
    done = wait(client, kept.json()["id"])
    assert done["state"] == "done" and done["network"] is None
    item = next(i for i in client.get("/api/gallery").json()["items"] if i["id"] == done["result"])
    assert item["engine"] == "fast" and item["job"]["settings"]["net"].endswith(name) and item["again"]["settings"]["net"] == name
    assert item["name"] == "cat-style.png"  # the photo's name, as `dreamstyle style --net` names it
    # Again on a training job trains another network (a .pt, not a .png).
    again = client.post(f"/api/jobs/{jid}/again")
    assert again.status_code == 201, again.text
    second = wait(client, again.json()["id"])
    assert second["state"] == "done" and second["network"] == "swirls-2.pt"
