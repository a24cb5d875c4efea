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
TIMEOUT_MS = 30_000


def chromium() -> str | None:
    """The chromium to drive: $DREAMSTYLE_CHROMIUM, Debian's, or one on the PATH (Playwright's own
    browser download cannot work offline)."""
    for candidate in (os.environ.get("DREAMSTYLE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
                      shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")):  # fmt: skip
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@contextmanager
def serve_studio(out: Path) -> Iterator[str]:
    """The real studio app on `out`, on a free loopback port, served from a thread; yields its URL.
    The caller sets the environment its jobs run in (DREAMSTYLE_OFFLINE, TORCH_HOME) first."""
    import uvicorn

    from dreamstyle.studio.app import create_app

    app = create_app(out)
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
def browser(executable: str, width: int = 1280, height: int = 860):
    """Headless chromium at `executable` with a fresh profile (--user-data-dir) thrown away after;
    yields its Playwright context."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="studio-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=executable, args=BROWSER_ARGS, headless=True,
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
