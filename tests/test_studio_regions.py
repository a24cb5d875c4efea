"""Regions and masks in the studio: the brush over the photo in a real browser (a region painted,
undone, painted again, sent with the job as a colour map and its key, kept beside the picture and
painted back by Again), and the API around it (Find regions' refusals, a dream's mask kept beside
its picture, the gallery not listing those files as pictures).

The engines' use of the map is tested with the engines; here what the page sends and the server
keeps.
"""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from studio_api import upload
from studio_harness import SAMPLES, TIMEOUT_MS, make, tid
from test_studio import client, out  # noqa: F401 (fixtures: the API on a fresh folder)
from test_studio_browser import browser_context, page, studio  # noqa: F401 (fixtures: the page on a fresh folder)

RED, GREEN = (230, 25, 75), (60, 180, 75)  # the palette's first two: painting 1, painting 2 (the rest)
LITE = {"model": "efficientnet-lite0", "size": 64, "steps": 3}


# --- the API ----------------------------------------------------------------------------------

def png_upload(client, img: Image.Image, name: str = "mask.png") -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    res = client.post("/api/uploads", files={"file": (name, buf.getvalue(), "image/png")})
    assert res.status_code == 201, res.text
    return res.json()["id"]


def wait_ended(client, jid: str, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.get(f"/api/jobs/{jid}").json()
        if status["state"] not in ("queued", "running"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {jid} did not end: {status}")


@pytest.mark.parametrize("body, status, field", [
    ({"image": "upload:0123456789abcdef", "k": 1}, 400, "k"),
    ({"image": "upload:0123456789abcdef", "k": 9}, 400, "k"),
    ({"image": "upload:0123456789abcdef", "k": "3"}, 400, "k"),
    ({"image": "samples/cat.jpg", "k": 2}, 400, "image"),
    ({"image": "upload:0123456789abcdef", "k": 2}, 404, "image"),
])  # fmt: skip
def test_find_regions_refuses_bad_requests_with_json(client, body, status, field):
    res = client.post("/api/regions", json=body)
    assert res.status_code == status, res.text
    assert res.json()["field"] == field and res.json()["error"]


def test_find_regions_answers_a_map_in_the_palette(client):
    photo = upload(client, "cat.jpg")
    res = client.post("/api/regions", json={"image": f"upload:{photo}", "k": 2})
    assert res.status_code == 201, res.text
    found = res.json()
    assert found["upload"].startswith("upload:") and 1 <= len(found["colors"]) <= 2
    palette = client.get("/api/schema").json()["palette"]
    assert found["colors"] == palette[: len(found["colors"])]
    with Image.open(io.BytesIO(client.get(f"/api/uploads/{found['upload'][7:]}").content)) as m, Image.open(SAMPLES / "cat.jpg") as p:
        assert m.size == p.size


def test_the_schema_offers_the_painted_inputs_and_the_palette(client):
    schema = client.get("/api/schema").json()
    assert schema["palette"][:2] == ["#e6194b", "#3cb44b"] and len(schema["palette"]) == 8
    style = {i["name"]: i for i in schema["engines"]["style"]["inputs"]}
    assert style["regions"]["widget"] == "regions" and style["masks"]["widget"] == style["style_masks"]["widget"] == "hidden"
    assert {i["name"]: i["widget"] for i in schema["engines"]["dream"]["inputs"]}["mask"] == "mask"
    assert "regions_key" not in [s["name"] for s in schema["engines"]["style"]["settings"]]  # the map's own, not a field


def test_a_dream_with_a_mask_keeps_the_mask_beside_its_picture_and_the_gallery_lists_only_the_picture(client, out):
    photo = upload(client, "cat.jpg")
    with Image.open(SAMPLES / "cat.jpg") as p:
        mask = Image.new("L", p.size, 0)
    mask.paste(255, (0, 0, mask.width // 2, mask.height))
    mid = png_upload(client, mask)
    res = client.post("/api/jobs", json={"engine": "dream", "inputs": {"image": f"upload:{photo}", "mask": f"upload:{mid}"}, "settings": LITE})
    assert res.status_code == 201, res.text
    jid = res.json()["id"]
    beside = list(out.glob("*.mask.png"))
    assert len(beside) == 1 and beside[0].read_bytes() == client.get(f"/api/uploads/{mid}").content
    status = wait_ended(client, jid)
    assert status["state"] == "done", status
    items = client.get("/api/gallery").json()["items"]
    assert not any(i["name"].endswith((".mask.png", ".regions.png")) for i in items)
    item = next(i for i in items if i["id"] == status["result"])
    assert item["name"].removesuffix(".png") + ".mask.png" == beside[0].name
    assert item["again"]["inputs"]["mask"] == f"upload:{mid}"  # an id, never the server's path
    assert item["painted"] == f"/api/gallery/{item['id']}/painted"
    assert client.get(item["painted"]).content == beside[0].read_bytes()
    # Again (the API's) keeps the mask beside its new picture too.
    again = client.post(f"/api/jobs/{jid}/again")
    assert again.status_code == 201, again.text
    assert len(list(out.glob("*.mask.png"))) == 2
    wait_ended(client, again.json()["id"])


def test_a_style_job_with_regions_is_accepted_and_keeps_its_map(client, out):
    photo, a, b = upload(client, "cat.jpg"), upload(client, "swirls.jpg"), upload(client, "mosaic.png")
    with Image.open(SAMPLES / "cat.jpg") as p:
        regions = Image.new("RGB", p.size, GREEN)
    regions.paste(RED, (0, 0, regions.width // 3, regions.height))
    rid = png_upload(client, regions, "regions.png")
    job = {"engine": "style", "inputs": {"content": f"upload:{photo}", "styles": [f"upload:{a}", f"upload:{b}"], "regions": f"upload:{rid}"},
           "settings": {**LITE, "regions_key": "#e6194b,#3cb44b"}}  # fmt: skip
    res = client.post("/api/jobs", json=job)
    assert res.status_code == 201, res.text
    assert any(p.read_bytes() == client.get(f"/api/uploads/{rid}").content for p in out.glob("*.regions.png"))
    # The map counts among what a queued job needs, so the upload store's cap keeps it.
    from dreamstyle.studio.jobs import uploads_of

    app_uploads = client.app.state.uploads
    entry = client.app.state.worker.get(res.json()["id"])
    assert f"upload:{rid}" in uploads_of([entry.job], app_uploads)
    wait_ended(client, res.json()["id"])
    # An empty map is no map: the plain job.
    plain = client.post("/api/jobs", json={**job, "inputs": {**job["inputs"], "regions": ""}, "settings": LITE})
    assert plain.status_code == 201, plain.text
    assert "regions" not in client.app.state.worker.get(plain.json()["id"]).job.inputs
    # An unknown upload is refused, naming the field.
    bad = client.post("/api/jobs", json={**job, "inputs": {**job["inputs"], "regions": "upload:0123456789abcdef"}})
    assert bad.status_code == 400 and bad.json()["field"] == "inputs.regions"
    wait_ended(client, plain.json()["id"])


# --- the page ---------------------------------------------------------------------------------

# A pixel of the map canvas, at a fraction of its width and height: [r, g, b, a].
CANVAS_PIXEL = """([fx, fy]) => {
  const c = document.querySelector("[data-testid='region-canvas']");
  return [...c.getContext('2d').getImageData(Math.floor(fx * c.width), Math.floor(fy * c.height), 1, 1).data];
}"""


def drag(page, y: float, x0: float, x1: float) -> None:
    """Drag the brush across the shown map, at height `y`, from `x0` to `x1` (fractions)."""
    page.eval_on_selector(tid("region-canvas"), "c => c.scrollIntoView({block: 'center'})")  # clear of the sticky Make bar
    box = page.locator(tid("region-canvas")).bounding_box()
    page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y * box["height"])
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(box["x"] + (x0 + (x1 - x0) * k / 10) * box["width"], box["y"] + y * box["height"])
    page.mouse.up()


def test_painting_a_region_sends_the_map_and_again_paints_it_back(studio, page):
    page.select_option(tid("engine"), "style")
    page.set_input_files(tid("input-content"), SAMPLES / "cat.jpg")
    page.set_input_files(tid("input-styles"), [SAMPLES / "swirls.jpg", SAMPLES / "mosaic.png"])
    page.wait_for_function("() => [...document.querySelectorAll(\"[data-testid='thumbs-styles'] [data-upload]\")].filter(e => e.dataset.upload).length === 2")
    page.wait_for_selector(f"{tid('thumbs-content')} [data-upload]:not([data-upload=''])")
    for name, value in LITE.items():
        (page.select_option if name == "model" else page.fill)(tid(f"setting-{name}"), str(value))

    page.click(tid("region-toggle"))
    page.wait_for_selector(tid("region-editor"), state="visible")
    with Image.open(SAMPLES / "cat.jpg") as photo:
        aspect = photo.width / photo.height
    page.wait_for_function("a => { const c = document.querySelector(\"[data-testid='region-canvas']\"); return c.width > 1 && Math.abs(c.width / c.height - a) < 0.01; }", arg=aspect)
    assert "swirls.jpg" in page.inner_text(tid("region-brush-0")) and "mosaic.png" in page.inner_text(tid("region-brush-1"))
    assert "Nothing painted" in page.inner_text(tid("region-status"))

    # A stroke with the first painting's colour, then undone by the button, then by Ctrl+Z.
    page.click(tid("region-brush-0"))
    drag(page, 0.5, 0.15, 0.6)
    assert page.evaluate(CANVAS_PIXEL, [0.4, 0.5]) == [*RED, 255]
    assert page.evaluate(CANVAS_PIXEL, [0.9, 0.1])[3] == 0
    page.click(tid("region-undo"))
    assert page.evaluate(CANVAS_PIXEL, [0.4, 0.5])[3] == 0
    drag(page, 0.5, 0.15, 0.6)
    page.focus(tid("region-canvas"))
    page.keyboard.press("Control+z")
    assert page.evaluate(CANVAS_PIXEL, [0.4, 0.5])[3] == 0
    drag(page, 0.5, 0.15, 0.6)
    page.wait_for_function("() => document.querySelector(\"[data-testid='region-status']\").textContent.startsWith('Painted')")

    # Make: the map is uploaded and sent with its key; the rest is the last painting's colour.
    sent = make(page)
    body = sent["body"]
    assert body["settings"]["regions_key"] == "#e6194b,#3cb44b"
    assert body["inputs"]["regions"].startswith("upload:") and len(body["inputs"]["styles"]) == 2
    regions = studio["out"] / ".uploads" / f"{body['inputs']['regions'][7:]}.png"
    with Image.open(regions) as m:
        assert abs(m.width / m.height - aspect) < 0.01 and max(m.size) <= 1024
        rgb = m.convert("RGB")
        assert rgb.getpixel((int(0.4 * m.width), int(0.5 * m.height))) == RED
        assert rgb.getpixel((int(0.9 * m.width), int(0.1 * m.height))) == GREEN
        assert rgb.getpixel((int(0.4 * m.width), int(0.05 * m.height))) == GREEN
    beside = list(studio["out"].glob("*.regions.png"))
    assert len(beside) == 1 and beside[0].read_bytes() == regions.read_bytes()

    # The picture in the gallery, with its regions; Again paints them back into the brush.
    page.wait_for_selector(f"{tid('live-state')}.done", timeout=2 * TIMEOUT_MS)
    card = page.locator(tid("gallery-item")).first
    card.wait_for()
    assert page.locator(tid("gallery-item")).count() == 1  # the map is not a picture of its own
    card.locator(tid("painted-toggle")).click()
    page.wait_for_selector(tid("painted-overlay"))
    page.click(tid("region-clear"))
    page.select_option(tid("engine"), "dream")
    regions.unlink()  # the upload store forgot the map: Again paints the copy beside the picture
    card.locator(tid("again")).click()
    page.wait_for_selector(tid("region-editor"), state="visible")
    page.wait_for_function("() => { const c = document.querySelector(\"[data-testid='region-canvas']\");"
                           " return c.getContext('2d').getImageData(Math.floor(0.4 * c.width), Math.floor(0.5 * c.height), 1, 1).data[0] === 230; }")
    assert page.evaluate(CANVAS_PIXEL, [0.9, 0.1])[:3] == list(GREEN)
    again = make(page)
    assert again["body"]["settings"]["regions_key"] == "#e6194b,#3cb44b" and again["body"]["inputs"]["regions"].startswith("upload:")
    page.wait_for_selector(f"{tid('live')}[data-job='{again['id']}']")
    page.wait_for_selector(f"{tid('live-state')}.done", timeout=2 * TIMEOUT_MS)
    assert page.locator(tid("message-error")).all_inner_texts() == []
    assert page.problems == []


def test_nothing_painted_sends_a_plain_job_and_a_dream_paints_a_mask(studio, page):
    page.select_option(tid("engine"), "dream")
    page.set_input_files(tid("input-image"), SAMPLES / "cat.jpg")
    page.wait_for_selector(f"{tid('thumbs-image')} [data-upload]:not([data-upload=''])")
    for name, value in LITE.items():
        (page.select_option if name == "model" else page.fill)(tid(f"setting-{name}"), str(value))
    plain = make(page)
    assert "mask" not in plain["body"]["inputs"]
    page.click(tid("region-toggle"))
    page.wait_for_selector(tid("region-editor"), state="visible")
    assert page.locator(tid("region-find")).count() == 0  # a mask has no regions to find
    page.click(tid("region-brush-0"))
    drag(page, 0.3, 0.1, 0.5)
    masked = make(page)
    mask = studio["out"] / ".uploads" / f"{masked['body']['inputs']['mask'][7:]}.png"
    with Image.open(mask) as m:
        grey = m.convert("L")
        assert grey.getpixel((int(0.3 * m.width), int(0.3 * m.height))) == 255
        assert grey.getpixel((int(0.8 * m.width), int(0.8 * m.height))) == 0
    assert "regions_key" not in masked["body"]["settings"]
    page.wait_for_selector(f"{tid('live')}[data-job='{masked['id']}']")
    page.wait_for_selector(f"{tid('live-state')}.done", timeout=2 * TIMEOUT_MS)
    assert page.problems == []
