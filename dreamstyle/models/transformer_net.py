"""The image transformation network that paints in one forward pass (Johnson et al. 2016), with
conditional instance normalisation so one network holds several paintings (Dumoulin et al. 2017).

Departures from the paper, each for the picture: reflection padding instead of zeros (no dark
frame along the border); nearest-neighbour upsampling then a convolution instead of a transposed
convolution (which leaves checkerboards, Odena et al. 2016); instance instead of batch norm
(Ulyanov et al. 2016: contrast normalised per picture, so a dark photo is painted like a bright one).
The output is a sigmoid in [0, 1], as every tensor between dreamstyle's functions is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Channel widths (encoder's three stages) and residual blocks per size. "base" is Johnson's own
# 32-64-128 with 5 blocks; "small" quarters the multiply-adds (half the widths), which is what makes
# a CPU paint in real time (docs/fast.md).
SIZES = {"small": ((16, 32, 64), 5), "base": ((32, 64, 128), 5)}


class CondInstanceNorm(nn.Module):
    """Instance norm whose scale and shift are chosen per painting: row k of `gamma`/`beta` is
    painting k; a mix of paintings is the same mix of their rows."""

    def __init__(self, channels: int, styles: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(styles, channels))
        self.beta = nn.Parameter(torch.zeros(styles, channels))
        # (mean, variance) per channel, measured on the whole picture, that a tile of it is
        # normalised with instead of its own (engines/fast_tiles.py); None: the input's own.
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        # mix: (N, styles), each row sums to 1
        if self.stats is not None:
            mean, var = self.stats
            scale = (mix @ self.gamma)[:, :, None, None] * torch.rsqrt(var + 1e-5)
            return ((x - mean) * scale + (mix @ self.beta)[:, :, None, None]).to(x.dtype)
        if mix.shape[0] == 1 or bool((mix == mix[:1]).all()):
            # One mix for the whole batch (painting, and training one painting a batch): group norm
            # with a group per channel is instance norm with the affine fused in, one pass over
            # the activations instead of three (norm, scale, shift): 2-3x less time in the norms.
            m = mix[:1]
            return F.group_norm(x, x.shape[1], (m @ self.gamma)[0].to(x.dtype), (m @ self.beta)[0].to(x.dtype), eps=1e-5)
        g = (mix @ self.gamma)[:, :, None, None]
        b = (mix @ self.beta)[:, :, None, None]
        return F.instance_norm(x, eps=1e-5) * g + b


class _Conv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, styles: int = 1, upsample: int = 1, norm: bool = True, act: bool = True):
        super().__init__()
        self.pad, self.upsample, self.act = k // 2, upsample, act
        self.conv = nn.Conv2d(cin, cout, k, stride)
        self.norm = CondInstanceNorm(cout, styles) if norm else None

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        x = self.conv(F.pad(x, (self.pad,) * 4, mode="reflect"))
        if self.norm is not None:
            x = self.norm(x, mix)
        return F.relu(x, inplace=True) if self.act else x


class _Residual(nn.Module):
    def __init__(self, c: int, styles: int):
        super().__init__()
        self.a = _Conv(c, c, 3, styles=styles)
        self.b = _Conv(c, c, 3, styles=styles, act=False)

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x, mix), mix)


class TransformerNet(nn.Module):
    """photo (N, 3, H, W) in [0, 1] and a mix (N, styles) → painted picture (N, 3, H, W) in [0, 1].
    Any H and W work; sides that are not multiples of 4 are padded by reflection and cropped back."""

    def __init__(self, styles: int = 1, size: str = "small"):
        super().__init__()
        (c1, c2, c3), blocks = SIZES[size]
        self.styles, self.size = styles, size
        self.down = nn.ModuleList([_Conv(3, c1, 9, styles=styles), _Conv(c1, c2, 3, 2, styles), _Conv(c2, c3, 3, 2, styles)])
        self.res = nn.ModuleList([_Residual(c3, styles) for _ in range(blocks)])
        self.up = nn.ModuleList([_Conv(c3, c2, 3, styles=styles, upsample=2), _Conv(c2, c1, 3, styles=styles, upsample=2),
                                 _Conv(c1, 3, 9, norm=False, act=False)])  # fmt: skip

    def forward(self, x: torch.Tensor, mix: torch.Tensor | None = None) -> torch.Tensor:
        n, _, h, w = x.shape
        if mix is None:
            mix = torch.full((n, self.styles), 1.0 / self.styles, device=x.device, dtype=x.dtype)
        mix = mix.to(x.dtype)
        ph, pw = -h % 4, -w % 4
        y = F.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x
        # Centred like the backbones' input, so the first layer need not learn the offset.
        y = y - 0.5
        for layer in self.down:
            y = layer(y, mix)
        for block in self.res:
            y = block(y, mix)
        for layer in self.up:
            y = layer(y, mix)
        return torch.sigmoid(y[..., :h, :w])


def mix_vector(mix: list[float] | None, styles: int) -> torch.Tensor:
    """`--mix` as the (1, styles) row the network takes: normalised to sum to 1; None: painting 0
    alone when the network holds one, else an even mix."""
    if mix is None:
        w = torch.zeros(styles)
        w[0] = 1.0 if styles == 1 else 0.0
        if styles > 1:
            w[:] = 1.0 / styles
        return w[None]
    w = torch.tensor(mix, dtype=torch.float32)
    return (w / w.sum())[None]
