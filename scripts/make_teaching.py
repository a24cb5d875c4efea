"""Render docs/teaching.md's pictures and print its comparison table, from samples/ only.

Usage: .venv/bin/python scripts/make_teaching.py [--out docs] [--unit block5:28]

docs/shift.png is `dreamstyle visualize shift samples/cat.jpg`; docs/top.png is `dreamstyle
visualize top` (docs/top.jpg) over a folder of tiles cut from the samples (7 pictures are too few to choose
from, 63 views of them are enough to show what a channel picks). Both carry their job like every
output, so `dreamstyle info docs/shift.png` shows how they were made. On the CPU, about a minute.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from PIL import Image

from dreamstyle import Job, ShiftSettings, TopSettings
from dreamstyle import run
from dreamstyle.cli import app
from dreamstyle.core.planning import image_files

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def tiles(folder: Path) -> None:
    """Each sample whole and as 8 overlapping views (the four quarters and four off-centre
    halves), so the folder holds 63 pictures of different things at different scales."""
    for path in image_files(SAMPLES):
        with Image.open(path) as img:
            img = img.convert("RGB")
        img.save(folder / f"{path.stem}.jpg", quality=92)
        w, h = img.size
        boxes = [(0, 0, w // 2, h // 2), (w // 2, 0, w, h // 2), (0, h // 2, w // 2, h), (w // 2, h // 2, w, h),
                 (w // 4, 0, 3 * w // 4, h // 2), (w // 4, h // 2, 3 * w // 4, h), (0, h // 4, w // 2, 3 * h // 4), (w // 2, h // 4, w, 3 * h // 4)]  # fmt: skip
        for k, box in enumerate(boxes):
            img.crop(box).save(folder / f"{path.stem}-{k}.jpg", quality=92)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--unit", default="block5:28", help="LAYER:CHANNEL for docs/top.png")
    args = ap.parse_args()
    layer, channel = args.unit.split(":")
    common = {"device": "cpu", "precision": "fp32", "seed": 0}
    os.chdir(ROOT)  # the jobs record samples/cat.jpg, not this machine's path to it
    args.out = args.out.resolve()

    shift = Job("visualize.shift", {"image": "samples/cat.jpg"}, ShiftSettings(**common), output=str(args.out / "shift.png"))
    run(shift, force=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "samples-tiles"
        folder.mkdir()
        tiles(folder)
        top = Job("visualize.top", {"layer": layer, "channel": int(channel), "folder": str(folder)},
                  TopSettings(top=9, steps=256, **common), output=str(args.out / "top.jpg"))  # fmt: skip
        run(top, force=True)
    from typer.testing import CliRunner

    res = CliRunner().invoke(app, ["layers", "--compare", "lenet,alexnet,vgg16,nin,googlenet"])
    print("$ dreamstyle layers --compare lenet,alexnet,vgg16,nin,googlenet")
    print(res.output)
    for name in ("shift.png", "top.jpg"):
        print(f"{args.out / name}: {(args.out / name).stat().st_size / 1000:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
