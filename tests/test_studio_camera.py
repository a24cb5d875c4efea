"""The fast engine and the camera in a real browser against the real server: pick a trained
network, drop a photo and see it painted at once, drag a mix slider and see it change, keep it in
the gallery; then the camera view (chromium's fake camera) painting frame after frame beside the
raw feed, with its frames-per-second counter; and a refused or absent camera said in words.

The network is tiny (32 px crops, 8 iterations); its pictures are judged in tests/test_fast.py.
The frames per second seen here are printed (pytest -s): docs/fast.md reports them.
"""

from __future__ import annotations

import statistics

import pytest
from studio_harness import CAMERA_ARGS, PIXEL_SUM, SAMPLES, browser, browser_or_skip, camera_fps, open_page, pick_network, serve_studio, tid

import dreamstyle
from dreamstyle.core.job import Job
from dreamstyle.core.settings_fast import TrainSettings

# No temporal loss: in 8 iterations it holds the two paintings too close together for the mix tests.
TINY = dict(model="efficientnet-lite0", size=32, batch=2, iterations=8, minutes=None, quiet=True, temporal_weight=0.0)
# The painted <img>'s pixels as a checksum, and its size, once it has loaded.
PAINTED = """() => {
  const img = document.querySelector("[data-testid='paint-image']");
  if (img.hidden || !img.complete || !img.naturalWidth) return null;
  return {n: Number(img.dataset.n), ...(""" + PIXEL_SUM + """)(img)};
}"""


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    pytest.importorskip("uvicorn")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DREAMSTYLE_OFFLINE", "1")
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))
        out = tmp_path_factory.mktemp("studio-camera")
        (out / "networks").mkdir()
        styles = [str(SAMPLES / "swirls.jpg"), str(SAMPLES / "mosaic.png")]
        dreamstyle.run(Job("train", {"styles": styles}, TrainSettings(**TINY), output=str(out / "networks" / "two.pt")))
        with serve_studio(out) as url:
            yield {"url": url, "out": out}


@pytest.fixture(scope="module")
def page(studio):
    with browser(browser_or_skip(), args=CAMERA_ARGS) as context:
        yield open_page(context, studio["url"])


def painted_after(page, n: int) -> dict:
    page.wait_for_function(f"() => {{ const p = ({PAINTED})(); return p && p.n > {n}; }}")
    return page.evaluate(PAINTED)


def test_a_dropped_photo_is_painted_at_once_and_the_sliders_repaint_it(studio, page):
    pick_network(page, "two.pt")
    assert page.locator(tid("net-preview")).count() == 1  # the network's preview sheet beside the list
    assert "2 paintings" in page.inner_text(tid("net-info"))
    assert page.locator(f"{tid('mix')} input[type=range]").count() == 2  # one slider per painting
    page.set_input_files(tid("input-content"), SAMPLES / "cat.jpg")
    first = painted_after(page, 0)
    assert max(first["w"], first["h"]) == 512  # the size slider's first value

    page.fill(tid("mix-0"), "0")  # painting 2 alone
    second = painted_after(page, first["n"])
    assert second["sum"] != first["sum"] and (second["w"], second["h"]) == (first["w"], first["h"])
    assert "0 %" in page.inner_text(tid("mix"))

    page.fill(tid("size-range"), "128")
    small = painted_after(page, second["n"])
    assert max(small["w"], small["h"]) == 128

    # Keep: the painting as it is set, queued as a `fast` job, lands in the gallery.
    with page.expect_response(lambda r: r.url.endswith("/api/jobs") and r.request.method == "POST") as posted:
        page.click(tid("make"))
    body = posted.value.request.post_data_json
    assert posted.value.status == 201 and body["engine"] == "fast"
    assert body["settings"]["net"] == "two.pt" and body["settings"]["mix"] == [0, 100] and body["settings"]["size"] == 128
    page.wait_for_selector(f"{tid('gallery-item')}[data-engine='fast']")
    assert page.locator(tid("message-error")).all_inner_texts() == []
    assert page.problems == []


def test_the_camera_paints_frames_beside_the_feed_with_a_frames_per_second_counter(studio, page):
    pick_network(page, "two.pt")
    seen = camera_fps(page, 5)
    assert page.is_visible(tid("camera-video")) and page.evaluate("document.querySelector(\"[data-testid='camera-video']\").videoWidth") > 0
    assert seen["frames"] >= 5 and seen["distinct"] >= 2, seen  # frames keep coming, and the picture moves
    assert max(seen["size"]) == 256
    fps = statistics.median(seen["fps"][1:])  # the first second's window is still filling
    print(f"\ncamera view in chromium: {fps:.1f} painted frames a second at 256 px ({seen['frames']} frames; readings {seen['fps']})")
    assert fps > 0
    page.click(tid("camera-stop"))
    assert page.is_hidden(tid("camera")) and page.is_visible(tid("camera-start"))
    assert page.evaluate("document.querySelector(\"[data-testid='camera-video']\").srcObject") is None  # the camera is let go
    assert page.problems == []


@pytest.mark.parametrize("camera, says", [
    ("() => Promise.reject(new DOMException('no', 'NotAllowedError'))", "The camera was refused"),
    ("() => Promise.reject(new DOMException('none', 'NotFoundError'))", "No camera was found"),
    (None, "offers no camera"),
])  # fmt: skip
def test_a_refused_or_absent_camera_is_said_in_words(studio, page, camera, says):
    pick_network(page, "two.pt")
    if camera is None:
        page.evaluate("() => { Object.defineProperty(navigator, 'mediaDevices', {value: undefined, configurable: true}); }")
    else:
        page.evaluate(f"() => {{ navigator.mediaDevices.getUserMedia = {camera}; }}")
    try:
        page.click(tid("camera-start"))
        page.wait_for_selector(f"{tid('camera-message')}:not([hidden])")
        assert says in page.inner_text(tid("camera-message"))
        assert page.is_hidden(tid("camera")) and page.is_enabled(tid("camera-start"))
    finally:
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
