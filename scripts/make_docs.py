"""Render the README's pictures into docs/ with the offline backbone.

Usage: .venv/bin/python scripts/make_docs.py [--out docs] [--only NAME ...] [--list]

Each picture is a labelled strip (or 2x2 grid): the same sample photo dreamed with one option
changed, so a reader sees what that option does. Only samples/ images are used. Everything runs on
the CPU in fp32 with seed 0, so the same torch/Pillow versions rewrite the same bytes (about 1 min
on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

import dreamstyle
from dreamstyle.images import load_image, resize_longest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
MODEL = "efficientnet-lite0"
SIZE = 384  # longest side; the 3:2 samples come out 384x255, so every cell is about 256 px tall
GAP = 4
BACKGROUND = (24, 24, 24)
MAX_BYTES = 200_000  # a picture above this is saved as a 256-colour PNG instead of true colour
ZOOM = 3


@dataclass
class Cell:
    label: str
    options: dict[str, Any] | None = None  # None: the input photo itself, for reference
    zoom: tuple[int, int, int, int] | None = None  # show this box of the result, ZOOM times larger


@dataclass
class Figure:
    name: str
    photo: str
    cells: list[Cell]
    size: int = SIZE
    columns: int | None = None  # wrap into rows of this many cells; None: one strip


def S(name: str) -> str:
    return str(SAMPLES / name)


CORNER = (0, 0, 128, 85)  # a zoomed box of the 384x255 cat
HARD = {"smooth": 0.0, "steps": 20, "lr": 0.02}

FIGURES = [
    # The README's first command: dreamstyle dream photo.jpg --model efficientnet-lite0 --size 320 --seed 0
    Figure("dream.png", "cat.jpg", [Cell("samples/cat.jpg"), Cell("dreamstyle dream --size 320", {})], size=320),
    Figure("layers.png", "cat.jpg", [
        Cell("--layers block6", {"layers": "block6"}),
        Cell("--layers block9", {"layers": "block9"}),
        Cell("--layers block11", {"layers": "block11"}),
    ]),
    Figure("channels.png", "cat.jpg", [
        Cell("--layers block9 (all 112 channels)", {"layers": "block9"}),
        Cell("--layers block9 --channels 3", {"layers": "block9", "channels": [3]}),
        Cell("--layers block9 --channels 60-63", {"layers": "block9", "channels": "60-63"}),
    ]),
    Figure("guide.png", "cat.jpg", [
        Cell("no guide", {}),
        Cell("--guide samples/swirls.jpg", {"guide": S("swirls.jpg")}),
        Cell("--guide samples/mosaic.png", {"guide": S("mosaic.png")}),
    ]),
    Figure("octaves.png", "cat.jpg", [
        Cell("--octaves 1", {"octaves": 1}),
        Cell("--octaves 2", {"octaves": 2}),
        Cell("--octaves 4 (default)", {"octaves": 4}),
    ]),
    Figure("octave-scale.png", "cat.jpg", [
        Cell("--octave-scale 1.2", {"octave_scale": 1.2}),
        Cell("--octave-scale 1.4 (default)", {"octave_scale": 1.4}),
        Cell("--octave-scale 2", {"octave_scale": 2.0}),
    ]),
    Figure("strength.png", "cat.jpg", [
        Cell("--steps 5 --lr 0.005", {"steps": 5, "lr": 0.005}),
        Cell("--steps 10 --lr 0.01 (default)", {"steps": 10, "lr": 0.01}),
        Cell("--steps 20 --lr 0.02", {"steps": 20, "lr": 0.02}),
    ]),
    # Pushed hard (no gradient smoothing, strong steps) so what jitter prevents is visible.
    Figure("jitter.png", "cat.jpg", [
        Cell("--jitter 0 --smooth 0 --steps 20 --lr 0.02", {"jitter": 0, **HARD}),
        Cell("--jitter 32 --smooth 0 --steps 20 --lr 0.02", {"jitter": 32, **HARD}),
        Cell(f"--jitter 0, top-left corner, {ZOOM}x", {"jitter": 0, **HARD}, zoom=CORNER),
        Cell(f"--jitter 32, top-left corner, {ZOOM}x", {"jitter": 32, **HARD}, zoom=CORNER),
    ], columns=2),
    Figure("smooth.png", "cat.jpg", [
        Cell("--smooth 0", {"smooth": 0.0}),
        Cell("--smooth 1 (default)", {"smooth": 1.0}),
        Cell("--smooth 2", {"smooth": 2.0}),
    ]),
    Figure("norm.png", "cat.jpg", [
        Cell("--norm mean-abs (default)", {"norm": "mean-abs"}),
        Cell("--norm std", {"norm": "std"}),
    ]),
    Figure("size.png", "cat.jpg", [
        Cell("--size 192 (shown enlarged)", {"size": 192}),
        Cell("--size 384", {"size": 384}),
        Cell("--size 768 (shown reduced)", {"size": 768}),
    ]),
    Figure("presets.png", "coffee.jpg", [
        Cell("--preset subtle", {"preset": "subtle"}),
        Cell("--preset classic", {"preset": "classic"}),
        Cell("--preset swirls", {"preset": "swirls"}),
        Cell("--preset creatures", {"preset": "creatures"}),
    ], columns=2),
]


def font(size: int = 13) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled scalable font (needs FreeType)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def label(img: Image.Image, text: str) -> Image.Image:
    img = img.convert("RGB")
    draw = ImageDraw.Draw(img)
    f = font()
    left, top, right, bottom = draw.textbbox((5, 3), text, font=f)
    draw.rectangle([0, 0, right + 5, bottom + 4], fill=(0, 0, 0))
    draw.text((5, 3), text, font=f, fill=(255, 255, 255))
    return img


def grid(cells: list[Image.Image], columns: int) -> Image.Image:
    """Cells (all the same size) in rows of `columns`, on a dark background."""
    w, h = cells[0].size
    rows = -(-len(cells) // columns)
    out = Image.new("RGB", (columns * (w + GAP) + GAP, rows * (h + GAP) + GAP), BACKGROUND)
    for i, c in enumerate(cells):
        out.paste(c, (GAP + (i % columns) * (w + GAP), GAP + (i // columns) * (h + GAP)))
    return out


_dreams: dict[str, Image.Image] = {}


def dreamed(photo: Path, size: int, options: dict[str, Any], backbone: dreamstyle.Backbone) -> Image.Image:
    """dreamstyle.dream on the CPU in fp32 with seed 0, each distinct call made once."""
    options = {"model": MODEL, "size": size, "seed": 0, "device": "cpu", "precision": "fp32", "quiet": True, **options}
    key = repr((str(photo), sorted(options.items())))
    if key not in _dreams:
        _dreams[key] = dreamstyle.dream(photo, backbone=backbone, **options).convert("RGB")
    return _dreams[key]


def render(fig: Figure, backbone: dreamstyle.Backbone) -> Image.Image:
    photo = SAMPLES / fig.photo
    shown = resize_longest(load_image(photo).rgb, fig.size)  # every cell is shown at this size
    cells = []
    for cell in fig.cells:
        img = shown if cell.options is None else dreamed(photo, fig.size, cell.options, backbone)
        if cell.zoom:
            box = cell.zoom
            img = img.crop(box).resize(((box[2] - box[0]) * ZOOM, (box[3] - box[1]) * ZOOM), Image.Resampling.NEAREST)
        if img.size != shown.size:  # --size cells: shown at one size so the change of scale is visible
            img = img.resize(shown.size, Image.Resampling.LANCZOS)
        cells.append(label(img, cell.label))
    return grid(cells, fig.columns or len(cells))


def save(img: Image.Image, path: Path) -> int:
    """Optimised true-colour PNG; a 256-colour PNG when that would be too big for the README."""
    img.save(path, format="PNG", optimize=True)
    if path.stat().st_size > MAX_BYTES:
        # Octree keeps the saturated colours of a dream better than median cut.
        img.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(path, format="PNG", optimize=True)
    return path.stat().st_size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNGs (default: docs/)")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="render only these pictures, e.g. layers.png")
    ap.add_argument("--list", action="store_true", help="list the pictures and exit")
    args = ap.parse_args()
    names = [f.name for f in FIGURES]
    if args.list:
        print("\n".join(names))
        return 0
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        print(f"error: unknown picture {', '.join(unknown)} (choose from {', '.join(names)})", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    backbone = dreamstyle.load_backbone(MODEL)
    t0 = time.perf_counter()
    total = 0
    for fig in FIGURES:
        if args.only and fig.name not in args.only:
            continue
        t = time.perf_counter()
        n = save(render(fig, backbone), out / fig.name)
        total += n
        print(f"wrote {out / fig.name} ({n / 1024:.0f} KiB, {time.perf_counter() - t:.0f} s)", file=sys.stderr)
    print(f"{total / 1024:.0f} KiB in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
