"""The feedback zoom: dream, zoom and turn the dream about its centre, dream that, …"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from PIL import Image

from ..events import ItemDone, Reporter
from ..media.images import as_picture, to_pil, to_tensor
from ..core.job import Job, Result, record

ZOOM_FPS = 12.0
ZOOM_OCTAVES = 2  # each frame starts from a dreamed one, so fewer octaves suffice and save time


def zoom_step(img: Image.Image, zoom: float, rotate: float = 0.0) -> Image.Image:
    """Scale by `zoom` and turn by `rotate` degrees (counter-clockwise) about the centre, same size.

    One affine resample, not a crop then a resize, so zoom and rotation cost one interpolation;
    where a rotation or a zoom-out reaches past the border the picture is mirrored, not black.
    """
    x = to_tensor(img.convert("RGB"))
    h, w = x.shape[-2:]
    a = math.radians(rotate)
    c, s = math.cos(a) / zoom, math.sin(a) / zoom
    # In affine_grid's [-1, 1] coordinates x and y have different pixel lengths: the aspect ratio
    # keeps the turn a rotation instead of a shear.
    theta = torch.tensor([[[c, s * h / w, 0.0], [-s * w / h, c, 0.0]]], dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return to_pil(F.grid_sample(x, grid, mode="bicubic", padding_mode="reflection", align_corners=False))


def zoom_frames(job: Job, report: Reporter, run_one: Callable[[Job, Reporter], Result]) -> Iterator[Image.Image]:
    """Frame 0 is the first dream of the job's image; each later frame dreams the zoomed one
    before it. Each frame carries the zoom Job with its frame number."""
    m = job.motion
    inner = report.inner()
    current: Image.Image = as_picture(job.inputs["image"], job.settings.max_pixels).rgb  # no use for alpha here
    for k in range(m.frames):
        out = run_one(Job("dream", {"image": current}, job.settings), inner).image
        out.info["dreamstyle"] = record(job, out.info["dreamstyle"], frame=k)
        yield out
        # Reported once the frame has been taken (written), so a count shown is a count kept.
        report(ItemDone("frame", k, m.frames, image=out))
        report.check()
        current = zoom_step(out, m.zoom, m.rotate)


def frames(job: Job, report: Reporter, run_one: Callable[[Job, Reporter], Result]) -> tuple[Iterator[Image.Image], float]:
    """The zoom's frames and their rate (--fps, or ZOOM_FPS), as the registry names them to `run`."""
    return zoom_frames(job, report, run_one), job.motion.fps or ZOOM_FPS
