"""Render the gallery that `make demo` promises: every dream preset on the bundled samples, and
the sample photos painted in the sample paintings' manner.

Usage: python scripts/demo.py [--model efficientnet-lite0] [--out outputs] [--size 384]
Writes one PNG per (sample, preset) and a labelled contact sheet, outputs/gallery.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw

import dreamstyle
from dreamstyle.media.images import save_image
from dreamstyle.core.presets import list_presets

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ["cat.jpg", "coffee.jpg", "astronaut.jpg"]
PAINTINGS = ["swirls.jpg", "mosaic.png", "stripes.png"]


def label(img: Image.Image, text: str) -> Image.Image:
    img = img.convert("RGB")
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, 8 + 7 * len(text), 16], fill=(0, 0, 0))
    draw.text((4, 2), text, fill=(255, 255, 255))
    return img


def sheet(rows: list[list[Image.Image]], cell: int) -> Image.Image:
    """Rows as tall as their tallest thumbnail, so landscape photos leave no empty bands."""
    thumbs = []
    for row in rows:
        thumbs.append([])
        for img in row:
            img = img.copy()
            img.thumbnail((cell, cell))
            thumbs[-1].append(img)
    heights = [max(t.height for t in row) for row in thumbs]
    cols = max(len(r) for r in rows)
    out = Image.new("RGB", (cols * (cell + 4) + 4, sum(heights) + 4 * len(rows) + 4), (20, 20, 20))
    y = 4
    for row, h in zip(thumbs, heights):
        for x, img in enumerate(row):
            out.paste(img, (4 + x * (cell + 4), y))
        y += h + 4
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="efficientnet-lite0")
    ap.add_argument("--out", default=str(ROOT / "outputs"))
    ap.add_argument("--size", type=int, default=384)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        backbone = dreamstyle.load_backbone(args.model)
    except dreamstyle.UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    presets = [p.name for p in list_presets("dream")]
    rows = []
    t0 = time.perf_counter()
    for photo in PHOTOS:
        src = ROOT / "samples" / photo
        row = [label(Image.open(src).convert("RGB"), photo)]
        for name in presets:
            img = dreamstyle.dream(src, backbone=backbone, preset=name, model=args.model, size=args.size, quiet=True)
            dst = out / f"{Path(photo).stem}-dream-{name}.png"
            save_image(img, dst, settings=img.info["dreamstyle"], force=True)
            row.append(label(img, name))
            print(f"wrote {dst}", file=sys.stderr)
        rows.append(row)
    for photo in PHOTOS[:2]:
        src = ROOT / "samples" / photo
        row = [label(Image.open(src).convert("RGB"), photo)]
        for painting in PAINTINGS:
            img = dreamstyle.stylize(src, ROOT / "samples" / painting, backbone=backbone, model=args.model,
                                     preset="preview", size=min(args.size, 256), quiet=True)  # fmt: skip
            dst = out / f"{Path(photo).stem}-style-{Path(painting).stem}.png"
            save_image(img, dst, settings=img.info["dreamstyle"], force=True)
            row.append(label(img, f"style {painting}"))
            print(f"wrote {dst}", file=sys.stderr)
        rows.append(row)
    gallery = out / "gallery.png"
    save_image(sheet(rows, 256), gallery, force=True)
    print(f"gallery: {gallery} ({time.perf_counter() - t0:.0f} s, model {args.model})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
