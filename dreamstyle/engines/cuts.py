"""Where a clip's shots change, from its source frames alone.

A frame that starts a new shot has nothing to take from the frame before it: the flow between
two unrelated pictures is noise, and a warped start, a temporal loss or a blend from it would
print the old shot onto the new one. clip.py runs such a frame as the first of a new clip.

The rule (`find_cuts`). Each frame is reduced to a colour histogram of a small copy (its longest
side SIDE pixels; BINS levels a channel, joint RGB), and consecutive frames are compared by the
Hellinger distance between their histograms, from 0 (the same colours) to 1 (no colour in
common). Frame t starts a new shot where d(t-1, t)

- is at least ABSOLUTE (a real change of colours, not noise), and
- is at least RELATIVE times the typical distance around it (the median of the distances within
  WINDOW frames either side, the frame's own left out), so that a fast pan, a zoom or a moving
  thing, whose colours change steadily from frame to frame, is not cut however fast it goes;
- and the picture does not come back: a flash (a frame or two of light, a photographer's flash,
  a glitch) is followed within FLASH frames by a frame close (below ABSOLUTE) to the one before
  it, and is no cut.

A fade over 8 frames changes the colours a little at every frame (0.38-0.49 a step, evenly), so
it is no cut: the flow's trust mask (temporal.py) takes what no longer matches. A dissolve over
3 frames or fewer is a cut at each of its frames (each is a picture of its own and starts
afresh). A cut the rule misses, or one it finds where there is none, is put right with
`--cuts LIST` (the frames where shots start) or `--cuts none`.

The thresholds were measured at SIDE 64 (tests/test_cuts.py holds the rule to these clips).
tests/fixtures/walk-cut.mp4: the cut at frame 24 steps 0.94, 12x the median step around it; the
largest other step is 0.09 (1.2x its median: a walk over a pan, then a zoom). bench/video.py's
synthetic clips (24 frames at 160x90, 240x136 and 64x48) step at most 0.08 (pan), 0.10 (zoom)
and 0.06 (moving object), never more than 1.3x the median around them. Two photos (samples/
coffee and rocket) alternating every 3, 4 or 6 frames step 0.96 at each change. A one- or
two-frame brightness flash (2.5x) steps up to 0.79, in and out. So ABSOLUTE sits at the
geometric middle of the largest non-cut step (0.10) and the smallest cut (0.94), and RELATIVE
at 4x, 3x above the most uneven pan or zoom and 3x below the fixture's cut.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image

SIDE = 64  # longest side of the copy a histogram is taken of: a few thousand pixels, ~0.1 ms
BINS = 8  # levels a channel: 512 joint colours, coarse enough that a pan's new strip moves few
ABSOLUTE = 0.3  # Hellinger distance a cut must reach (cuts measured 0.94-0.96, moving shots <= 0.10)
RELATIVE = 4.0  # ... and how far above the median step around it (cut 12x, pans and zooms <= 1.3x)
WINDOW = 8  # frames either side the typical step is measured over
FLASH = 2  # a change that comes back within this many frames is a flash, not a cut


def histogram(frame: Image.Image) -> np.ndarray:
    """The frame's joint RGB histogram of a SIDE-pixel copy, normalised to sum 1."""
    small = frame.convert("RGB")
    small.thumbnail((SIDE, SIDE), Image.BILINEAR)  # thumbnail: in place, never enlarges
    q = np.asarray(small, dtype=np.uint8) // (256 // BINS)
    index = (q[..., 0].astype(np.int32) * BINS + q[..., 1]) * BINS + q[..., 2]
    h = np.bincount(index.ravel(), minlength=BINS**3).astype(np.float64)
    return h / h.sum()


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Hellinger distance between two normalised histograms, 0 (same) to 1 (disjoint)."""
    return float(np.sqrt(max(0.0, 1.0 - np.sqrt(a * b).sum())))


def steps(hists: list[np.ndarray]) -> list[float]:
    """d(t-1, t) for t = 1 … n-1 (index t-1)."""
    return [distance(a, b) for a, b in zip(hists, hists[1:])]


def find_cuts(frames: Iterable[Image.Image]) -> list[int]:
    """The frames (numbered from 0) where a new shot starts, by the rule above; never 0."""
    hists = [histogram(f) for f in frames]
    d = steps(hists)
    cuts = []
    for t in range(1, len(hists)):
        step = d[t - 1]
        if step < ABSOLUTE:
            continue
        around = [d[k - 1] for k in range(max(1, t - WINDOW), min(len(hists), t + WINDOW + 1)) if k != t]
        if around and step < RELATIVE * float(np.median(around)):
            continue
        if _flash(hists, t):
            continue
        cuts.append(t)
    return cuts


def _flash(hists: list[np.ndarray], t: int) -> bool:
    """The change at t is part of a flash: a picture from just before it (frame a < t) is back
    just after it (frame b >= t), at most FLASH frames of something else in between."""
    n = len(hists)
    return any(distance(hists[a], hists[b]) < ABSOLUTE
               for a in range(max(0, t - 1 - FLASH), t) for b in range(t, min(n, t + 1 + FLASH)) if 2 <= b - a <= FLASH + 1)  # fmt: skip
