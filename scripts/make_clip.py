#!/usr/bin/env python
"""Make the test clip of real-footage troubles: tests/fixtures/walk-cut.mp4.

    .venv/bin/python scripts/make_clip.py                 # writes tests/fixtures/walk-cut.mp4
    .venv/bin/python scripts/make_clip.py --out clip.mp4 --size 640x360 --shot 48

Self-made, from the public-domain / CC0 photos in samples/ and a cartoon figure drawn here, so it
can ship in the repository. It has what a video path gets wrong on real footage (issue 25):

- shot 1: the camera pans slowly over the coffee table while a flat-coloured, outlined figure
  (a rabbit-like body, head, two long ears that swing) walks across it and bobs: flat regions in
  which optical flow is a guess, a subject that uncovers the background behind it (the ears
  leave a trail of disocclusions), motion boundaries;
- a hard cut;
- shot 2: a slow zoom into the rocket while a ball rolls across it.

Deterministic (no random numbers); x264 at CRF 10 through imageio-ffmpeg, as our own clips are.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SS = 3  # drawn at 3x and shrunk: antialiased outlines, as a rendered cartoon has


def _photo(name: str) -> Image.Image:
    return Image.open(SAMPLES / name).convert("RGB")


def _figure(draw: ImageDraw.ImageDraw, x: float, y: float, s: float, swing: float) -> None:
    """The walking figure at (x, y) (feet), height about 1.6 s, ears swung by `swing` degrees."""
    ink, fur, belly, pink = (30, 24, 20), (200, 196, 188), (240, 236, 226), (236, 150, 160)
    w = max(2, round(0.05 * s))

    def ellipse(cx, cy, rx, ry, fill):
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=fill, outline=ink, width=w)

    def ear(cx, cy, angle, length):
        # An ear is a polygon of an ellipse turned about its base.
        a = math.radians(angle)
        pts = []
        for k in range(24):
            u = 2 * math.pi * k / 24
            ex, ey = 0.16 * length * math.cos(u), -0.5 * length * (1 + math.sin(u))
            pts.append((cx + ex * math.cos(a) - ey * math.sin(a), cy + ex * math.sin(a) + ey * math.cos(a)))
        draw.polygon(pts, fill=fur, outline=ink, width=w)

    head_y = y - 1.05 * s
    ear(x - 0.12 * s, head_y - 0.22 * s, -12 + swing, 0.75 * s)
    ear(x + 0.12 * s, head_y - 0.22 * s, 12 + swing, 0.75 * s)
    ellipse(x, y - 0.45 * s, 0.32 * s, 0.42 * s, fur)  # body
    ellipse(x, y - 0.38 * s, 0.18 * s, 0.26 * s, belly)
    ellipse(x, head_y, 0.26 * s, 0.23 * s, fur)  # head
    for side in (-1, 1):
        ellipse(x + side * 0.1 * s, head_y - 0.03 * s, 0.05 * s, 0.06 * s, (255, 255, 255))
        draw.ellipse([x + side * 0.1 * s - 0.025 * s, head_y - 0.04 * s, x + side * 0.1 * s + 0.025 * s, head_y + 0.01 * s], fill=ink)
    draw.ellipse([x - 0.04 * s, head_y + 0.06 * s, x + 0.04 * s, head_y + 0.11 * s], fill=pink)
    for side in (-1, 1):  # feet
        ellipse(x + side * 0.16 * s, y - 0.04 * s, 0.12 * s, 0.06 * s, fur)


def shot_walk(n: int, w: int, h: int) -> list[Image.Image]:
    bg = _photo("coffee.jpg")
    pan = 1.5 * w / 320  # pixels a frame at the output size
    k = max((w + pan * n + 2) / bg.width, h / bg.height)
    big = bg.resize((round(bg.width * k * SS), round(bg.height * k * SS)), Image.LANCZOS)
    frames = []
    for t in range(n):
        ox = pan * t * SS
        f = big.crop((round(ox), 0, round(ox) + w * SS, h * SS))
        d = ImageDraw.Draw(f)
        x = (0.15 + 0.6 * t / max(n - 1, 1)) * w * SS
        y = (0.93 - 0.03 * abs(math.sin(t * math.pi / 6))) * h * SS
        _figure(d, x, y, 0.46 * h * SS, 18 * math.sin(t * math.pi / 8))
        frames.append(f.resize((w, h), Image.LANCZOS))
    return frames


def shot_ball(n: int, w: int, h: int) -> list[Image.Image]:
    src = _photo("rocket.jpg")
    frames = []
    for t in range(n):
        z = 1.0 + 0.012 * t
        cw, ch = src.width / z, src.width / z * h / w
        cx, cy = src.width / 2, src.height * 0.45
        f = src.crop((round(cx - cw / 2), round(cy - ch / 2), round(cx + cw / 2), round(cy + ch / 2))).resize((w * SS, h * SS), Image.LANCZOS)
        d = ImageDraw.Draw(f)
        r = 0.12 * h * SS
        bx, by = (0.2 + 0.05 * t) * w * SS, 0.75 * h * SS
        d.ellipse([bx - r, by - r, bx + r, by + r], fill=(230, 90, 40), outline=(40, 20, 10), width=max(2, round(r / 8)))
        a = t * 0.5  # a stripe turns with the ball
        d.line([bx - r * math.cos(a), by - r * math.sin(a), bx + r * math.cos(a), by + r * math.sin(a)], fill=(250, 220, 80), width=round(r / 4))
        frames.append(f.resize((w, h), Image.LANCZOS))
    return frames


def make(size: tuple[int, int] = (240, 136), shot: int = 24, second: int = 8) -> list[Image.Image]:
    w, h = size
    return shot_walk(shot, w, h) + shot_ball(second, w, h)


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "walk-cut.mp4")
    p.add_argument("--size", default="240x136", help="WxH, even sides")
    p.add_argument("--shot", type=int, default=24, help="frames of the first shot")
    p.add_argument("--second", type=int, default=8, help="frames of the second shot")
    p.add_argument("--fps", type=float, default=24)
    a = p.parse_args(argv)
    w, h = (int(v) for v in a.size.lower().split("x"))
    frames = make((w, h), a.shot, a.second)
    import imageio_ffmpeg

    a.out.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(str(a.out), (w, h), fps=a.fps, quality=9, macro_block_size=1, ffmpeg_log_level="error")
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(np.asarray(f)))
    writer.close()
    print(f"{a.out}: {len(frames)} frames, {w}x{h}, cut before frame {a.shot}")
    return a.out


if __name__ == "__main__":
    main()
