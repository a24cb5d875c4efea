"""The explorer, measured (issue 27's targets, docs/explore.md):

    python -m bench.explore --folder PHOTOS [--layer block6] [--model efficientnet-lite0]

1. A layer's first 16 thumbnails (96 px) from an empty render cache: seconds until the first batch
   is visible and until all 16 are (target: 16 within 30 s on a 2-core CPU), the model's load and
   the layer index included, as the studio's first visit pays them.
2. A cached revisit of that page's data (the index and the 16 pictures' paths): target < 200 ms.
3. A static site of one layer, 32 channels, with top pictures from PHOTOS (100 pictures in the
   issue's case), written by the command line in a fresh process: target < 10 minutes.

Without --folder, step 3 makes one: 100 crops of samples/ and ../shared/images in a temp folder.
Results go to bench/results/explore-CPU-DATE.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .worker import _cpu_name, result_path

ROOT = Path(__file__).resolve().parent.parent


def crops_folder(n: int = 100) -> Path:
    """n crops (random place and scale, 256 px) of the sample pictures: a folder to search."""
    from PIL import Image

    sources = [p for d in (ROOT / "samples", ROOT.parent / "shared" / "images") if d.is_dir()
               for p in sorted(d.iterdir()) if p.suffix.lower() in (".jpg", ".png")]  # fmt: skip
    out = Path(tempfile.mkdtemp(prefix="explore-photos-"))
    rng = random.Random(0)
    for k in range(n):
        img = Image.open(sources[k % len(sources)]).convert("RGB")
        side = int(min(img.size) * rng.uniform(0.35, 1.0))
        x, y = rng.randint(0, img.width - side), rng.randint(0, img.height - side)
        img.crop((x, y, x + side, y + side)).resize((256, 256)).save(out / f"crop{k:03d}.jpg", quality=90)
    return out


def thumbnails(model: str, layer: str, cache_dir: Path) -> dict:
    from dreamstyle.engines.explore import RenderCache, explore_context, network_index, render_channels

    start = time.perf_counter()
    seen: list[float] = []
    ctx = explore_context(model)
    index = network_index(model)
    render_channels(ctx, index, layer, list(range(16)), RenderCache(cache_dir), on_done=lambda c, p: seen.append(time.perf_counter() - start))
    cold = {"first_visible_s": round(seen[0], 1), "all_16_s": round(seen[-1], 1)}
    start = time.perf_counter()
    again: list = []
    render_channels(ctx, network_index(model), layer, list(range(16)), RenderCache(cache_dir), on_done=lambda c, p: again.append(p))
    cold["cached_revisit_ms"] = round((time.perf_counter() - start) * 1000, 1)
    return cold


def site(model: str, layer: str, folder: Path, cache_dir: Path) -> dict:
    out = Path(tempfile.mkdtemp(prefix="explore-site-")) / "site"
    cmd = [sys.executable, "-c", "import sys; from dreamstyle.cli import main; sys.argv[0] = 'dreamstyle'; sys.exit(main())",
           "explore", "--model", model, "--layers", layer, "--channels", "0-31", "--top-folder", str(folder),
           "--cache", str(cache_dir), "-q", "-o", str(out)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    took = time.perf_counter() - start
    return {"site_s": round(took, 1), "pictures": len(list(out.rglob("*.png"))), "site": str(out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="efficientnet-lite0")
    ap.add_argument("--layer", default="block6")
    ap.add_argument("--folder", type=Path)
    ap.add_argument("--skip-site", action="store_true")
    args = ap.parse_args()
    result = {"cpu": _cpu_name(), "cores": os.cpu_count(), "load_before": os.getloadavg()[0], "model": args.model, "layer": args.layer}
    with tempfile.TemporaryDirectory() as cache:
        result["thumbnails"] = thumbnails(args.model, args.layer, Path(cache) / "one")
        print(json.dumps(result["thumbnails"]), flush=True)
        if not args.skip_site:
            folder = args.folder or crops_folder()
            result["site"] = site(args.model, args.layer, folder, Path(cache) / "two")
            print(json.dumps(result["site"]), flush=True)
    result["load_after"] = os.getloadavg()[0]
    out = result_path(ROOT / "bench" / "results", "explore", result["cpu"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
