"""One benchmark case in its own process, so its peak memory is its own.

`python -m bench.worker '<case json>'` prints one JSON line: seconds, peak memory, the work
done (GFLOP per step from the convolutions actually run) and a quality number computed by one
fp32 evaluator for both implementations.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import torch
from torch import nn

from . import naive

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "samples" / "cat.jpg"
STYLE = ROOT / "samples" / "swirls.jpg"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _images(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    from dreamstyle.media.images import load_image, resize_longest, to_tensor

    def load(p):
        return to_tensor(resize_longest(load_image(p).rgb, size))

    content = load(CONTENT)
    style = load(STYLE)
    return content, style


def _quantised(x: torch.Tensor) -> torch.Tensor:
    """What a saved 8-bit PNG holds, so both sides are judged on what a user would get."""
    return (x.float().clamp(0, 1) * 255).round() / 255


def _gflop_per_step(weights: dict, layer_names, h: int, w: int, batch: int = 1) -> float:
    """Forward conv MACs to the deepest layer, x2 for FLOPs, x2 for the input-gradient pass
    (the weights are frozen, so backward is one conv per conv, not two)."""
    net = naive.Extractor(weights, list(layer_names), torch.device("cpu"))
    # Shapes are all a MAC count needs: on the meta device a 2048 px pass costs nothing.
    net.features.to("meta")
    net.mean, net.std = net.mean.to("meta"), net.std.to("meta")
    macs = [0]

    def hook(m, _, out):
        macs[0] += out.numel() * m.weight[0].numel()

    handles = [m.register_forward_hook(hook) for m in net.features if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        net(torch.zeros(batch, 3, h, w, device="meta"))
    for handle in handles:
        handle.remove()
    return 4 * macs[0] / 1e9


def _style_quality(weights, content, style_img, image, device) -> float:
    """The engine's own loss (content + style + TV, default weights) on the final 8-bit image, taken
    as the engine takes it: over the picture's feature positions on a mirrored canvas (canvas.py)."""
    from dreamstyle.optim import canvas
    from dreamstyle.optim.objectives import content_loss, gram, style_loss, tv_loss

    net = naive.Extractor(weights, ["relu4_2", *STYLE_LAYERS], device)
    m = canvas.canvas_margin(content)
    strides = {l: max(1, round(content.shape[-1] / f.shape[-1])) for l, f in net(content.to(device)).items()}

    def inside(x: torch.Tensor) -> dict[str, torch.Tensor]:
        return canvas.in_picture(net(canvas.widen(x, m)), m, strides)

    with torch.no_grad():
        c = content_loss("relu4_2", inside(content.to(device))["relu4_2"])
        s = sum(style_loss(l, gram(f)) for l, f in net(style_img.to(device)).items() if l in STYLE_LAYERS)
        feats = inside(_quantised(image).to(device))
        return float(c(feats) + 100.0 / len(STYLE_LAYERS) * s(feats) + 5.0 * tv_loss(_quantised(image).to(device)))


def run_case(case: dict) -> dict:
    from dreamstyle.models.runtime import precision_name, resolve_device, resolve_precision

    device = resolve_device(case["device"])
    engine, impl, size, steps = case["engine"], case["impl"], case["size"], case["steps"]
    gen = torch.Generator().manual_seed(0)
    backbone = weights = None
    if impl == "naive":
        weights = torch.load(case["weights"], weights_only=True)
    else:
        from dreamstyle import load_backbone

        backbone = load_backbone("vgg19", weights=case["weights"], device=device, progress=False)
    dtype = torch.float32 if impl == "naive" else resolve_precision(case.get("precision", "auto"), device)
    content, style_img = _images(size, device)
    common = dict(device=case["device"], precision=case.get("precision", "auto"), quiet=True, seed=0)

    def once(n_steps: int):
        if engine == "style":
            if impl == "naive":
                return naive.style(weights, content, style_img, steps=n_steps, device=device)
            from dreamstyle import stylize
            from dreamstyle.media.images import to_tensor

            # From the photo as it is, like the naive loop: the same problem, so the same losses.
            out = stylize(CONTENT, STYLE, backbone=backbone, size=size, steps=n_steps, scales=case.get("scales"),
                          optimizer=case.get("optimizer", "lbfgs"), init="content", **common)  # fmt: skip
            return to_tensor(out.convert("RGB"))
        if engine == "dream":
            if impl == "naive":
                return naive.dream(weights, content, octaves=case["octaves"], steps=n_steps, device=device, generator=gen)
            from dreamstyle import dream
            from dreamstyle.media.images import to_tensor

            out = dream(CONTENT, backbone=backbone, size=size, steps=n_steps, octaves=case["octaves"], layers="relu4_4", smooth=0, **common)
            return to_tensor(out.convert("RGB"))
        if engine == "visualize":
            channels = list(range(case["channels"]))
            if impl == "naive":
                return naive.visualize(weights, layer=case["layer"], channels=channels, size=size, steps=n_steps, device=device, generator=gen)
            from dreamstyle.media.images import to_tensor
            from dreamstyle.optim.objectives import channel
            from dreamstyle.engines.visualize import render

            objective = sum(channel(case["layer"], c, batch=i) for i, c in enumerate(channels))
            images = render(objective, backbone=backbone, batch=len(channels), size=size, steps=n_steps, **common)
            return torch.cat([to_tensor(i) for i in images])
        raise ValueError(engine)

    once(case.get("warmup", 2))  # kernel selection, oneDNN primitive caches, cuDNN autotuning
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    out = once(steps)
    _sync(device)
    seconds = time.perf_counter() - start
    # Read before the evaluator below loads its own copy of the network.
    if device.type == "cuda":
        peak, kind = torch.cuda.max_memory_allocated(), "cuda max allocated"
    else:
        peak, kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "peak RSS"
    if weights is None:
        del backbone
        weights = torch.load(case["weights"], weights_only=True)

    h, w = content.shape[-2:]
    if engine == "style":
        from dreamstyle.engines.style import scale_ladder

        quality = {"final_loss": _style_quality(weights, content, style_img, out, device)}
        ladder = case.get("scales") or (scale_ladder(size) if impl != "naive" else [size])
        sizes = [(round(h * k / size), round(w * k / size)) for k in ladder]
        gflop = sum(_gflop_per_step(weights, ["relu4_2", *STYLE_LAYERS], *hw) for hw in sizes) * steps
        n_steps = steps * len(sizes)
    elif engine == "dream":
        net = naive.Extractor(weights, ["relu4_4"], device)
        with torch.no_grad():
            quality = {"energy": float(net(_quantised(out).to(device))["relu4_4"].pow(2).mean())}
        sizes = [(round(h / 1.4**k), round(w / 1.4**k)) for k in range(case["octaves"])]
        gflop = sum(_gflop_per_step(weights, ["relu4_4"], *hw) for hw in sizes) * steps
        n_steps = steps * case["octaves"]
    else:
        net = naive.Extractor(weights, [case["layer"]], device)
        with torch.no_grad():
            acts = net(_quantised(out).to(device))[case["layer"]]
            quality = {"mean_activation": float(sum(acts[i, c].mean() for i, c in enumerate(range(len(out)))) / len(out))}
        gflop = _gflop_per_step(weights, [case["layer"]], size, size, batch=case["channels"]) * steps
        n_steps = steps
    return {
        **case,
        "precision": precision_name(dtype),
        "seconds": seconds,
        "seconds_per_step": seconds / n_steps,
        "gflop": gflop,
        "tflops": gflop / seconds / 1e3,
        "peak_memory_mb": peak / 2**20,
        "memory_kind": kind,
        "quality": quality,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name(),
    }


def result_path(out: Path, *parts: str) -> Path:
    """OUT/<parts, slugged>-<date>.json: one results file per kind, machine and day."""
    import datetime
    import re

    slug = "-".join(re.sub(r"[^a-z0-9]+", "-", str(p).lower()).strip("-") for p in parts)
    return out / f"{slug}-{datetime.date.today().isoformat()}.json"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "cpu"


if __name__ == "__main__":
    print(json.dumps(run_case(json.loads(sys.argv[1]))))
