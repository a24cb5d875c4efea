"""PNG Info and Compare (issue 28): a picture the command line made, posted to POST /api/info or
dropped on the page, fills the form with its Job and its photo (uploaded again where the studio may
reach it, marked missing where not); two gallery pictures are compared with a slider, side by
side, and a table of what differs.

The API through Starlette's TestClient; the page in Debian's chromium through Playwright
(studio_harness.py), skipped without a browser except under CI. Screenshots go to
$DREAMSTYLE_SHOTS when it is set, else to the test's temporary folder.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from typer.testing import CliRunner

from dreamstyle.cli import app as cli
from dreamstyle.media.images import SETTINGS_KEY, read_settings

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
HOST = "http://127.0.0.1:7860"
DREAM = ["--model", "efficientnet-lite0", "--size", "48", "--steps", "1", "--octaves", "1", "-q"]


def dream(photo: Path, output: Path, *more: str) -> Path:
    res = CliRunner().invoke(cli, ["dream", str(photo), *DREAM, *more, "-o", str(output)])
    assert res.exit_code == 0, res.output
    return output


def with_record(source: Path, target: Path, change) -> Path:
    """A copy of the picture `source` whose embedded Job is `change(record)`."""
    record = change(read_settings(source))
    info = PngImagePlugin.PngInfo()
    info.add_text(SETTINGS_KEY, json.dumps(record))
    with Image.open(source) as img:
        img.save(target, pnginfo=info)
    return target


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A photo outside the studio's folder, a dream of it by the CLI (outside too), the same dream
    recording a photo that is nowhere, two dreams in the studio's folder, a plain PNG and text."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DREAMSTYLE_OFFLINE", "1")
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))
        root = tmp_path_factory.mktemp("drop")
        photos, elsewhere, out = root / "photos", root / "made", root / "studio-out"
        for folder in (photos, elsewhere, out):
            folder.mkdir()
        photo = photos / "photo.jpg"
        shutil.copy(SAMPLES / "cat.jpg", photo)
        cli_png = dream(photo, elsewhere / "cat-dream.png")
        gone = with_record(cli_png, elsewhere / "gone.png", lambda r: {**r, "inputs": {**r["inputs"], "image": "/nowhere/photo.jpg"}, "ran": None})
        dream(photo, out / "a.png")
        dream(photo, out / "b.png", "--lr", "0.05", "--seed", "7")
        plain = elsewhere / "plain.png"
        Image.new("RGB", (32, 24), (200, 40, 40)).save(plain)
        text = elsewhere / "notes.txt"
        text.write_text("hello")
        yield {"photo": photo, "png": cli_png, "gone": gone, "out": out, "plain": plain, "text": text, "shots": Path(os.environ.get("DREAMSTYLE_SHOTS") or root)}


def client_for(out: Path, **options):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from dreamstyle.studio.app import create_app

    return TestClient(create_app(out, **options), base_url=HOST)


def post(client, path: Path, **kwargs):
    with open(path, "rb") as f:
        return client.post("/api/info", files={"file": (path.name, f, "image/png")}, **kwargs)


def test_info_gives_the_job_and_uploads_the_photo_again(made, tmp_path):
    with client_for(tmp_path) as client:
        res = post(client, made["png"])
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["job"]["engine"] == "dream" and body["job"]["settings"]["size"] == 48
        assert body["missing"] == []
        ref = body["inputs"]["image"]
        assert ref.startswith("upload:") and body["again"]["inputs"]["image"] == ref
        assert body["again"]["settings"]["model"] == "efficientnet-lite0"
        photo = client.get(f"/api/uploads/{ref[7:]}")
        assert photo.status_code == 200
        with Image.open(io.BytesIO(photo.content)) as got, Image.open(made["photo"]) as want:
            assert got.size == want.size
        # The form's fill is a job the studio takes as it is.
        assert client.post("/api/jobs", json={**body["again"], "settings": {**body["again"]["settings"], "steps": 1}}).status_code == 201
        # The same picture as a bare body (curl --data-binary) reads the same.
        raw = client.post("/api/info", content=made["png"].read_bytes(), headers={"content-type": "image/png"})
        assert raw.status_code == 200 and raw.json()["job"] == body["job"]


def test_a_studio_picture_gets_its_upload_back_without_a_copy(made, tmp_path):
    """A picture the studio made records its photo in OUT/.uploads: that upload is named again."""
    with client_for(tmp_path) as client:
        with open(made["photo"], "rb") as f:
            uid = client.post("/api/uploads", files={"file": ("photo.jpg", f, "image/jpeg")}).json()["id"]
        kept = str(tmp_path / ".uploads" / f"{uid}.png")
        png = with_record(made["png"], tmp_path / "studio-made.png", lambda r: {**r, "inputs": {**r["inputs"], "image": kept}, "ran": None})
        res = post(client, png)
    assert res.status_code == 200, res.text
    assert res.json()["inputs"] == {"image": f"upload:{uid}"} and len(list((tmp_path / ".uploads").glob("*.png"))) == 1


def test_a_photo_that_is_nowhere_is_marked_missing(made, tmp_path):
    with client_for(tmp_path) as client:
        res = post(client, made["gone"])
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["inputs"] == {"image": None}
    assert body["missing"] == [{"input": "image", "file": "photo.jpg", "message": "photo.jpg: not found here — choose it again"}]


def test_beyond_this_machine_only_the_output_folder_is_read(made, tmp_path):
    """A studio on another address takes a record's files from its output folder only: a record
    naming another of the server's files gets nothing of it."""
    out = tmp_path / "remote-out"
    out.mkdir()
    auth = {"authorization": "Bearer secret"}
    with client_for(out, token="secret", loopback=False) as client:
        res = post(client, made["png"], headers=auth)
        assert res.status_code == 200, res.text
        assert res.json()["inputs"] == {"image": None} and res.json()["missing"][0]["file"] == "photo.jpg"
        shutil.copy(made["photo"], out / "photo.jpg")  # now the folder has it, by its name
        res = post(client, made["png"], headers=auth)
        assert res.json()["inputs"]["image"].startswith("upload:") and res.json()["missing"] == []


def test_a_picture_without_a_job_and_what_is_no_picture_are_refused_in_one_line(made, tmp_path):
    with client_for(tmp_path) as client:
        plain = post(client, made["plain"])
        assert plain.status_code == 422
        assert plain.json()["error"] == "this picture carries no dreamstyle settings"
        text = post(client, made["text"])
        assert text.status_code == 400 and text.json()["error"] == "that is not a picture"
        assert client.post("/api/info", json={"image": "x"}).status_code == 415
        assert client.post("/api/info", files={"other": ("a.png", b"x", "image/png")}).status_code == 400


# --- in the browser ----------------------------------------------------------------------------

# A drop (or a paste) of a file built in the page from base64 bytes, on `selector`.
DROP = """([selector, name, type, b64, kind]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, {type}));
  const target = document.querySelector(selector);
  if (kind === 'paste') { target.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true})); return; }
  for (const ev of (kind === 'hover' ? ['dragenter', 'dragover'] : ['dragenter', 'dragover', 'drop']))
    target.dispatchEvent(new DragEvent(ev, {dataTransfer: data, bubbles: true, cancelable: true}));
}"""


def send(page, selector: str, path: Path, kind: str = "drop") -> None:
    page.evaluate(DROP, [selector, path.name, "image/png", base64.b64encode(path.read_bytes()).decode(), kind])


@pytest.fixture(scope="module")
def studio_page(made):
    pytest.importorskip("uvicorn")
    from studio_harness import browser, browser_or_skip, open_page, serve_studio

    exe = browser_or_skip()
    with serve_studio(made["out"]) as url, browser(exe) as context:
        yield {"url": url, "context": context, "page": open_page(context, url)}


def test_dropping_a_cli_picture_on_the_page_fills_the_form(made, studio_page):
    from studio_harness import tid

    page = studio_page["page"]
    page.select_option(tid("engine"), "style")  # the drop must bring the dream back
    send(page, "main", made["png"], "hover")
    page.wait_for_selector(tid("drop-overlay"), state="visible")
    page.screenshot(path=str(made["shots"] / "studio-drop-overlay.png"))
    send(page, "main", made["png"])
    page.wait_for_selector("body[data-loaded='cat-dream.png']")
    assert page.input_value(tid("engine")) == "dream"
    assert page.input_value(tid("setting-size")) == "48" and page.input_value(tid("setting-steps")) == "1"
    thumb = page.wait_for_selector(f"{tid('thumbs-image')} [data-upload]:not([data-upload='']) img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb)
    page.screenshot(path=str(made["shots"] / "studio-drop-filled.png"))
    # Chosen with the button: a record whose photo is nowhere says so in the photo's box.
    page.set_input_files(tid("load-settings-file"), made["gone"])
    note = page.wait_for_selector(tid("missing-input"))
    assert note.inner_text() == "photo.jpg: not found here — choose it again"
    note.scroll_into_view_if_needed()
    page.screenshot(path=str(made["shots"] / "studio-drop-missing.png"))
    # Pasted: a picture dreamstyle did not make is one line.
    send(page, "body", made["plain"], "paste")
    said = page.wait_for_selector(f"{tid('message-info')}:has-text('carries no dreamstyle settings') strong")
    assert said.inner_text() == "plain.png: this picture carries no dreamstyle settings"
    # The browser logs the 422 itself; nothing else may go wrong.
    assert not [p for p in page.problems if "status of 422" not in p], page.problems


def test_two_gallery_pictures_compare_with_a_slider_and_their_differences(made, studio_page):
    from studio_harness import tid

    page = studio_page["page"]
    page.wait_for_function("() => document.querySelectorAll(\"[data-testid='gallery-item']\").length >= 2")
    for name in ("a.png", "b.png"):
        page.locator(f"{tid('gallery-item')}:has(.card-name:text-is('{name}')) {tid('gallery-pick')}").check()
    page.click(tid("gallery-compare"))
    page.wait_for_selector(tid("pair-slider"), state="visible")
    differs = page.eval_on_selector_all(f"{tid('pair-differs')}", "rows => rows.map(r => r.dataset.name)")
    assert {"lr", "seed"} <= set(differs) and "model" not in differs
    page.eval_on_selector(tid("pair-range"), "r => { r.value = 30; r.dispatchEvent(new Event('input', {bubbles: true})); }")
    assert page.eval_on_selector(tid("pair-slider"), "s => s.style.getPropertyValue('--pos')") == "30%"
    page.wait_for_function("() => [...document.querySelectorAll('#pair-view img')].every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=str(made["shots"] / "studio-compare-slider.png"))
    page.click(tid("pair-mode-side"))
    page.wait_for_selector(tid("pair-side"), state="visible")
    page.screenshot(path=str(made["shots"] / "studio-compare-side.png"))
    page.keyboard.press("Escape")
    page.wait_for_selector(tid("pair-view"), state="hidden")
    # A phone-size window: the comparison fits its width.
    phone = studio_page["context"].new_page()
    try:
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.goto(studio_page["url"])
        phone.wait_for_selector("body[data-ready=true]")
        for box in phone.locator(tid("gallery-pick")).all()[:2]:
            box.check()
        phone.click(tid("gallery-compare"))
        phone.wait_for_selector(tid("pair-slider"), state="visible")
        assert phone.evaluate("document.getElementById('pair-view').getBoundingClientRect().right <= window.innerWidth")
        phone.screenshot(path=str(made["shots"] / "studio-compare-phone.png"))
    finally:
        phone.close()


def test_broken_pictures_and_records_are_refused_with_json(made, tmp_path):
    """Whatever is posted, the answer is under 500, with the studio's JSON error. (A PNG cut short
    after its record still gives its Job, as `dreamstyle info` does: the record comes first.)"""
    png = made["png"].read_bytes()
    bad_json = with_record(made["png"], tmp_path / "bad.png", lambda r: {**r, "settings": "nope"})
    newer = with_record(made["png"], tmp_path / "newer.png", lambda r: {**r, "schema": 99})
    bodies = [b"", png[:100], b"\x89PNG\r\n\x1a\n" + b"\0" * 50, bad_json.read_bytes(), newer.read_bytes()]
    with client_for(tmp_path / "out") as client:
        for body in bodies:
            res = client.post("/api/info", files={"file": ("x.png", body, "image/png")})
            assert 400 <= res.status_code < 500 and res.json()["error"], (res.status_code, res.text)
        assert client.post("/api/info", content=b"", headers={"content-type": "text/plain"}).status_code == 415
        assert post(client, newer).json()["error"].startswith("this picture's dreamstyle settings cannot be read here: ")
