"""Image parameterisations: what the optimiser actually changes, and how it becomes pixels."""

from __future__ import annotations

import torch


class PixelImage:
    """The image itself, kept inside the valid range after every step."""

    def __init__(self, init: torch.Tensor):
        self.tensor = init.detach().clone().float().clamp_(0, 1).requires_grad_(True)

    def parameters(self) -> list[torch.Tensor]:
        return [self.tensor]

    def __call__(self) -> torch.Tensor:
        return self.tensor

    @torch.no_grad()
    def constrain(self) -> None:
        self.tensor.clamp_(0, 1)

    def image(self) -> torch.Tensor:
        return self.tensor.detach()
