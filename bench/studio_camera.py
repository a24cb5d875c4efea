"""Frames per second of the studio's camera view, as the browser sees them: the real studio on
loopback, chromium with its fake camera (a moving test pattern), the network given painting each
256 px frame through POST /api/paint, one frame in flight at a time.

    python -m bench.studio_camera NET.pt [--seconds 10]

Prints the page's own counter (painted frames over the last 2 s) read once a second, its median
over the run after the first second, and the frames painted in all. The network is copied into a
throwaway studio folder, so nothing of yours is touched. Other work on the machine lowers the
number: say what else ran when you report it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]  # the browser harness the studio's tests drive

from studio_harness import CAMERA_ARGS, browser, camera_fps, chromium, open_page, pick_network, serve_studio  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("net", type=Path, help="a network made by `dreamstyle train` (.pt)")
    ap.add_argument("--seconds", type=float, default=10.0, help="how long the camera paints")
    args = ap.parse_args()
    exe = chromium()
    if exe is None:
        sys.exit("no chromium found (apt-get install chromium, or set DREAMSTYLE_CHROMIUM)")
    if not args.net.is_file():
        sys.exit(f"{args.net} does not exist")
    with tempfile.TemporaryDirectory(prefix="studio-camera-") as tmp:
        out = Path(tmp) / "out"
        (out / "networks").mkdir(parents=True)
        name = "bench.pt"
        shutil.copyfile(args.net, out / "networks" / name)
        os.environ.setdefault("DREAMSTYLE_OFFLINE", "1")
        with serve_studio(out) as url, browser(exe, args=CAMERA_ARGS) as context:
            page = open_page(context, url)
            pick_network(page, name)
            seen = camera_fps(page, args.seconds)
    readings = seen["fps"][1:] or seen["fps"]
    print(f"counter, once a second: {', '.join(f'{r:.1f}' for r in seen['fps'])}")
    print(f"{statistics.median(readings):.1f} painted frames a second (median), {seen['frames']} frames in {args.seconds:g} s, "
          f"{seen['size'][0]}x{seen['size'][1]} px, {os.cpu_count()} CPUs seen")  # fmt: skip


if __name__ == "__main__":
    main()
