"""When a picture is finished: the rule `--steps auto` stops a scale by."""

from __future__ import annotations

from collections.abc import Callable

import torch


class Converged:
    """Says when a picture has stopped changing in a way a person could see: every `window`
    steps, the mean change of its pixels since the last look, in 0-255 levels, is compared with
    `levels`. Pixels, not the loss: how far a loss still falls says nothing about what shows,
    and the same rule then serves every objective and optimiser. One look costs one
    image-sized copy and one device sync every `window` steps.
    """

    def __init__(self, levels: float, window: int = 10, min_steps: int = 20):
        self.levels, self.window, self.min_steps = levels, window, min_steps
        self.last: torch.Tensor | None = None
        self.changes: list[float] = []  # per look, for the record and for bench's curves

    def __call__(self, step: int, image_fn: Callable[[], torch.Tensor], loss: torch.Tensor | None = None) -> bool:
        if step % self.window:
            return False
        with torch.no_grad():
            now = image_fn().detach().float().clamp(0, 1)
            if self.last is None or self.last.shape != now.shape:
                self.last = now.clone()
                return False
            change = float((now - self.last).abs().mean()) * 255
            self.last = now.clone()
        self.changes.append(change)
        return step >= self.min_steps and change < self.levels


class Plateau:
    """The rule for feature visualisation, where pixels never settle: the random transforms
    move the picture 3-4 levels per 10 steps from step 40 to 512 (a class on lite0), and an
    objective such as a logit keeps rising roughly with log(steps), so neither "stopped
    changing" nor "stopped improving" ever holds. What does hold is diminishing returns: stop
    once the objective's gain over the last `window` steps is under `share` of its gain since the
    first window (a steady linear climb thus stops after about window / share + window steps).
    Window means smooth out the transforms' noise; the loss is summed on the
    device and read once per window. Measured (docs/performance.md): class images on lite0
    (goldfish, volcano) stop at 128 steps of the old fixed 256, their confidence already 1.0 from
    step 40; the pictures at 128, 160 and 256 steps differ in saturation, not in what they show.
    With share 0.15 goldfish ran to 160; a window of 16 stopped both at 80, while colour still comes in.
    """

    def __init__(self, window: int = 32, share: float = 0.2, min_steps: int = 64):
        self.window, self.share, self.min_steps = window, share, min_steps
        self.total: torch.Tensor | float = 0.0
        self.means: list[float] = []  # objective (minus the loss), one per window

    def __call__(self, step: int, image_fn: Callable[[], torch.Tensor], loss: torch.Tensor | None = None) -> bool:
        if loss is None:
            return False
        self.total = self.total + loss.detach().float()
        if step % self.window:
            return False
        self.means.append(-float(self.total) / self.window)
        self.total = 0.0
        if step < self.min_steps or len(self.means) < 3:
            return False
        gained, lately = self.means[-1] - self.means[0], self.means[-1] - self.means[-2]
        return gained <= 0 or lately < self.share * gained  # no gain at all is done too
