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

    def __call__(self, step: int, image_fn: Callable[[], torch.Tensor]) -> bool:
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
