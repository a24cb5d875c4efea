"""`--debug-flow DIR`: what the temporal state saw between each frame and the one before it, as
pictures, to tell a bad flow from a bad style.

For each frame t of a shot after its first, DIR gets

- `flow_NNNNN.png` (NNNNN = t): flow(t, t-1), the motion that warps frame t-1's picture onto
  frame t, as the usual colour wheel: hue is the direction, brightness the length, full at
  FULL_SCALE of the frame's longest side a frame (one scale for the whole clip, so frames compare);
- `mask_NNNNN.png`: the trust weight c of the same pair, white where frame t-1's warped picture is
  trusted, black where not, greys between;

and `cuts.txt` lists the frames that start a new shot (they have no flow or mask: nothing is
carried into them). Both come from `carry.flows.toward(t, t-1)`, whatever it computes, at the
size the frames are run at.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import UserError

FULL_SCALE = 0.05  # a flow this share of the longest side a frame shows at full brightness


def check_folder(path, force: bool) -> Path:
    """The folder --debug-flow names, refused before any work starts as an output is: its parent
    must exist, and one holding files already needs --force (the files of the same names are
    then overwritten)."""
    path = Path(str(path)).expanduser()
    if path.exists() and not path.is_dir():
        raise UserError(f"--debug-flow {path} is a file", "give a folder, e.g. --debug-flow flow-debug/")
    if not path.parent.is_dir():
        raise UserError(f"folder {path.parent} does not exist", f"create it first: mkdir -p {path.parent}")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise UserError(f"--debug-flow folder {path} is not empty", "pass --force to overwrite, or give a new folder")
    return path


class FlowDebug:
    """Writes each pair (t, t-1) of a shot once, whichever pass or direction met it first."""

    def __init__(self, folder, cuts: Iterable[int]):
        self.folder = Path(str(folder)).expanduser()
        self.folder.mkdir(exist_ok=True)
        self.cuts = sorted(cuts)
        self.written: set[int] = set()
        lines = [f"{c}" for c in self.cuts]
        text = "# frames where a new shot starts (no flow or mask: nothing carried into them)\n" + "".join(f"{x}\n" for x in lines)
        (self.folder / "cuts.txt").write_text(text)

    def seen(self, carry, t: int) -> None:
        """Frame t has been added to `carry`: write the pairs it completes, (t, t-1) and (t+1, t)."""
        for a in (t, t + 1):
            if a >= 1 and a not in self.written and a not in self.cuts and a in carry.inputs and a - 1 in carry.inputs:
                flow, c = carry.flows.toward(a, a - 1)
                colour_wheel(flow).save(self.folder / f"flow_{a:05d}.png")
                mask_image(c).save(self.folder / f"mask_{a:05d}.png")
                self.written.add(a)


def colour_wheel(flow: torch.Tensor) -> Image.Image:
    """A flow ((H, W, 2) or (1, 2, H, W), pixels) as an RGB picture: hue the direction, value the
    length (full at FULL_SCALE of the longest side), saturation full."""
    import cv2

    f = flow.detach().float().cpu()
    if f.dim() == 4:
        f = f[0]
    if f.shape[0] == 2 and f.shape[-1] != 2:
        f = f.permute(1, 2, 0)
    f = f.numpy()
    h, w = f.shape[:2]
    magnitude, angle = cv2.cartToPolar(np.ascontiguousarray(f[..., 0]), np.ascontiguousarray(f[..., 1]), angleInDegrees=True)
    hsv = np.zeros((h, w, 3), np.uint8)
    hsv[..., 0] = (angle / 2).astype(np.uint8) % 180  # OpenCV's 8-bit hue runs 0-179
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / (FULL_SCALE * max(h, w)) * 255, 0, 255).astype(np.uint8)
    return Image.fromarray(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))


def mask_image(c: torch.Tensor) -> Image.Image:
    """A trust weight in [0, 1] ((1, 1, H, W) or (H, W)) as a grey picture, white = trusted."""
    m = c.detach().float().cpu().reshape(c.shape[-2:]).clamp(0, 1).numpy()
    return Image.fromarray((m * 255).round().astype(np.uint8), "L")
