"""Shoot docs/studio.png: the studio mid-run, a style picture of the cat in the manner of swirls
forming, in the same server and chromium the browser tests drive (tests/studio_harness.py). With
--explore, the Explore view instead: docs/studio-explore-layer.png (efficientnet-lite0 block6's
first 16 channels) and docs/studio-explore-unit.png (its channel 12, the samples as top images,
its map on the cat).

Usage: .venv/bin/python scripts/studio_screenshot.py [--out docs/studio.png] [--explore]

Needs chromium (Debian's /usr/bin/chromium, or $DREAMSTYLE_CHROMIUM) and playwright-python; the
job runs offline on the bundled efficientnet-lite0 (about a minute on two CPU cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's dreamstyle, and the harness

from studio_harness import browser, chromium, fill_style_form, make, open_page, save_small_png, serve_studio, tid  # noqa: E402

# The style job shown forming, and when to shoot it: past 45 % of its steps, with a fresh preview.
SIZE, STEPS, STYLE_WEIGHT = 320, 400, 30
SHOOT_AT = 0.45
WAIT_MS = 120_000


def shoot(url: str, executable: str, target: Path) -> None:
    with browser(executable, width=1280, height=1120) as context:
        page = open_page(context, url)
        fill_style_form(page, STEPS, size=SIZE)
        page.fill(tid("setting-style_weight"), str(STYLE_WEIGHT))
        job = make(page)
        page.wait_for_selector(f"{tid('live')}[data-job='{job['id']}']")
        page.wait_for_function(
            "at => { const t = document.querySelector(\"[data-testid='step']\").textContent.match(/step (\\d+) \\/ (\\d+)/);"
            " const img = document.querySelector(\"[data-testid='live-image']\");"
            " return t && Number(t[1]) >= at * Number(t[2]) && !img.classList.contains('stale'); }",
            arg=SHOOT_AT,
            timeout=WAIT_MS,
        )
        page.evaluate("() => { window.scrollTo(0, 0); document.querySelector('.panel.make').scrollTop = 0; document.activeElement.blur(); }")
        save_small_png(page.screenshot(), target)
        page.click(tid("stop"))
        page.wait_for_selector(f"{tid('live-state')}:is(.stopped, .done)")
        if page.problems:
            raise SystemExit("the page reported errors:\n" + "\n".join(page.problems))


def shoot_explore(url: str, executable: str, folder: Path) -> None:
    with browser(executable, width=1280, height=900) as context:
        page = open_page(context, url + "explore/efficientnet-lite0/block6")
        page.wait_for_function("document.querySelectorAll(\"[data-testid='thumb-img']\").length >= 16", timeout=WAIT_MS)
        save_small_png(page.screenshot(clip={"x": 0, "y": 0, "width": 1280, "height": 480}), folder / "studio-explore-layer.png")
        page = open_page(context, url + "explore/efficientnet-lite0/block6/12")
        page.set_input_files(tid("photo-input"), ROOT / "samples" / "cat.jpg")
        page.wait_for_selector(tid("photo-map"), timeout=WAIT_MS)
        page.wait_for_function("document.querySelector(\"[data-testid='photo-map']\").naturalWidth > 0")
        save_small_png(page.screenshot(full_page=True), folder / "studio-explore-unit.png")
        if page.problems:
            raise SystemExit("the page reported errors:\n" + "\n".join(page.problems))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "studio.png", help="where to write the PNG (default: docs/studio.png)")
    parser.add_argument("--explore", action="store_true", help="shoot the Explore view into docs/studio-explore-*.png instead")
    args = parser.parse_args(argv)
    executable = chromium()
    if executable is None:
        parser.error("no chromium found (apt-get install chromium, or set DREAMSTYLE_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        parser.error(f"{exc.name} is not installed (pip install -e '.[test]')")
    with tempfile.TemporaryDirectory(prefix="studio-screenshot-") as tmp:
        # As in the tests: offline (the bundled backbone needs no download), no user's hub cache,
        # and the pictures made along the way thrown away.
        os.environ["DREAMSTYLE_OFFLINE"] = "1"
        os.environ["TORCH_HOME"] = str(Path(tmp) / "torch-home")
        out = Path(tmp) / "studio-out"
        out.mkdir()
        if args.explore:
            top = Path(tmp) / "samples"  # a copy: the top images' index is written beside them
            shutil.copytree(ROOT / "samples", top)
            with serve_studio(out, top_folder=top) as url:
                shoot_explore(url, executable, ROOT / "docs")
            print("wrote docs/studio-explore-layer.png and docs/studio-explore-unit.png")
            return 0
        with serve_studio(out) as url:
            shoot(url, executable, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
