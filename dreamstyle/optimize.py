"""The one optimisation loop every engine runs, and the optimisers it can drive."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.optim import Optimizer
from torchvision.transforms.functional import gaussian_blur
from tqdm.auto import tqdm
from PIL import Image

from .runtime import autocast
from .transforms import Transform, compose


class Interrupted(Exception):
    """Ctrl-C during a run; carries the image as it stood (a PIL image) so nothing is lost."""

    def __init__(self, image: "Image.Image | None"):
        super().__init__("interrupted")
        self.image = image


class NormalizedAscent(Optimizer):
    """DeepDream's step: move by `lr` times the gradient divided by its mean magnitude (or std).

    Normalising makes `lr` mean "average pixel change per step", independent of the layer and
    the backbone, which is what lets one set of presets work across models. Minimises, like every
    torch optimiser; engines pass the negated objective.
    """

    def __init__(self, params, lr: float = 0.02, norm: str = "mean-abs", smooth: float = 0.0):
        super().__init__(params, dict(lr=lr, norm=norm, smooth=smooth))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]):  # type: ignore[override]
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["smooth"] > 0:
                    # Blurring the gradient, not the image, keeps detail already there while
                    # steering new structure to larger, smoother shapes.
                    k = 2 * math.ceil(3 * group["smooth"]) + 1
                    g = gaussian_blur(g, [k, k], [group["smooth"]] * 2)
                scale = g.abs().mean() if group["norm"] == "mean-abs" else g.std()
                p.sub_(g * (group["lr"] / (scale + 1e-8)))
        return loss


@dataclass
class Step:
    """What a listener learns after each step (loss only when it was materialised)."""

    step: int
    total: int
    loss: float | None


class Progress:
    """One tqdm bar across every stage of a run (octaves, scales); silent when quiet."""

    def __init__(self, total: int, desc: str, quiet: bool = False):
        self.bar = tqdm(total=total, desc=desc, disable=quiet, file=sys.stderr, dynamic_ncols=True, leave=False)
        self.done = 0
        self.terms: dict[str, torch.Tensor] = {}  # an engine's loss parts, shown beside the total

    def update(self, loss: torch.Tensor | None, every: int = 10) -> None:
        self.done += 1
        self.bar.update(1)
        # .item() forces a device sync, so only pay for it every few steps and at the end.
        if loss is not None and not self.bar.disable and (self.done % every == 1 or self.done == self.bar.total):
            shown = {"loss": loss, **self.terms}
            self.bar.set_postfix({k: f"{v.item():.4g}" for k, v in shown.items()}, refresh=False)

    def close(self) -> None:
        self.bar.close()


def run(
    image_fn: Callable[[], torch.Tensor],
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    optimizer: Optimizer,
    steps: int,
    *,
    transforms: Sequence[Transform] = (),
    generator: torch.Generator,
    device: torch.device,
    dtype: torch.dtype,
    after_step: Callable[[], None] | None = None,
    progress: Progress | None = None,
    on_step: Callable[[int], None] | None = None,
) -> None:
    """Minimise loss_fn(transform(image_fn())) for `steps` optimiser steps."""
    transform = compose(transforms)

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        x = transform(image_fn(), generator)
        with autocast(device, dtype):
            loss = loss_fn(x)
        loss.backward()
        return loss

    for i in range(steps):
        loss = optimizer.step(closure)
        if after_step is not None:
            after_step()
        if progress is not None:
            progress.update(loss.detach() if isinstance(loss, torch.Tensor) else None)
        if on_step is not None:
            on_step(i)
