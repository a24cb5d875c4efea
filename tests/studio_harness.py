"""The studio in a real browser: the real server on a loopback port, Debian's chromium driven by
Playwright, and the page's few moves that both the browser tests (tests/test_studio_browser.py)
and the docs screenshot (scripts/studio_screenshot.py) make. No pytest here: the script runs
without it.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
BROWSER_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
# The camera view's tests: chromium's fake camera (a moving test pattern), allowed without asking.
CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
TIMEOUT_MS = 30_000


def chromium() -> str | None:
    """The chromium to drive: $DREAMSTYLE_CHROMIUM, Debian's, or one on the PATH (Playwright's own
    browser download cannot work offline)."""
    for candidate in (os.environ.get("DREAMSTYLE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
                      shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")):  # fmt: skip
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def unavailable(reason: str):
    """A test that needs the browser stops here: skipped, except under CI, which installs chromium
    and playwright, where it fails."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI installs chromium, so the studio's browser tests must run there")
    pytest.skip(reason)


def browser_or_skip() -> str:
    """The chromium to drive, with playwright importable, or the test is left out (unavailable)."""
    exe = chromium()
    if exe is None:
        unavailable("no chromium found (apt-get install chromium, or set DREAMSTYLE_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("playwright is not installed (pip install playwright)")
    return exe


@contextmanager
def serve_studio(out: Path, **options) -> Iterator[str]:
    """The real studio app on `out` (create_app's `options` besides), on a free loopback port,
    served from a thread; yields its URL. The caller sets the environment its jobs run in
    (DREAMSTYLE_OFFLINE, TORCH_HOME) first."""
    import uvicorn

    from dreamstyle.studio.app import create_app

    app = create_app(out, **options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="studio-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the studio server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@contextmanager
def browser(executable: str, width: int = 1280, height: int = 860, args: list[str] = ()):
    """Headless chromium at `executable` with a fresh profile (--user-data-dir) thrown away after,
    and `args` besides the usual ones (CAMERA_ARGS); yields its Playwright context."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="studio-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=executable, args=[*BROWSER_ARGS, *args], headless=True,
            viewport={"width": width, "height": height}, device_scale_factor=1,
        )  # fmt: skip
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def open_page(context, url: str):
    """The studio's page, loaded and ready; page.problems collects its errors and console errors."""
    page = context.pages[0] if context.pages else context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.problems = problems
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return page


def tid(name: str) -> str:
    return f"[data-testid='{name}']"


def fill_style_form(page, steps: int, size: int) -> None:
    """A style job on the lite backbone: the cat in the manner of swirls, both uploaded."""
    page.select_option(tid("engine"), "style")
    page.set_input_files(tid("input-content"), SAMPLES / "cat.jpg")
    page.set_input_files(tid("input-styles"), SAMPLES / "swirls.jpg")
    # Both pictures are on the server (a thumbnail with its upload id) before Make.
    page.wait_for_selector(f"{tid('thumbs-content')} [data-upload]:not([data-upload=''])")
    page.wait_for_selector(f"{tid('thumbs-styles')} [data-upload]:not([data-upload=''])")
    page.select_option(tid("setting-model"), "efficientnet-lite0")
    page.fill(tid("setting-size"), str(size))
    page.fill(tid("setting-steps"), str(steps))


def make(page) -> dict:
    """Press Make; returns the JSON the page posted and the new job's id."""
    with page.expect_response(lambda r: r.url.endswith("/api/jobs") and r.request.method == "POST") as posted:
        page.click(tid("make"))
    response = posted.value
    if response.status != 201:
        raise AssertionError(f"POST /api/jobs answered {response.status}: {response.text()}")
    return {"body": response.request.post_data_json, "id": response.json()["id"]}


def pick_network(page, name: str) -> None:
    """The fast engine chosen, with the network `name` (listed by the studio) picked."""
    page.select_option(tid("engine"), "fast")
    page.wait_for_selector(f"{tid('setting-net')} option[value='{name}']", state="attached")
    page.select_option(tid("setting-net"), name)


# A checksum of the pixels an <img> or a <canvas> shows, with its size (a JavaScript function):
# what the page's tests compare to tell that a picture changed, not only its URL.
PIXEL_SUM = """(src) => {
  const c = document.createElement('canvas');
  c.width = src.naturalWidth || src.width; c.height = src.naturalHeight || src.height;
  const g = c.getContext('2d');
  g.drawImage(src, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  let sum = 0;
  for (let i = 0; i < px.length; i += 1) sum = (sum * 31 + px[i]) % 1000000007;
  return {sum, w: c.width, h: c.height};
}"""
# The painted frames the camera view shows, counted, with the fps counter's value.
CAMERA_STATE = """() => {
  const c = document.querySelector("[data-testid='camera-painted']");
  return {frames: Number(c.dataset.frames || 0), fps: Number(document.querySelector("[data-testid='camera-fps']").dataset.fps),
          ...(""" + PIXEL_SUM + """)(c)};
}"""


def camera_fps(page, seconds: float) -> dict:
    """Start the camera view, let it paint for `seconds`, and return what it showed: the frames
    painted, the fps counter's readings (one a second), and the distinct frames seen."""
    page.click(tid("camera-start"))
    page.wait_for_function("() => Number(document.querySelector(\"[data-testid='camera-painted']\").dataset.frames || 0) >= 1")
    readings, sums = [], set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        page.wait_for_timeout(1000)
        now = page.evaluate(CAMERA_STATE)
        readings.append(now["fps"])
        sums.add(now["sum"])
    last = page.evaluate(CAMERA_STATE)
    return {"frames": last["frames"], "fps": readings, "distinct": len(sums), "size": (last["w"], last["h"])}


def save_small_png(png: bytes, target: Path) -> None:
    """A screenshot in 256 colours, a third of the bytes: the page's flat colours (the most
    frequent ones) are kept exactly, the rest of the palette is fitted to the pictures."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as shot:
        img = shot.convert("RGB")
    flat = [color for _, color in sorted(img.getcolors(1 << 24), reverse=True)[:96]]
    fitted = img.quantize(256 - len(flat), method=Image.Quantize.MEDIANCUT).getpalette()[: 3 * (256 - len(flat))]
    palette = Image.new("P", (1, 1))
    palette.putpalette([v for color in flat for v in color] + fitted)
    img.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG).save(target, optimize=True)
