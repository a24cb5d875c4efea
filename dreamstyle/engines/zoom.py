"""The feedback zoom: dream, zoom and turn the dream about its centre, dream that, …

With a mask, the mask marks a part of the photo, so it zooms and turns with the photo: frame k's
mask is the mask moved as frame k's picture has been (zoom^k, k x rotate), and outside it frame k
is the photo itself moved so, in one resample, not the dreamed frame before it. A mask held still
while the picture flows outward under it would slide off what it marked, and the dream that flows
out of it would be carried on outside. A folder of masks gives each frame its own, as drawn on
the frames (not moved).
"""

from __future__ import annotations

import math
from pathlib import Path
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from PIL import Image

from ..events import ItemDone, Reporter
from ..media.images import as_picture, resize_longest, to_pil, to_tensor
from ..core.job import Job, Result, record
from ..optim.masks import for_frame, open_mask_picture

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
    photo: Image.Image = as_picture(job.inputs["image"], job.settings.max_pixels).rgb  # no use for alpha here
    current = photo
    mask = job.inputs.get("mask")
    if mask is not None and job.settings.size:  # every frame after the first is at the dream's size
        photo = current = resize_longest(photo, job.settings.size)
    for k in range(m.frames):
        inputs: dict = {"image": current}
        if mask is not None:
            inputs = _masked(mask, k, photo, current, m.zoom, m.rotate, report)
        out = run_one(Job("dream", inputs, job.settings), inner).image
        out.info["dreamstyle"] = record(job, out.info["dreamstyle"], frame=k)
        yield out
        # Reported once the frame has been taken (written), so a count shown is a count kept.
        report(ItemDone("frame", k, m.frames, image=out))
        report.check()
        current = zoom_step(out, m.zoom, m.rotate)


def _masked(mask, k: int, photo: Image.Image, current: Image.Image, zoom: float, rotate: float, report: Reporter) -> dict:
    """Frame k's dream inputs with a mask: its mask and its start, the photo moved as frame k
    has been outside the mask and the zoomed dream inside (see the top)."""
    from .dream import dream_mask

    if Path(mask).is_dir():
        frame_mask = open_mask_picture(for_frame(mask, k), "the mask")
    else:
        frame_mask = open_mask_picture(mask, "the mask").resize(photo.size, Image.BILINEAR)
        if k > 0:
            frame_mask = zoom_step(frame_mask, zoom**k, rotate * k)
    moved = zoom_step(photo, zoom**k, rotate * k) if k > 0 else photo
    # Frame 0 reads the mask as given, so its note (another shape, stretched) is said once.
    w = dream_mask(frame_mask if k > 0 or Path(mask).is_dir() else mask, (photo.height, photo.width), report if k == 0 else None)
    start = w * to_tensor(current.convert("RGB")) + (1 - w) * to_tensor(moved)
    return {"image": to_pil(start), "mask": frame_mask}


def frames(job: Job, report: Reporter, run_one: Callable[[Job, Reporter], Result]) -> tuple[Iterator[Image.Image], float]:
    """The zoom's frames and their rate (--fps, or ZOOM_FPS), as the registry names them to `run`."""
    return zoom_frames(job, report, run_one), job.motion.fps or ZOOM_FPS
