"""Image parameterisations: what the optimiser actually changes, and how it becomes pixels."""

from __future__ import annotations

import functools

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


# ImageNet's colour correlation (the square root of its RGB covariance, as measured for lucid).
# Optimising in this decorrelated space lets every parameter move all three channels together the
# way natural colours co-vary, instead of producing the saturated noise of independent channels.
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()


@functools.lru_cache(maxsize=16)
def _color(device: str, dtype: torch.dtype) -> torch.Tensor:
    """_COLOR on `device`, copied there once: a host-to-device copy every step would make the
    CPU wait for the GPU's queue to drain each time. Never modified in place."""
    return _COLOR.to(device=device, dtype=dtype)


class FFTImage:
    """A batch of images parameterised by their Fourier spectrum, in decorrelated colour.

    Each frequency's coefficient is scaled by 1/frequency, so gradient steps change low
    frequencies as easily as high ones: the optimiser then finds shapes rather than the
    high-frequency patterns a plain pixel parameterisation drifts into.
    """

    def __init__(self, batch: int, height: int, width: int, generator: torch.Generator,
                 device: torch.device | str = "cpu", sd: float = 0.01, decay: float = 1.0):
        self.shape = (height, width)
        fy = torch.fft.fftfreq(height)[:, None]
        fx = torch.fft.rfftfreq(width)[None, :]
        freqs = (fx**2 + fy**2).sqrt()
        self.scale = (1.0 / freqs.clamp_min(1.0 / max(height, width)) ** decay).to(device)
        init = torch.randn(batch, 3, height, width // 2 + 1, 2, generator=generator) * sd
        self.spectrum = init.to(device).requires_grad_(True)

    def parameters(self) -> list[torch.Tensor]:
        return [self.spectrum]

    def __call__(self) -> torch.Tensor:
        spec = torch.view_as_complex(self.spectrum) * self.scale
        x = torch.fft.irfft2(spec, s=self.shape, norm="ortho") / 4.0  # /4 keeps early sigmoid inputs small
        x = torch.einsum("ij,njhw->nihw", _color(str(x.device), x.dtype), x)
        return torch.sigmoid(x)

    def constrain(self) -> None:  # the sigmoid already keeps pixels valid
        pass

    def image(self) -> torch.Tensor:
        with torch.no_grad():
            return self()


class SigmoidPixels:
    """Plain pixels for visualisation (`--param pixel`), kept valid by a sigmoid, not clamping,
    so the gradient never stops at the range's edges."""

    def __init__(self, batch: int, height: int, width: int, generator: torch.Generator,
                 device: torch.device | str = "cpu", sd: float = 0.01):
        self.logits = (torch.randn(batch, 3, height, width, generator=generator) * sd).to(device).requires_grad_(True)

    def parameters(self) -> list[torch.Tensor]:
        return [self.logits]

    def __call__(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)

    def constrain(self) -> None:
        pass

    def image(self) -> torch.Tensor:
        with torch.no_grad():
            return self()
