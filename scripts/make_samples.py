#!/usr/bin/env python
"""Regenerate the sample images shipped in ``samples/``.

    .venv/bin/python scripts/make_samples.py            # writes into samples/
    .venv/bin/python scripts/make_samples.py --out DIR  # writes elsewhere (e.g. to diff)

Two kinds of files come out:

* content photos copied from scikit-image's bundled data.  Only images whose
  skimage docstring states public domain or CC0 are used, so the repository can
  ship them without attribution obligations; the docstring is the only
  provenance skimage publishes for them (its LICENSE.txt covers code, not data).
* style "paintings" drawn procedurally from a fixed seed, so no copyrighted
  artwork ever enters the repository.  Output is byte-identical run to run;
  other numpy/Pillow/libjpeg versions may differ in the last bits (JPEG
  encoders and resamplers are not bit-stable across releases), not visibly.

Needs only numpy, Pillow and scikit-image (all already dependencies of the
dev environment); no network access.  Runs in a few seconds on 2 cores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240611  # one seed for every generated image; change it and README.md must change too
SIZE = 512  # style images at the resolution the CLI works at by default, so no resampling blur
MAX_SIDE = 512  # photos bigger than this are shrunk: keeps samples/ small and demos fast on CPU
JPEG_QUALITY = 92

# (output name, skimage.data function, provenance as stated in that function's docstring)
PHOTOS = [
    ("cat.jpg", "chelsea", "CC0 by the photographer (Stefan van der Walt)"),
    ("coffee.jpg", "coffee", "CC0 by the photographer (Rachel Michetti), courtesy of Pikolo Espresso Bar"),
    ("astronaut.jpg", "astronaut", "NASA Great Images database; public domain"),
    ("rocket.jpg", "rocket", "SpaceX launch photo of DSCOVR on Falcon 9; released into the public domain"),
]


# --------------------------------------------------------------------------- helpers


def _save_jpeg(arr: np.ndarray, path: Path) -> None:
    # 4:4:4 chroma: the default 4:2:0 smears the saturated edges that make these
    # images useful for style transfer; the size cost is small at this resolution.
    Image.fromarray(arr).save(path, quality=JPEG_QUALITY, subsampling=0, optimize=True)


def _save_png(arr: np.ndarray, path: Path, colors: int | None = None) -> None:
    img = Image.fromarray(arr)
    if colors:
        # A fixed-palette PNG is ~3x smaller than RGB for these images and the
        # loss is invisible; no dithering so the result is deterministic and crisp.
        img = img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    img.save(path, optimize=True)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Value noise in [0, 1]: random lattice every ``cell`` px, bicubic-upsampled by Pillow.

    Cheaper than Perlin and good enough, because it only ever steers the
    composition (flow direction, colour zones), never appears as texture itself.
    """
    h, w = shape
    small = rng.random((h // cell + 2, w // cell + 2)).astype(np.float32)
    big = Image.fromarray(small, mode="F").resize(((w // cell + 2) * cell, (h // cell + 2) * cell), Image.BICUBIC)
    out = np.asarray(big)[:h, :w]
    return (out - out.min()) / (out.max() - out.min() + 1e-8)


def _fractal_noise(rng: np.random.Generator, shape: tuple[int, int], cells=(128, 64, 32, 16)) -> np.ndarray:
    out = sum(_smooth_noise(rng, shape, c) / (i + 1) for i, c in enumerate(cells))
    return (out - out.min()) / (out.max() - out.min())


def _bilinear(img: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    y = np.clip(y, 0, h - 1.001)
    x = np.clip(x, 0, w - 1.001)
    y0 = y.astype(np.int32)
    x0 = x.astype(np.int32)
    fy = (y - y0)[..., None] if img.ndim == 3 else y - y0
    fx = (x - x0)[..., None] if img.ndim == 3 else x - x0
    a = img[y0, x0]
    b = img[y0, x0 + 1]
    c = img[y0 + 1, x0]
    d = img[y0 + 1, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def _palette(t: np.ndarray, stops: list[tuple[float, str]]) -> np.ndarray:
    """Piecewise-linear colour ramp; hex stops keep the palettes readable and tweakable."""
    pos = np.array([p for p, _ in stops], np.float32)
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for _, c in stops], np.float32)
    t = np.clip(t, 0, 1)
    return np.stack([np.interp(t, pos, rgb[:, k]) for k in range(3)], axis=-1)


def _to_u8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- photos


def make_photos(out: Path, only: set[str] | None = None) -> list[str]:
    from skimage import data

    written = []
    for name, func, _provenance in PHOTOS:  # provenance is recorded in samples/README.md
        if only and name not in only:
            continue
        arr = getattr(data, func)()
        img = Image.fromarray(arr)
        if max(img.size) > MAX_SIDE:
            scale = MAX_SIDE / max(img.size)
            # LANCZOS keeps the fine texture (fur, wood grain) that DeepDream feeds on.
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
        _save_jpeg(np.asarray(img), out / name)
        written.append(name)
    return written


# --------------------------------------------------------------------------- paintings


def make_swirls(rng: np.random.Generator, n: int = SIZE) -> np.ndarray:
    """Van-Gogh-like night sky: short brush dabs combed along a field of vortices.

    The flow is the curl of a stream function (sum of Gaussian eddies plus a
    gentle horizontal drift), so it is divergence-free and the strokes wrap into
    closed whirls instead of piling up at sinks.  Line-integral convolution of
    blocky noise along that flow turns random dabs into directional strokes.
    """
    # Work on a padded canvas and crop: streamlines that leave the frame would
    # otherwise sample the clamped border and smear it into straight streaks.
    pad = 24
    m = n + 2 * pad
    yy, xx = np.mgrid[0:m, 0:m].astype(np.float32)
    u, v = (xx - pad) / n, (yy - pad) / n  # unit coordinates of the visible frame

    # Stream function: a few big eddies (composition) + many small ones (texture).
    psi = 0.35 * n * v  # drift: the sky flows sideways like a horizon
    eddies = [(0.28, 0.30, 0.17, 1.0), (0.74, 0.20, 0.12, -1.0), (0.58, 0.60, 0.19, 1.0)]
    eddies += [(rng.uniform(0.0, 1.0), rng.uniform(0.0, 1.0), rng.uniform(0.04, 0.09), rng.choice([-1.0, 1.0]))
               for _ in range(16)]
    for cx, cy, r, s in eddies:
        psi += s * 0.9 * r * n * np.exp(-((u - cx) ** 2 + (v - cy) ** 2) / r**2)
    psi += 18.0 * _fractal_noise(rng, (m, m), cells=(64, 32))
    gy, gx = np.gradient(psi)
    vx, vy = gy, -gx
    mag = np.hypot(vx, vy) + 1e-6
    vx, vy = vx / mag, vy / mag

    def lic(noise: np.ndarray, length: int) -> np.ndarray:
        # Hann-weighted so each stroke fades at its ends like a brush lifting off.
        acc = noise.copy()
        wsum = np.ones_like(noise)
        for sign in (1.0, -1.0):
            py, px = yy.copy(), xx.copy()
            for i in range(1, length + 1):
                px += sign * _bilinear(vx, py, px)
                py += sign * _bilinear(vy, py, px)
                w = 0.5 + 0.5 * np.cos(np.pi * i / (length + 1))
                acc += w * _bilinear(noise, py, px)
                wsum += w
        return acc / wsum

    def blocky(cell: int) -> np.ndarray:
        # Blocks of noise rather than per-pixel noise: gives strokes a visible width.
        small = rng.random((m // cell + 1, m // cell + 1)).astype(np.float32)
        return np.kron(small, np.ones((cell, cell), np.float32))[:m, :m]

    def stretch(a: np.ndarray) -> np.ndarray:
        lo, hi = np.percentile(a, [1, 99])
        return np.clip((a - lo) / (hi - lo), 0, 1)

    broad = stretch(lic(blocky(5), 14))
    fine = stretch(lic(blocky(2), 8))
    tex = 0.6 * broad + 0.4 * fine
    tint = stretch(lic(blocky(6), 12))  # per-stroke hue wobble, independent of brightness

    # Colour zone: eddy cores glow yellow inside ringed halos; the sky darkens
    # toward the bottom so the picture has a horizon, not a uniform wallpaper.
    core = np.zeros((m, m), np.float32)
    halo = np.zeros((m, m), np.float32)
    for cx, cy, r, _ in eddies[:3]:
        d = np.sqrt((u - cx) ** 2 + (v - cy) ** 2) / r
        core = np.maximum(core, np.exp(-(d / 0.42) ** 2))
        halo = np.maximum(halo, np.exp(-(d / 0.9) ** 2) * (0.5 + 0.5 * np.cos(2 * np.pi * d * 2.2)))
    zone = 0.36 + 0.2 * _fractal_noise(rng, (m, m), cells=(128, 64)) + 0.5 * core + 0.22 * halo - 0.2 * v**2
    t = zone + 0.55 * (tex - 0.5)
    rgb = _palette(t, [
        (0.00, "#08102b"), (0.20, "#16306e"), (0.38, "#2a5aa8"), (0.52, "#5f97d0"),
        (0.63, "#c5dde6"), (0.72, "#f4e57e"), (0.85, "#f2b52a"), (1.00, "#c46f16"),
    ])
    # Push some strokes toward teal/green and others toward ultramarine, only in
    # the blue range (yellow stars stay clean).
    blue = np.clip((0.68 - t) / 0.2, 0, 1)[..., None]
    shift = (tint - 0.5)[..., None] * blue
    rgb = rgb + shift * np.array([-40.0, 55.0, -10.0], np.float32)
    return _to_u8(rgb[pad : pad + n, pad : pad + n])


def make_mosaic(rng: np.random.Generator, n: int = SIZE) -> np.ndarray:
    """Stained glass: Voronoi cells with dark leading, jewel colours and mottled glass."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    # Cell density varies across the panel so the style has both large and
    # small-scale structure (one cell size would transfer as a uniform grid).
    dens = _fractal_noise(rng, (n, n), cells=(256, 128))
    cand = rng.random((6000, 2)).astype(np.float32) * n
    keep = rng.random(6000) < 0.03 + 0.13 * dens[cand[:, 1].astype(int), cand[:, 0].astype(int)] ** 2
    seeds = cand[keep]

    d1 = np.full((n, n), np.inf, np.float32)
    d2 = np.full((n, n), np.inf, np.float32)
    idx = np.zeros((n, n), np.int32)
    for i, (sx, sy) in enumerate(seeds):
        d = np.hypot(xx - sx, yy - sy)
        closer = d < d1
        d2 = np.where(closer, d1, np.minimum(d2, d))
        idx = np.where(closer, i, idx)
        d1 = np.where(closer, d, d1)

    jewels = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in (
        "#b3122e", "#d9481a", "#f2b418", "#1f7a3a", "#0f5f8c", "#1b2f8f", "#5b1f7a", "#e8d9a8", "#2aa3a0",
    )], np.float32)
    cell_col = jewels[rng.integers(0, len(jewels), len(seeds))]
    cell_col *= rng.uniform(0.75, 1.1, (len(seeds), 1))
    rgb = cell_col[idx]

    # Glass looks lit from behind: brighter in the middle of each pane, plus mottling.
    edge = d2 - d1
    glow = np.clip(edge / 30.0, 0, 1)[..., None]
    mottle = _fractal_noise(rng, (n, n), cells=(24, 12, 6))[..., None]
    rgb = rgb * (0.7 + 0.35 * glow) * (0.85 + 0.3 * mottle)

    # Leading: dark line where two cells meet, slightly wobbly width like hand-cut lead.
    lead_w = 2.2 + 1.5 * _smooth_noise(rng, (n, n), 32)
    lead = np.clip((lead_w - edge) / 1.2, 0, 1)[..., None]
    rgb = rgb * (1 - lead) + np.array([22, 18, 20], np.float32) * lead
    return _to_u8(rgb)


def make_stripes(rng: np.random.Generator, n: int = SIZE) -> np.ndarray:
    """Woodcut / op-art print: bold black bands following a warped contour field,
    over flat colour blocks, with fine hatching in the paper between bands.

    Three deliberately separate scales (colour blocks ~150 px, bands ~20 px,
    hatching ~5 px) so every layer of a style network has something to match.
    """
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n
    warp = _fractal_noise(rng, (n, n), cells=(256, 128, 64))
    # Two ripple centres interfering: a single one reads as a tree ring, two as op-art.
    r1 = np.hypot(xx - 0.66, yy - 0.36)
    r2 = np.hypot(xx - 0.18, yy - 0.86)
    phase = 11.0 * np.minimum(r1, 1.25 * r2) + 2.2 * warp + 0.8 * np.sin(5.0 * xx + 3.0 * yy)
    band = np.sin(2 * np.pi * phase)
    # Band thickness swells and thins across the sheet like a gouge under varying pressure.
    thick = 0.25 + 0.35 * (_smooth_noise(rng, (n, n), 96) - 0.5)
    # Soft edge one pixel wide (distance to the threshold over the local slope):
    # a hard threshold leaves stair-step aliasing that style transfer copies as texture.
    gy, gx = np.gradient(band - thick)
    ink = np.clip((band - thick) / (np.hypot(gx, gy) + 1e-4) + 0.5, 0, 1)

    # Flat colour blocks from a coarse field cut into a few levels: printed from
    # separate blocks, so hard edges and no gradients.
    zone = _fractal_noise(rng, (n, n), cells=(192, 96))
    level = np.digitize(zone, [0.3, 0.48, 0.66])
    blocks = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in (
        "#1d3f8f", "#f2e4c0", "#e0a22a", "#c0261e",
    )], np.float32)
    paper = blocks[level]

    # Hatching across the bands, at an angle to them; only in the lighter blocks
    # (on the dark blue/red blocks it would just read as noise).
    hs = np.sin(2 * np.pi * (52.0 * (xx * 0.8 - yy * 0.6) + 1.0 * warp)) - 0.4
    hatch = np.clip(hs / (2 * np.pi * 52.0 / n) + 0.5, 0, 1)  # same one-pixel soft edge
    hatch *= (band < thick - 0.5) & ((level == 1) | (level == 2))
    black = np.array([22, 18, 20], np.float32)
    alpha = np.maximum(ink, hatch)[..., None]
    rgb = paper * (1 - alpha) + black * alpha
    return _to_u8(rgb)


PAINTINGS = [
    # (file, function, PNG palette colours or None for JPEG)
    ("swirls.jpg", make_swirls, None),
    ("mosaic.png", make_mosaic, 128),
    ("stripes.png", make_stripes, 32),
]


def make_paintings(out: Path, only: set[str] | None = None) -> list[str]:
    written = []
    for i, (name, func, colors) in enumerate(PAINTINGS):
        # A child seed per image: editing one painting never changes the others.
        rng = np.random.default_rng([SEED, i])
        if only and name not in only:
            continue
        arr = func(rng)
        if name.endswith(".png"):
            _save_png(arr, out / name, colors)
        else:
            _save_jpeg(arr, out / name)
        written.append(name)
    return written


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "samples")
    ap.add_argument("--only", nargs="*", help="file names to (re)build; default all")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    only = set(args.only) if args.only else None
    known = {p[0] for p in PHOTOS} | {p[0] for p in PAINTINGS}
    if only and only - known:
        ap.error(f"unknown file(s) {sorted(only - known)}; choose from {sorted(known)}")
    names = make_photos(args.out, only) + make_paintings(args.out, only)
    for name in names:
        print(f"{name:14s} {(args.out / name).stat().st_size / 1024:7.1f} KiB")


if __name__ == "__main__":
    main()
