"""`python -m bench.plain ENGINE WEIGHTS OUT SIZE STEPS`: the whole process a tutorial user runs.

Imports torch and torchvision, loads the VGG19 file with torch.load, reads and resizes the
images with PIL, runs bench/naive.py's loop (style: Adam from the photo, one scale; dream: octaves;
visualize: one channel at a time), saves a PNG with torchvision. Nothing of dreamstyle's. Prints
one JSON line: the seconds of each phase, so bench/process.py can set them beside dreamstyle's.
"""

from __future__ import annotations

import json
import sys
import time

START = time.perf_counter()

import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402

from . import naive  # noqa: E402

IMPORTED = time.perf_counter()
CONTENT, STYLE = "samples/cat.jpg", "samples/swirls.jpg"


def load(path: str, size: int) -> torch.Tensor:
    img = Image.open(path).convert("RGB")
    k = size / max(img.size)
    img = img.resize((round(img.width * k), round(img.height * k)), Image.LANCZOS)
    return torchvision.transforms.functional.to_tensor(img).unsqueeze(0)


def main(engine: str, weights: str, out: str, size: int, steps: int) -> dict:
    phases = {"imports": IMPORTED - START}
    t = time.perf_counter()
    state = torch.load(weights, weights_only=True)
    phases["weights"] = time.perf_counter() - t
    t = time.perf_counter()
    content = load(CONTENT, size)
    style = load(STYLE, size) if engine == "style" else None
    phases["images"] = time.perf_counter() - t
    t = time.perf_counter()
    cpu, gen = torch.device("cpu"), torch.Generator().manual_seed(0)
    if engine == "style":
        image = naive.style(state, content, style, steps=steps, device=cpu)
    elif engine == "dream":
        image = naive.dream(state, content, octaves=3, steps=steps, device=cpu, generator=gen)
    else:
        image = naive.visualize(state, layer="relu4_1", channels=list(range(8)), size=size, steps=steps, device=cpu, generator=gen)
    phases["loop"] = time.perf_counter() - t
    t = time.perf_counter()
    torchvision.utils.save_image(image, out)
    phases["save"] = time.perf_counter() - t
    phases["total"] = time.perf_counter() - START
    return phases


if __name__ == "__main__":
    engine, weights, out, size, steps = sys.argv[1:6]
    print(json.dumps(main(engine, weights, out, int(size), int(steps))))
