"""`python -m bench.balance PHOTO PAINTING`: what `--style-weight` does, and what the border does.

For each style weight (one `stylize_sweep`, lite0, fp32, CPU, seed 0) it prints:

- **structure kept**: the correlation of the output's edge map with the photo's (Sobel gradient
  magnitude of the grey picture after a slight blur; Pearson over all pixels). 1: every edge of
  the photo is where it was and as strong; about 0.1: the photo's edges are gone.
- **Gram closeness**: 1 - (Gram distance of the output to the painting) / (that of the photo), at
  lite0 layers the style loss does not read (block2, block4, block6, block7): 0 is the photo's
  texture, 1 the painting's.
- **border ratio**: high-frequency energy (squared second differences along the edge, in colour)
  in the outermost 3 rows (or columns) over that of the interior, on the worst side: 1 is a
  border like the rest of the picture; a bright, noisy strip along an edge scores well above 1.

Neither measure is computed by the code it judges. The numbers in docs/style.md come from here.
"""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np
import torch
from PIL import Image

MODEL = "efficientnet-lite0"
EVAL_LAYERS = ("block2", "block4", "block6", "block7")
BORDER = 3


def grey(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"), dtype=np.float64) / 255.0


def edges(img: Image.Image) -> np.ndarray:
    g = cv2.GaussianBlur(grey(img), (0, 0), 1.0)
    return np.hypot(cv2.Sobel(g, cv2.CV_64F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_64F, 0, 1, ksize=3))


def structure_kept(out: Image.Image, photo: Image.Image) -> float:
    """Pearson correlation of the two edge maps (the photo scaled to the output first)."""
    photo = photo.convert("RGB").resize(out.size, Image.Resampling.LANCZOS)
    a, b = edges(out).ravel(), edges(photo).ravel()
    return float(np.corrcoef(a, b)[0, 1])


def border_ratio(img: Image.Image, width: int = BORDER) -> float:
    """High-frequency energy of the outermost `width` rows (or columns) over the interior's, on
    the worst of the four sides: a strip along one edge is what a viewer sees.

    Energy is the squared second difference along the border (across a row for the top and
    bottom rows, down a column for the left and right ones), summed over R, G and B (a colour
    fringe can be grey-neutral), so no pixel outside the picture is ever made up. The interior is
    every row and column at least 4 x `width` from the edge."""
    x = np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
    per_row = ((x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]) ** 2).sum(2).mean(1)
    per_col = ((x[2:] - 2 * x[1:-1] + x[:-2]) ** 2).sum(2).mean(0)
    inner = np.concatenate([per_row[4 * width : -4 * width], per_col[4 * width : -4 * width]]).mean()
    sides = (per_row[:width], per_row[-width:], per_col[:width], per_col[-width:])
    return float(max(side.mean() for side in sides) / inner)


def _gram(f: torch.Tensor) -> torch.Tensor:
    x = f[0].reshape(f.shape[1], -1)
    return x @ x.T / x.shape[1]


def gram_closeness(backbone, out: Image.Image, photo: Image.Image, painting: Image.Image) -> float:
    from dreamstyle.media.images import resize_longest, to_tensor

    def grams(img):
        with torch.no_grad():
            f = backbone(to_tensor(img.convert("RGB")), list(EVAL_LAYERS))
        return {k: _gram(v.float()) for k, v in f.items()}

    target = grams(resize_longest(painting, max(out.size)))
    def dist(img):
        g = grams(img)
        return sum(((g[l] - target[l]).pow(2).sum() / target[l].pow(2).sum()).item() for l in EVAL_LAYERS)

    return 1 - dist(out) / dist(photo.convert("RGB").resize(out.size, Image.Resampling.LANCZOS))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photo")
    ap.add_argument("painting")
    ap.add_argument("--weights", default="1,10,100,1000", help="style weights, comma-separated")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", default="300")
    ap.add_argument("--save", help="write the pictures as PREFIX-W.png")
    args = ap.parse_args()

    import dreamstyle
    from dreamstyle.media.images import load_image

    backbone = dreamstyle.load_backbone(MODEL)
    photo, painting = load_image(args.photo).rgb, load_image(args.painting).rgb
    weights = [float(w) for w in args.weights.split(",")]
    steps = int(args.steps) if args.steps.isdigit() else args.steps
    outs = dreamstyle.stylize_sweep(photo, painting, weights, backbone=backbone, model=MODEL, size=args.size, steps=steps,
                                    seed=0, device="cpu", precision="fp32", quiet=True)  # fmt: skip
    print("| --style-weight | structure kept | Gram closeness | border ratio |")
    print("|---|---|---|---|")
    base = photo.resize(outs[0].size, Image.Resampling.LANCZOS)
    print(f"| (the photo) | 1.00 | 0.00 | {border_ratio(base):.2f} |")
    for w, out in zip(weights, outs):
        print(f"| {w:g} | {structure_kept(out, photo):.2f} | {gram_closeness(backbone, out, photo, painting):.2f} | {border_ratio(out):.2f} |")
        if args.save:
            out.save(f"{args.save}-{w:g}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
