"""Optical flow between the frames of a clip, where it can be trusted, and warping by it.

The flow is OpenCV's DIS (Kroeger et al. 2016, the MEDIUM preset): a few milliseconds a pair at
the sizes we paint, accurate enough on real footage, and in a wheel with no further downloads.
Which pixels it may be trusted at is Ruder, Dosovitskiy & Brox's consistency check ("Artistic
style transfer for videos", 2016) together with a look at the pictures (the earlier frame, warped,
must look like the later one: `mismatched`), and the measure of a result is Lai et al.'s warping error
("Learning blind video temporal consistency", 2018).

Conventions: a flow is a (H, W, 2) float tensor of (dx, dy) in pixels, and `flow(a, b)` maps
frame a onto frame b: what a shows at p, b shows at p + flow(p). So `warp(image_of_b, flow(a, b))`
is that image as seen from frame a.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# Ruder et al.'s thresholds (section 3.1), in pixels at the size the flow is computed.
DISAGREE_REL, DISAGREE_ABS = 0.01, 0.5
BOUNDARY_REL, BOUNDARY_ABS = 0.01, 0.002
# "Lightly blurred": a one-pixel Gaussian softens the mask's edges so a seam between warped and
# repainted areas does not show as a hard line.
MASK_SIGMA = 1.0
# Where frame s warped by the flow differs from frame t by more than this (grey levels, 0-1) the
# flow is wrong whatever the consistency check says. Ruder et al.'s check needs the two flows to
# disagree, and on real footage they often agree on a wrong answer: inside a flat-coloured
# figure or sky DIS interpolates a smooth guess both ways, and where a figure's ears had been the
# uncovered background kept the painted ears as a pale ghost for the rest of the shot (issue 25).
# The picture itself tells: the warped previous frame must look like this one. 0.08 is well above
# what resampling, noise and H.264 leave on a correct flow (in the first shot of
# tests/fixtures/walk-cut.mp4, where Ruder et al.'s check trusts the flow, the warped frame misses
# by 0.01 on average) and below a figure's outline against its background: it takes 2 % of those
# pixels away, along the figure and on the ground it uncovers.
PHOTO_TOLERANCE = 0.08


def gray(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"))


def dis_flow(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    """The flow from gray image `a` to gray image `b` (uint8, the same size)."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return torch.from_numpy(dis.calc(a, b, None))


def _grid(flow: torch.Tensor) -> torch.Tensor:
    """Where each pixel's flow lands, in grid_sample's [-1, 1] coordinates (align_corners=True:
    -1 and 1 are the centres of the first and last pixel)."""
    h, w = flow.shape[:2]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow.dtype, device=flow.device),
                            torch.arange(w, dtype=flow.dtype, device=flow.device), indexing="ij")  # fmt: skip
    x = (xs + flow[..., 0]) * (2 / max(w - 1, 1)) - 1
    y = (ys + flow[..., 1]) * (2 / max(h - 1, 1)) - 1
    return torch.stack([x, y], dim=-1)[None]


def warp(x: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """`x` (N, C, H, W) resampled at p + flow(p); past the border, the border.

    Pictures carried from frame to frame are warped with mode="bicubic": bilinear resampling at
    a fractional offset is a low-pass filter, and applied once a frame it washed a zoom's strokes
    out within ten frames (seen on the bench's zoom), where bicubic kept them. Bilinear is for
    flows and masks, and for the warping error, which the literature measures with it."""
    grid = _grid(flow.to(x.device, torch.float32)).expand(x.shape[0], -1, -1, -1)
    return F.grid_sample(x.float(), grid, mode=mode, padding_mode="border", align_corners=True).to(x.dtype)


def unreliable(forward: torch.Tensor, backward: torch.Tensor) -> torch.Tensor:
    """Ruder et al.'s check for frame t, as a (H, W) bool: True where the flow cannot be trusted.

    `backward` is flow(t, s) (where each pixel of t is in frame s), `forward` is flow(s, t).
    A pixel is unreliable where the two disagree (|w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5, w~
    the forward flow taken where the backward flow lands: a disocclusion), at a motion boundary
    (|grad u|^2 + |grad v|^2 > 0.01 |w^|^2 + 0.002), or where the flow leaves the frame.
    """
    h, w = backward.shape[:2]
    back = backward.float()
    along = warp(forward.float().permute(2, 0, 1)[None], back)[0].permute(1, 2, 0)
    sq = lambda v: v.pow(2).sum(-1)  # noqa: E731
    disagree = sq(along + back) > DISAGREE_REL * (sq(along) + sq(back)) + DISAGREE_ABS
    du_y, du_x = torch.gradient(back[..., 0])
    dv_y, dv_x = torch.gradient(back[..., 1])
    boundary = du_x**2 + du_y**2 + dv_x**2 + dv_y**2 > BOUNDARY_REL * sq(back) + BOUNDARY_ABS
    ys, xs = torch.meshgrid(torch.arange(h, dtype=back.dtype, device=back.device),
                            torch.arange(w, dtype=back.dtype, device=back.device), indexing="ij")  # fmt: skip
    x, y = xs + back[..., 0], ys + back[..., 1]
    outside = (x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)
    return disagree | boundary | outside


def mismatched(earlier: np.ndarray, now: np.ndarray, flow: torch.Tensor) -> torch.Tensor:
    """(H, W) bool: where grey frame `earlier` warped by `flow` (flow(now, earlier)) does not look
    like grey frame `now` (PHOTO_TOLERANCE above)."""
    a = torch.tensor(earlier, dtype=torch.float32)[None, None] / 255
    b = torch.tensor(now, dtype=torch.float32) / 255
    return (warp(a, flow)[0, 0] - b).abs() > PHOTO_TOLERANCE


def gaussian(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """`x` (N, C, H, W) under a Gaussian of `sigma` pixels, cut at 3 sigma."""
    # Imported here: torchvision costs over a second, which clips without flow need not pay.
    from torchvision.transforms.functional import gaussian_blur

    k = 2 * int(3 * sigma) + 1
    return gaussian_blur(x, [k, k], [sigma, sigma])


def soften(bad: torch.Tensor) -> torch.Tensor:
    """The weight c in [0, 1] (1, 1, H, W) from an unreliable-pixel map, lightly blurred."""
    return gaussian((~bad).float()[None, None], MASK_SIGMA)


class Flows:
    """The flows between one clip's frames at the output size, each pair computed once (DIS on
    the input frames) and kept in memory until `forget` says the frames are no longer needed."""

    def __init__(self):
        self._gray: dict[int, np.ndarray] = {}
        self._flow: dict[tuple[int, int], torch.Tensor] = {}
        self._weight: dict[tuple[int, int], torch.Tensor] = {}

    def add(self, t: int, frame: Image.Image) -> None:
        self._gray[t] = gray(frame)

    def flow(self, a: int, b: int) -> torch.Tensor:
        if (a, b) not in self._flow:
            # A folder of frames of mixed sizes: b as seen at a's size.
            self._flow[(a, b)] = dis_flow(self._gray[a], self._gray_at(b, a))
        return self._flow[(a, b)]

    def toward(self, t: int, s: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(flow(t, s), the weight c of frame t's pixels): what warps an image of frame s onto
        frame t, and where that warped image can be trusted: Ruder et al.'s check, and frame s
        warped must look like frame t (`mismatched`)."""
        if (t, s) not in self._weight:
            back = self.flow(t, s)
            bad = unreliable(self.flow(s, t), back) | mismatched(self._gray_at(s, t), self._gray[t], back)
            self._weight[(t, s)] = soften(bad)
        return self.flow(t, s), self._weight[(t, s)]

    def _gray_at(self, s: int, t: int) -> np.ndarray:
        """Frame s's grey picture at frame t's size (a folder of frames may mix sizes)."""
        gs, gt = self._gray[s], self._gray[t]
        return gs if gs.shape == gt.shape else np.asarray(Image.fromarray(gs).resize(gt.shape[::-1], Image.BILINEAR))

    def forget(self, keep: Sequence[int]) -> None:
        """Drop the frames, and the flows touching them, that are not in `keep`."""
        keep = set(keep)
        self._gray = {t: g for t, g in self._gray.items() if t in keep}
        self._flow = {k: v for k, v in self._flow.items() if k[0] in keep and k[1] in keep}
        self._weight = {k: v for k, v in self._weight.items() if k[0] in keep and k[1] in keep}


def warping_error(outputs: Sequence[torch.Tensor], flows: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]) -> float:
    """Lai et al.'s warping error: the mean over t of the masked mean squared difference between
    output t and output t+1 warped back to t, pixels in [0, 1] (averaged over the colour channels).

    `flows[t]` is flow(t, t+1) and `masks[t]` (H, W) is 1 where frame t's pixel is seen in frame
    t+1, both from the *input* video (or, for a synthetic clip, its true motion)."""
    errs = []
    for t in range(len(outputs) - 1):
        a, b = outputs[t].float(), outputs[t + 1].float()
        if b.shape != a.shape:
            b = F.interpolate(b, size=a.shape[-2:], mode="bilinear", align_corners=False)
        m = masks[t].float().to(a.device)
        sq = (a - warp(b, flows[t])).pow(2).mean(1)[0]
        errs.append(float((m * sq).sum() / m.sum().clamp_min(1)))
    return sum(errs) / len(errs) if errs else 0.0


def measured(frames: Sequence[Image.Image]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """flow(t, t+1) and its reliable pixels (the unblurred mask) for a real clip, from DIS."""
    flows = Flows()
    for t, f in enumerate(frames):
        flows.add(t, f)
    out = [flows.flow(t, t + 1) for t in range(len(frames) - 1)]
    masks = [(~unreliable(flows.flow(t + 1, t), out[t])).float() for t in range(len(frames) - 1)]
    return out, masks
