"""Style by region, measured: inside each region (away from its border), is the picture closer to
its own painting than to the other one? And what do regions cost in time?

    python -m bench.regions [--photo P] [--paintings A B] [--size 384] [--model efficientnet-lite0]

For a hand-drawn two-region mask (an ellipse around the figure: painting A inside, B outside) and
for the automatic regions (`--regions auto:2`), it paints the photo by region with dreamstyle's
defaults and reports, per region, the judge's Gram distance (bench/timeto.py's Evaluator layers,
which neither side optimises) to its own painting and to the other, over the region's positions
more than BORDER px from its border and from the picture's edge. Target (issue 26): own ≤ ⅓ of
other. It also times a one-style picture and the two-region picture of the same size, back to
back in this process (target: within 1.2x). Results go to bench/results/regions-CPU-DATE.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from .naive import gram
from .timeto import EVAL_STYLE_LAYERS, _features, _net, quantised
from .worker import _cpu_name, result_path

ROOT = Path(__file__).resolve().parent.parent
TIMED_STEPS = 60
BORDER = 16  # picture pixels left out along a region's border and the picture's edge


def ellipse_mask(size: tuple[int, int]) -> Image.Image:
    """White inside an ellipse around the middle of the picture (a portrait's figure), black outside."""
    w, h = size
    m = Image.new("L", size, 0)
    ImageDraw.Draw(m).ellipse([w * 0.22, h * 0.12, w * 0.78, h * 1.05], fill=255)
    return m


def interior(region: torch.Tensor, border: int) -> torch.Tensor:
    """A hard region (H x W, 0/1) shrunk by `border` px from its own border and the picture's edge."""
    x = region.float()[None, None]
    x = F.pad(x, [border] * 4, value=0.0)
    eroded = -F.max_pool2d(-x, 2 * border + 1, stride=1)
    return eroded[0, 0]


def guided(f: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """f's Gram matrix over the positions where m (at the picture's size) is whole."""
    w = F.interpolate(m[None, None], size=f.shape[-2:], mode="area")[0, 0] > 0.99
    x = f[0][:, w]  # C x N
    return x @ x.t() / max(1, x.shape[1])


@torch.no_grad()
def distances(bb, picture: Image.Image, regions: list[torch.Tensor], paintings: list[torch.Tensor]) -> list[dict[str, float]]:
    """Per region r: the judge's Gram distance to painting r ("own") and to the others ("other")."""
    from dreamstyle.media.images import to_tensor

    x = quantised(to_tensor(picture))
    f = _features(bb, x, EVAL_STYLE_LAYERS)
    targets = [{n: gram(g) for n, g in _features(bb, p, EVAL_STYLE_LAYERS).items()} for p in paintings]
    out = []
    for r, region in enumerate(regions):
        inner = interior(region, BORDER)
        d = []
        for t in targets:
            d.append(sum(float((guided(f[n], inner) - t[n][0]).norm() / t[n][0].norm()) for n in EVAL_STYLE_LAYERS) / len(EVAL_STYLE_LAYERS))
        other = min(d[k] for k in range(len(d)) if k != r)
        out.append({"own": d[r], "other": other, "ratio": d[r] / other, "share": float(region.float().mean()), "positions": int(inner.sum())})
    return out


def run(args, photo: Path, paintings: list[Path], out: Path, extra: list[str]) -> float:
    from typer.testing import CliRunner

    from dreamstyle.cli import app

    t = time.perf_counter()
    got = CliRunner().invoke(app, ["style", str(photo), *map(str, paintings), "--model", args.model, "--size", str(args.size),
                                   "-q", "-f", "-o", str(out), *extra])  # fmt: skip
    if got.exit_code:
        raise SystemExit(got.output)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> Path:
    from dreamstyle.media.images import load_image, resize_longest, to_tensor
    from dreamstyle.optim.masks import read_map

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photo", type=Path, default=ROOT / "samples/astronaut.jpg")
    p.add_argument("--paintings", type=Path, nargs=2, default=[ROOT / "samples/swirls.jpg", ROOT / "samples/mosaic.png"])
    p.add_argument("--size", type=int, default=384)
    p.add_argument("--model", default="efficientnet-lite0")
    p.add_argument("--keep", type=Path, help="also keep the pictures in this folder")
    args = p.parse_args(argv)
    bb = _net()
    photo = resize_longest(load_image(args.photo).rgb, args.size)
    paintings = [to_tensor(resize_longest(load_image(q).rgb, args.size)) for q in args.paintings]
    rows: dict = {"cpu": _cpu_name(), "torch_threads": torch.get_num_threads(), "photo": args.photo.name,
                  "paintings": [q.name for q in args.paintings], "size": args.size, "model": args.model}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        keep = args.keep or Path(tmp)
        keep.mkdir(parents=True, exist_ok=True)
        mask = keep / "mask.png"
        ellipse_mask(photo.size).save(mask)
        hand = (to_tensor(Image.open(mask).convert("RGB"))[0, 0] > 0.5).float()
        # Time: the same fixed work on both sides (one scale, TIMED_STEPS steps), alternated so a
        # busy machine slows both alike; the pictures below run with the defaults.
        fixed = ["--steps", str(TIMED_STEPS), "--scales", str(args.size)]
        one, two = [], []
        for _ in range(2):
            one.append(run(args, args.photo, args.paintings[:1], keep / "timed-one.png", fixed))
            two.append(run(args, args.photo, args.paintings, keep / "timed-two.png", ["--mask", str(mask), *fixed]))
        rows["seconds"] = {"one_style": round(min(one), 2), "two_regions": round(min(two), 2), "ratio": round(min(two) / min(one), 3),
                           "steps": TIMED_STEPS}  # fmt: skip
        run(args, args.photo, args.paintings, keep / "hand.png", ["--mask", str(mask)])
        res = load_image(keep / "hand.png").rgb
        rows["hand_mask"] = distances(bb, res, [hand, 1 - hand], paintings)
        print(json.dumps(rows, indent=1), flush=True)
        run(args, args.photo, args.paintings, keep / "auto.png", ["--regions", "auto:2"])
        found = read_map(keep / "auto.regions.png", photo.size[::-1], 2)
        hard = [(found[r] > 0.5).float() for r in range(2)]
        rows["auto_regions"] = distances(bb, load_image(keep / "auto.png").rgb, hard, paintings)
    print(json.dumps(rows, indent=1))
    path = result_path(ROOT / "bench" / "results", "regions", args.photo.stem, rows["cpu"])
    path.write_text(json.dumps(rows, indent=1) + "\n")
    return path


if __name__ == "__main__":
    main()
