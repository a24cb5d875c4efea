"""The studio's page in a real browser against the real server: upload a photo and a painting, make
a style picture and watch it form, stop a second one, find both in the gallery and make one again.

Runs Debian's chromium through Playwright (Playwright's own browser download cannot work offline).
Without a browser the tests are skipped, except under CI, which installs chromium: there a missing
browser fails. The server, the browser and the form's moves are in studio_harness.py, which
scripts/studio_screenshot.py (the docs' docs/studio.png) uses too.
"""

from __future__ import annotations

import base64

import pytest
from studio_harness import PIXEL_SUM, SAMPLES, TIMEOUT_MS, browser, browser_or_skip, fill_style_form, make, open_page, serve_studio, tid

# Big enough to watch on two CPU cores (previews come every 3 steps and 0.25 s at most), small
# enough to finish in a few seconds.
SIZE, STEPS = 96, 150
LONG_STEPS = 5000  # the job that is stopped: it must still be running when Stop is pressed


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """The real studio app on a free loopback port, served from a thread; yields its URL and
    output folder."""
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DREAMSTYLE_OFFLINE", "1")  # the jobs run in the server's thread, for the whole module
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))
        out = tmp_path_factory.mktemp("studio-out")
        with serve_studio(out) as url:
            yield {"url": url, "out": out}


@pytest.fixture(scope="module")
def browser_context():
    with browser(browser_or_skip()) as context:
        yield context


@pytest.fixture(scope="module")
def page(studio, browser_context):
    return open_page(browser_context, studio["url"])


def shown_errors(page) -> list[str]:
    return page.locator(tid("message-error")).all_inner_texts()


def dismiss_messages(page) -> None:
    page.evaluate("document.getElementById('messages').replaceChildren()")


# Records every picture the live <img> shows: its preview number and a checksum of its pixels.
WATCH_LIVE = """() => {
  const img = document.querySelector("[data-testid='live-image']");
  window.__shown = [];
  const record = () => {
    if (!img.src.includes('/preview')) return;
    window.__shown.push({n: Number(img.dataset.n), ...(""" + PIXEL_SUM + """)(img)});
  };
  img.addEventListener('load', record);
}"""


def test_make_watch_stop_gallery_again(studio, page):
    # --- Make: a style picture, cat × swirls, and its live preview --------------------------------
    fill_style_form(page, STEPS, SIZE)
    page.evaluate(WATCH_LIVE)
    first = make(page)
    body = first["body"]
    assert body["engine"] == "style"
    assert body["inputs"]["content"].startswith("upload:")
    assert len(body["inputs"]["styles"]) == 1 and body["inputs"]["styles"][0].startswith("upload:")
    # Only what was changed is sent; the untouched fields are left to the defaults.
    assert body["settings"] == {"model": "efficientnet-lite0", "size": SIZE, "steps": STEPS}
    assert body["preset"] is None

    # The picture changes as the optimiser runs: three previews shown, at least two different.
    page.wait_for_function("window.__shown.length >= 3", timeout=TIMEOUT_MS)
    page.wait_for_selector(f"{tid('live-state')}.done")
    shown = page.evaluate("window.__shown")
    assert len({s["n"] for s in shown}) >= 3, shown
    assert len({s["sum"] for s in shown}) >= 2, shown  # the pixels, not only the URL, changed
    assert max(s["w"] for s in shown) <= SIZE and max(s["h"] for s in shown) <= SIZE
    assert page.inner_text(tid("step")).startswith(f"step {STEPS} / {STEPS}")
    assert "efficientnet-lite0" in page.inner_text(tid("stage"))
    assert "style" in page.inner_text(tid("losses"))
    done_item = page.locator(f"{tid('gallery-item')}[data-partial='false']")
    done_item.first.wait_for()

    # --- Stop: a second, long job stops mid-run and keeps its picture -----------------------------
    page.fill(tid("setting-steps"), str(LONG_STEPS))
    second = make(page)
    assert second["id"] != first["id"]
    page.wait_for_selector(f"{tid('live')}[data-job='{second['id']}']")
    page.wait_for_selector(f"{tid('live-state')}.running")
    # Running and shown in the queue, marked as the running one.
    page.wait_for_selector(f"{tid('queue-item')}[data-id='{second['id']}'][data-state='running']")
    page.wait_for_function(
        "id => { const live = document.querySelector(\"[data-testid='live']\");"
        " const img = document.querySelector(\"[data-testid='live-image']\");"
        " return live.dataset.job === id && img.src.includes(id) && Number(img.dataset.n) >= 1; }",
        arg=second["id"],
    )
    page.click(tid("stop"))
    page.wait_for_selector(f"{tid('live-state')}.stopped")
    step = page.inner_text(tid("step"))
    done_steps = int(step.split()[1])
    assert 0 < done_steps < LONG_STEPS, step
    page.wait_for_selector(f"{tid('queue-item')}[data-id='{second['id']}']", state="detached")

    # --- Gallery: both pictures, the stopped one as partial, newest first -------------------------
    page.wait_for_selector(f"{tid('gallery-item')}[data-partial='true']")
    items = page.locator(tid("gallery-item"))
    assert items.count() == 2
    assert items.nth(0).get_attribute("data-partial") == "true"
    assert items.nth(1).get_attribute("data-partial") == "false"
    finished = items.nth(1)
    assert "efficientnet-lite0" in finished.inner_text()
    assert finished.locator(tid("download")).get_attribute("href").endswith("download=1")

    # Before/after: the result over its input.
    finished.locator(tid("compare-open")).click()
    page.wait_for_selector(f"{tid('viewer')}[open]")
    assert "/input" in page.get_attribute("#compare-before", "src")
    page.wait_for_function("() => document.getElementById('compare-before').complete && document.getElementById('compare-before').naturalWidth > 0")
    page.fill(tid("compare-range"), "20")
    assert page.evaluate("getComputedStyle(document.getElementById('compare')).getPropertyValue('--pos').trim()") == "20%"
    page.click(tid("viewer-close"))
    page.wait_for_selector(tid("viewer"), state="hidden")

    # --- Again: the form is filled from the finished picture, and makes the same job --------------
    page.select_option(tid("engine"), "dream")  # somewhere else first, so the refill is visible
    page.fill(tid("setting-steps"), "3")
    finished.locator(tid("again")).click()
    assert page.input_value(tid("engine")) == "style"
    assert page.input_value(tid("setting-model")) == "efficientnet-lite0"
    assert page.input_value(tid("setting-size")) == str(SIZE)
    assert page.input_value(tid("setting-steps")) == str(STEPS)
    assert page.input_value(tid("preset")) == ""
    content = page.get_attribute(f"{tid('thumbs-content')} [data-upload]", "data-upload")
    assert "upload:" + content == body["inputs"]["content"]
    assert page.locator(f"{tid('thumbs-styles')} [data-upload]").count() == 1
    again = make(page)
    assert again["body"]["engine"] == "style"
    assert again["body"]["inputs"] == body["inputs"]
    assert again["body"]["settings"]["size"] == SIZE and again["body"]["settings"]["steps"] == STEPS
    assert again["body"]["settings"]["model"] == "efficientnet-lite0"
    page.wait_for_selector(f"{tid('live')}[data-job='{again['id']}']")
    page.wait_for_selector(f"{tid('live-state')}.done", timeout=2 * TIMEOUT_MS)
    page.wait_for_function("() => document.querySelectorAll(\"[data-testid='gallery-item']\").length === 3")

    assert shown_errors(page) == []
    assert page.problems == []


def test_errors_are_shown(studio, page):
    dismiss_messages(page)
    page.select_option(tid("engine"), "dream")
    page.set_input_files(tid("input-image"), SAMPLES / "cat.jpg")
    page.wait_for_selector(f"{tid('thumbs-image')} [data-upload]:not([data-upload=''])")
    photo = page.get_attribute(f"{tid('thumbs-image')} [data-upload]", "data-upload")
    # Another engine keeps the photo (here the one whose feature maps are shown).
    page.select_option(tid("engine"), "visualize.maps")
    assert page.get_attribute(f"{tid('thumbs-image')} [data-upload]", "data-upload") == photo
    page.select_option(tid("engine"), "dream")

    # Refused by the server when submitted: its {"error", "hint"} is shown, both parts.
    page.fill(tid("setting-size"), "5")
    with page.expect_response(lambda r: r.url.endswith("/api/jobs") and r.request.method == "POST") as posted:
        page.click(tid("make"))
    assert posted.value.status == 400
    page.wait_for_selector(tid("message-error"))
    text = shown_errors(page)[0]
    assert "too small" in text and "at least 16" in text, text
    dismiss_messages(page)

    # Failing when run (no VGG16 weights offline; the form starts on a backbone that runs here,
    # so vgg16 is chosen): the job's error and hint are shown.
    page.fill(tid("setting-size"), "")
    page.select_option(tid("setting-model"), "vgg16")
    page.click(tid("make"))
    page.wait_for_selector(tid("message-error"))
    text = shown_errors(page)[0]
    assert "vgg16" in text and "efficientnet-lite0" in text, text
    dismiss_messages(page)

    # Refused by the page itself: no photo chosen.
    page.click(f"{tid('thumbs-image')} .remove")
    page.click(tid("make"))
    page.wait_for_selector(tid("message-error"))
    assert shown_errors(page)[0].startswith("Choose the photo"), shown_errors(page)
    dismiss_messages(page)


DROP = """([zone, name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, {type}));
  const target = document.querySelector(zone);
  for (const kind of ['dragenter', 'dragover', 'drop'])
    target.dispatchEvent(new DragEvent(kind, {dataTransfer: data, bubbles: true, cancelable: true}));
}"""


def test_pictures_can_be_dropped(studio, page):
    """Dropping files on a box uploads them; the paintings' box takes several."""
    dismiss_messages(page)
    page.select_option(tid("engine"), "style")
    page.select_option(tid("engine"), "dream")  # a fresh form, whatever ran before
    page.select_option(tid("engine"), "style")
    for name, count in (("swirls.jpg", 1), ("mosaic.png", 2)):
        kind = "image/png" if name.endswith(".png") else "image/jpeg"
        payload = base64.b64encode((SAMPLES / name).read_bytes()).decode()
        page.evaluate(DROP, [tid("drop-styles"), name, kind, payload])
        page.wait_for_function(
            "n => [...document.querySelectorAll(\"[data-testid='thumbs-styles'] [data-upload]\")].filter(e => e.dataset.upload).length === n",
            arg=count,
        )
    # Something that is not a picture is refused where it can be seen.
    page.evaluate(DROP, [tid("drop-content"), "notes.txt", "text/plain", base64.b64encode(b"hello").decode()])
    page.wait_for_selector(tid("message-error"))
    assert "not a picture" in shown_errors(page)[0]
    dismiss_messages(page)


def test_phone_width_is_one_column(studio, browser_context):
    phone = browser_context.new_page()
    try:
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.goto(studio["url"])
        phone.wait_for_selector("body[data-ready=true]")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        make_box = phone.locator(".panel.make").bounding_box()
        live_box = phone.locator(".panel.live").bounding_box()
        assert live_box["y"] >= make_box["y"] + make_box["height"] - 1  # stacked, not side by side
        assert make_box["width"] > 330
    finally:
        phone.close()
