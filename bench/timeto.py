"""`python -m bench.timeto`: time to a finished picture, dreamstyle's style engine against a naive loop.

The per-step bench (`python -m bench`) compares the same number of steps. This one asks how long
each side takes to *finish a picture of the same quality*:

1. dreamstyle: `dreamstyle.stylize(...)` through the public API with the given settings (model
   efficientnet-lite0, the rest the defaults plus `--steps`), in a fresh process timed from start
   to end (imports, loading the bundled weights, images, everything).
2. Both results are scored by one evaluator (see `Evaluator`): style distance (relative Gram
   distance to the painting at lite0 layers the engines do *not* optimise) and content distance
   (relative feature distance to the photo at a deeper, also unoptimised layer); lower is better.
3. The naive fp32 Adam loop (as bench/naive.py's style loop: content init, lr 0.02, dreamstyle's
   lite0 default layers and weights, one scale), in its own fresh process, checks the evaluator
   every 10 steps and stops once its style distance is at most dreamstyle's with a content distance
   no worse, or at `--ceiling` steps ("did not reach"). Its seconds are the whole process, less the
   time the in-loop evaluator took (a user of the loop would not run it); both are reported.

Prints a markdown table and writes bench/results/timeto-<cpu>-<date>.json.
The worker side: `python -m bench.timeto --worker ours|naive '<json>'` (one JSON line on stdout).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from .naive import gram, style_steps
from .worker import _cpu_name, result_path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODEL = "efficientnet-lite0"
# dreamstyle's defaults for lite0 (dreamstyle/backbones.py MODELS, dreamstyle/settings.py StyleSettings).
CONTENT_LAYER = ("block1", "block8")
STYLE_LAYERS = ("stem", "block1", "block3", "block5", "block8")
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT, LR = 1.0, 100.0, 5.0, 0.02
# The evaluator's layers: none of them is optimised by either side.
EVAL_STYLE_LAYERS = ("block2", "block4", "block6", "block7")
EVAL_CONTENT_LAYER = "block11"
CHECK_EVERY = 10


# --------------------------------------------------------------------------- shared pieces


def _net():
    """lite0's stages as a plain list, fp32 NCHW: no channels_last, no autocast, nothing of dreamstyle's engine."""
    from dreamstyle import load_backbone

    bb = load_backbone(MODEL, progress=False)
    return bb


def _features(bb, x: torch.Tensor, layers) -> dict[str, torch.Tensor]:
    wanted = set(layers)
    last = max(bb.stage_names.index(n) for n in wanted)
    h = (x - bb.mean) / bb.std
    out = {}
    for i in range(last + 1):
        h = bb.stages[i](h)
        if bb.stage_names[i] in wanted:
            out[bb.stage_names[i]] = h
    return out


def load_images(content: Path, style: Path, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    from dreamstyle.media.images import load_image, resize_longest, to_tensor

    return tuple(to_tensor(resize_longest(load_image(p).rgb, size)) for p in (content, style))


def quantised(x: torch.Tensor) -> torch.Tensor:
    """What a saved 8-bit PNG holds."""
    return (x.float().clamp(0, 1) * 255).round() / 255


# The band along the picture's edge the judge leaves out, in pixels (see Evaluator).
BORDER = 16


def interior(f: torch.Tensor, picture_side: int, border: int = BORDER) -> torch.Tensor:
    """The positions of a feature map (or an image) more than `border` picture pixels from its edge."""
    k = math.ceil(border * f.shape[-1] / picture_side)
    k = min(k, (min(f.shape[-2:]) - 1) // 2)  # a tiny picture keeps at least its centre
    return f[..., k : f.shape[-2] - k, k : f.shape[-1] - k] if k else f


class Evaluator:
    """One fixed judge for both sides. No pretrained network other than the bundled lite0 can be
    loaded offline, so it is lite0 again, but at layers neither side optimises (style: block2,
    block4, block6, block7; content: block11), plus an image-space measure (the distance between
    the RGB colour Gram matrices of the picture and the painting). It is *not* independent of the
    optimised network's weights: a result that exploits lite0's features can look better to it
    than to a person or to another network.

    It judges the picture's interior: each map's positions within BORDER px of the picture's edge
    are left out (the network still sees the whole picture). The edge is where Gram losses dump
    what fits nowhere else: an optimiser without a margin paints a bright 1-6 px strip there
    (dreamstyle/canvas.py), and a judge over the whole frame rewards the strip, since it is made
    of the painting's colours and strokes (on cat x swirls at 384 px the same Adam loop ended at
    a style distance of 0.089 without dreamstyle's margin and 0.112 with it). Scores over the
    whole frame are reported too, as style_full and content_full."""

    def __init__(self, bb, content: torch.Tensor, style: torch.Tensor, border: int = BORDER):
        self.bb, self.border = bb, border
        with torch.no_grad():
            sf = _features(bb, style, EVAL_STYLE_LAYERS)
            # The painting is a texture to match, not a picture being judged: all of it counts.
            self.grams = {n: gram(f) for n, f in sf.items()}
            self.content = _features(bb, content, [EVAL_CONTENT_LAYER])[EVAL_CONTENT_LAYER]
            self.rgb = gram(style)

    @torch.no_grad()
    def __call__(self, image: torch.Tensor) -> dict[str, float]:
        x = quantised(image)
        side = x.shape[-1]
        f = _features(self.bb, x, [*EVAL_STYLE_LAYERS, EVAL_CONTENT_LAYER])
        c = f[EVAL_CONTENT_LAYER]
        if c.shape != self.content.shape:  # only if an engine returned another size
            c = torch.nn.functional.interpolate(c, size=self.content.shape[-2:], mode="bilinear", align_corners=False)
        out = {}
        for suffix, cut in (("", lambda t: interior(t, side, self.border)), ("_full", lambda t: t)):
            style = sum(float((gram(cut(f[n])) - g).norm() / g.norm()) for n, g in self.grams.items()) / len(self.grams)
            want = cut(self.content)
            out["style" + suffix] = style
            out["content" + suffix] = float((cut(c) - want).norm() / want.norm())
        out["colour"] = float((gram(interior(x, side, self.border)) - self.rgb).norm() / self.rgb.norm())
        return out


# --------------------------------------------------------------------------- the two workers


def worker_ours(case: dict) -> dict:
    from dreamstyle import stylize

    steps = case["steps"]
    img = stylize(case["content"], case["style"], model=MODEL, size=case["size"],
                  steps=steps if steps == "auto" else int(steps), quiet=True, seed=0)  # fmt: skip
    img.convert("RGB").save(case["output"])
    return {"steps": steps}


def worker_naive(case: dict) -> dict:
    """bench/naive.py's style loop on lite0: content init, Adam lr 0.02, fp32, one scale."""
    from PIL import Image

    bb = _net()
    content, style_img = load_images(Path(case["content"]), Path(case["style"]), case["size"])
    judge = Evaluator(bb, content, style_img)
    goal_style, goal_content = case["target_style"], case["target_content"]
    eval_seconds, reached, style_reached_at, style_seconds, score, step, image = 0.0, False, None, None, None, 0, content
    steps = naive_steps(bb, content, style_img)
    for step, image in steps:
        if step % CHECK_EVERY == 0 or step == case["ceiling"]:
            t0 = time.perf_counter()
            score = judge(image.detach())
            eval_seconds += time.perf_counter() - t0
            if style_reached_at is None and score["style"] <= goal_style:
                # Seconds since the driver started this process, the scoring so far left out.
                style_reached_at, style_seconds = step, time.time() - case["started"] - eval_seconds
            if score["style"] <= goal_style and score["content"] <= goal_content:
                reached = True
                break
        if step == case["ceiling"]:
            break
    arr = (quantised(image.detach())[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    Image.fromarray(arr).save(case["output"])
    return {"steps": step, "reached": reached, "style_reached_at": style_reached_at,
            "style_seconds": style_seconds, "eval_seconds": eval_seconds}


def naive_steps(bb, content: torch.Tensor, style_img: torch.Tensor, lr: float = LR):
    """bench/naive.py's style loop on lite0 with dreamstyle's lite0 layers and weights: (step, image) pairs."""
    return style_steps(lambda x: _features(bb, x, [*CONTENT_LAYER, *STYLE_LAYERS]), content, style_img,
                       content_layer=CONTENT_LAYER, style_layers=STYLE_LAYERS, content_weight=CONTENT_WEIGHT,
                       style_weight=STYLE_WEIGHT, tv_weight=TV_WEIGHT, lr=lr)  # fmt: skip


def _run_worker(side: str, case: dict, module: str = "bench.timeto") -> tuple[dict, float]:
    """The whole process, start to end, is what is timed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    case = {**case, "started": time.time()}
    proc = subprocess.run([sys.executable, "-m", module, "--worker", side, json.dumps(case)],
                          cwd=ROOT, env=env, capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{side} worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), seconds


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(prog="python -m bench.timeto", description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--content", type=Path, default=ROOT / "samples" / "cat.jpg")
    ap.add_argument("--style", type=Path, default=ROOT / "samples" / "swirls.jpg")
    ap.add_argument("--steps", default="auto", help="dreamstyle's --steps: a number or auto (default auto, its default)")
    ap.add_argument("--ceiling", type=int, default=1500, help="most steps the naive loop may take (default 1500)")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="folder for the JSON result")
    args = ap.parse_args(argv)
    if args.steps != "auto":
        int(args.steps)

    with tempfile.TemporaryDirectory() as tmp:
        common = {"content": str(args.content.resolve()), "style": str(args.style.resolve()), "size": args.size}
        ours, ours_s = _run_worker("ours", {**common, "steps": args.steps, "output": f"{tmp}/ours.png"})
        # Scored here, outside both timed processes, from the saved 8-bit PNGs.
        from dreamstyle.media.images import load_image, to_tensor

        bb = _net()
        content, style_img = load_images(args.content, args.style, args.size)
        judge = Evaluator(bb, content, style_img)
        ours_score = judge(to_tensor(load_image(f"{tmp}/ours.png").rgb))
        naive, naive_s = _run_worker("naive", {**common, "ceiling": args.ceiling, "output": f"{tmp}/naive.png",
                                               "target_style": ours_score["style"], "target_content": ours_score["content"]})  # fmt: skip
        naive_score = judge(to_tensor(load_image(f"{tmp}/naive.png").rgb))

    naive_net = naive_s - naive["eval_seconds"]
    cpu = _cpu_name()
    capability = torch.backends.cpu.get_cpu_capability()
    rows = [
        {"side": "dreamstyle", "settings": f"stylize, {MODEL}, defaults, steps={args.steps}", "steps": args.steps,
         "seconds": ours_s, "score": ours_score},
        {"side": "naive fp32 Adam", "settings": f"lr {LR}, content init, 1 scale, ceiling {args.ceiling}", "steps": naive["steps"],
         "seconds": naive_net, "seconds_with_eval": naive_s, "eval_seconds": naive["eval_seconds"], "reached": naive["reached"],
         "style_reached_at": naive["style_reached_at"], "style_seconds": naive["style_seconds"], "score": naive_score},
    ]  # fmt: skip
    ratio = naive_net / ours_s
    # The content rule can keep the naive loop from ever "reaching": then the time it took to the
    # style distance alone is the other honest figure.
    style_ratio = naive["style_seconds"] / ours_s if naive["style_seconds"] else None
    print(f"\n**{cpu}** (torch {torch.__version__}, CPU capability {capability}, {torch.get_num_threads()} threads), "
          f"{args.size} px, {args.content.name} x {args.style.name}\n")  # fmt: skip
    print("| side | settings | steps | seconds | style distance | content distance | colour distance |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        s = r["score"]
        steps = str(r["steps"])
        if r["side"] != "dreamstyle" and not r["reached"]:
            steps += " (did not reach)"
        print(f"| {r['side']} | {r['settings']} | {steps} | {r['seconds']:.1f} | {s['style']:.4f} | {s['content']:.4f} | {s['colour']:.4f} |")
    verdict = "" if naive["reached"] else " (naive did not reach dreamstyle's picture: a lower bound)"
    print(f"\nnaive / dreamstyle seconds: **{ratio:.2f}x**{verdict}; naive's in-loop evaluator took "
          f"{naive['eval_seconds']:.1f} s more, not counted; naive reached the style distance alone at step "
          f"{naive['style_reached_at']}" + (f" ({naive['style_seconds']:.1f} s: **{style_ratio:.2f}x** dreamstyle's time)." if style_ratio else "."))  # fmt: skip

    args.out.mkdir(parents=True, exist_ok=True)
    path = result_path(args.out, "timeto", cpu)
    doc = {"cpu": cpu, "cpu_capability": capability, "torch": torch.__version__, "threads": torch.get_num_threads(),
           "size": args.size, "content": args.content.name, "style": args.style.name, "model": MODEL,
           "evaluator": {"style_layers": list(EVAL_STYLE_LAYERS), "content_layer": EVAL_CONTENT_LAYER, "colour": "RGB Gram"},
           "rows": rows, "ratio": ratio, "reached": naive["reached"], "style_ratio": style_ratio}  # fmt: skip
    # One file a day per CPU; runs with other settings are kept side by side in it.
    runs = json.loads(path.read_text()).get("runs", []) if path.exists() else []
    runs = [r for r in runs if (r["size"], r["rows"][0]["steps"]) != (args.size, args.steps)] + [doc]
    path.write_text(json.dumps({"runs": runs}, indent=1))
    print(f"\nwrote {path}")
    return path


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        side, case = sys.argv[2], json.loads(sys.argv[3])
        result = (worker_ours if side == "ours" else worker_naive)(case)
        print(json.dumps(result))
    else:
        main()
