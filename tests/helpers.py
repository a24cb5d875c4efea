"""What the command-line tests share: running the CLI, and judging whether an output changed the
way its command promises.

Exit codes and sizes say nothing about the picture: a CLI that saved its input unchanged would
pass them. These measurements compare what the CLI wrote with what it was given, with the bundled
efficientnet-lite0 as the judge where a network's view is needed. They use only PIL, numpy,
torch and the public names of dreamstyle (the `cli.app`/`cli.main` entry points, `images.to_tensor`,
`backbones.MODELS`), so the tests keep working when the package's internals move.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from typer.testing import CliRunner

from dreamstyle.cli import app
from dreamstyle.media.images import to_tensor

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
LITE = ["--model", "efficientnet-lite0"]


def invoke(*args):
    """The CLI in-process, as a user types it (every argument a string)."""
    return CliRunner().invoke(app, [str(a) for a in args])


# --- pictures ---------------------------------------------------------------------------------


def photo(src) -> Image.Image:
    """A file (or an image) as a viewer shows it: upright, RGB."""
    if isinstance(src, Image.Image):
        return src.convert("RGB")
    with Image.open(src) as img:
        return ImageOps.exif_transpose(img).convert("RGB")


def pixels(src) -> np.ndarray:
    return np.asarray(photo(src), dtype=np.float64)


def resized_like(src, like) -> Image.Image:
    """`src` scaled to the size of `like`: the input as the CLI saw it, before any change."""
    like = photo(like)
    img = photo(src)
    return img if img.size == like.size else img.resize(like.size, Image.Resampling.LANCZOS)


def resized(src, longest: int) -> Image.Image:
    """`src` scaled so its longest side is `longest`, as `--size` promises."""
    img = photo(src)
    k = longest / max(img.size)
    return img.resize((max(1, round(img.width * k)), max(1, round(img.height * k))), Image.Resampling.LANCZOS)


# How far a dream must move the pixels (mean, 0-255 levels) to count as changed. Calibrated by
# running each CLI path with --lr 1e-9, i.e. everything but the change itself: an unchanged
# picture scores 0 after the CLI's own resize, 2.5 after a bilinear one, 1.3-2.3 after an H.264
# or GIF round trip. At the tests' settings dreams move 11-15 levels. 6 leaves a factor of about
# 2.4 on either side.
DREAM_MOVES = 6.0

# How much closer (ratio of Gram distances) a stylised picture must be to its painting than the
# photo it started from. An unchanged photo scores 0.99-1.0, also after GIF quantisation; at the
# tests' settings (20 steps) the pictures score 0.1-0.46.
STYLE_CLOSER = 0.7


def moved(out, src) -> float:
    """Mean absolute difference, in 0-255 levels, between an output and its input scaled to the
    output's size. An unchanged picture scores resize and codec noise only (1-3 levels)."""
    return float(np.abs(pixels(out) - pixels(resized_like(src, out))).mean())


# --- the network's view ------------------------------------------------------------------------


def features(lite, img, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return {k: v.float() for k, v in lite(to_tensor(photo(img)), list(layers)).items()}


def _gram(f: torch.Tensor) -> torch.Tensor:
    # Written out here rather than imported, so the judge does not share the engine's code.
    c = f.shape[1]
    x = f[0].reshape(c, -1)
    return x @ x.T / x.shape[1]


def style_layers() -> list[str]:
    from dreamstyle.models.backbones import MODELS

    return [spec.split(":")[0] for spec in MODELS["efficientnet-lite0"].style_layers.split(",")]


def gram_distance(lite, img, styles: Sequence, weights: Sequence[float] | None = None) -> float:
    """Mean relative Gram-matrix error over efficientnet-lite0's style layers between `img` and
    the (weighted) blend of `styles`, each scaled to `img`'s longest side as the style engine
    does. Lower is closer to the painting's textures and colours."""
    img = photo(img)
    layers = style_layers()
    weights = list(weights) if weights is not None else [1.0] * len(styles)
    total = sum(weights)
    longest = max(img.size)
    targets = {l: 0.0 for l in layers}
    for style, w in zip(styles, weights):
        s = photo(style)
        k = longest / max(s.size)
        s = s.resize((max(1, round(s.width * k)), max(1, round(s.height * k))), Image.Resampling.LANCZOS)
        f = features(lite, s, layers)
        for l in layers:
            targets[l] = targets[l] + (w / total) * _gram(f[l])
    f = features(lite, img, layers)
    errs = [((_gram(f[l]) - targets[l]).pow(2).sum() / targets[l].pow(2).sum()).item() for l in layers]
    return sum(errs) / len(errs)


def style_ratio(lite, out, content, styles: Sequence, weights: Sequence[float] | None = None) -> float:
    """How much closer to the painting(s) the output is than the photo at the output's size."""
    return gram_distance(lite, out, styles, weights) / gram_distance(lite, resized_like(content, out), styles, weights)


def noise_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


# --- sheets ------------------------------------------------------------------------------------


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def sheet_cells(sheet) -> list[Image.Image]:
    """The pictures of a contact sheet in reading order, found by where the sheet's background
    colour (its corner pixel) is absent: labels and titles are thin text, cells are solid."""
    img = photo(sheet)
    a = np.asarray(img, dtype=np.int16)
    filled = np.abs(a - a[0, 0]).max(axis=2) > 0
    if not filled.any():
        return []
    cols = _runs(filled.sum(axis=0) >= 0.5 * filled.sum(axis=0).max())
    cells = []
    in_cols = np.concatenate([np.arange(x0, x1) for x0, x1 in cols])
    rows = _runs(filled[:, in_cols].mean(axis=1) >= 0.8 * filled[:, in_cols].mean(axis=1).max())
    for y0, y1 in rows:
        for x0, x1 in cols:
            if filled[y0:y1, x0:x1].mean() > 0.9:  # an empty slot at the end of the last row is not a cell
                cells.append(img.crop((x0, y0, x1, y1)))
    return cells


def map_cells_agree(lite, sheet, src, layer: str, size: int) -> list[tuple[int, int, float]]:
    """For each cell of a `visualize maps` sheet: (the channel it should show, strongest first
    by mean activation; the channel of `layer` whose map it resembles most; how closely, as the
    correlation of the cell's brightness with that map). The colour map rises in brightness
    with the activation, so a cell drawn from the right map correlates at 0.98-0.99."""
    a = features(lite, resized(src, size), [layer])[layer][0]
    order = a.mean(dim=(1, 2)).argsort(descending=True)
    out = []
    for k, cell in enumerate(sheet_cells(sheet)):
        lum = torch.from_numpy(pixels(cell).mean(axis=2)).float()
        maps = torch.nn.functional.interpolate(a.clamp(min=0)[:, None], size=lum.shape, mode="nearest")[:, 0]
        r = torch.stack([torch.corrcoef(torch.stack([lum.flatten(), m.flatten()]))[0, 1] for m in maps]).nan_to_num(0)
        out.append((int(order[k]), int(r.argmax()), float(r[order[k]])))
    return out


# --- the CLI as a process, for Ctrl-C ------------------------------------------------------------


def cli_process(*args, prelude: str = "") -> subprocess.Popen:
    """`dreamstyle ARGS` in its own process through the console entry point, as a shell runs it.
    `prelude` is Python run first (to slow a step down, say)."""
    code = f"{prelude}\nfrom dreamstyle.cli import main; main()"
    env = {**os.environ, "DREAMSTYLE_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip


def wait_for(proc: subprocess.Popen, pattern: str, timeout: float = 120) -> str:
    """Read stderr until `pattern` (a regex) appears; fail with what was read if it never does."""
    deadline, buf = time.time() + timeout, ""
    while not re.search(pattern, buf[-2000:]) and time.time() < deadline and proc.poll() is None:
        buf += proc.stderr.read(1)  # the bar is redrawn on one line: its tail is enough to search
    if not re.search(pattern, buf):
        proc.kill()
        raise AssertionError(f"never saw {pattern!r} on stderr:\n{buf}")
    return buf


def ctrl_c(proc: subprocess.Popen, timeout: float = 60) -> str:
    """Press Ctrl-C once and wait for the process to end; returns the rest of stderr."""
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return err


@contextlib.contextmanager
def local_ray(env: dict[str, str] | None = None) -> Iterator:
    """A Ray cluster on this machine for one test module: 2 CPUs, 2 logical GPUs, no dashboard, a
    small object store. Its processes inherit the environment it starts in, so workers import this
    checkout, stay offline, bind and talk on 127.0.0.1 only and send no usage statistics; `env`
    adds to that (a test-only hook for the workers, say)."""
    import ray  # installed with the test extra: a missing Ray fails here, it is not skipped

    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(SAMPLES.parent), os.environ.get("PYTHONPATH")])),
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0", "DREAMSTYLE_OFFLINE": "1", **(env or {})}  # fmt: skip
    if os.environ.get("CUDA_VISIBLE_DEVICES") == "":  # conftest hides the GPUs; Ray wants 2 ids to hand out
        env["CUDA_VISIBLE_DEVICES"] = "0,1"
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    ray.init(address="local", num_cpus=2, num_gpus=2, include_dashboard=False, object_store_memory=80 * 2**20, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
