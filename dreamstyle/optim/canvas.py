"""The canvas a style scale is optimised on: the picture inside a free margin, cut off at the end.

Why: the edge of the network's input is where the Gram losses dump what fits nowhere else. A
pixel there is seen by few windows of the deep layers (the content layer and the deep style
layers) but as fully as any other by the shallow ones, so colours and strokes the painting has
and the photo lacks cost least there: a bright, noisy strip 1-6 px wide grew along the edge (on
cat x swirls, efficientnet-lite0, 128 px, the top rows had 4.1, 2.8, 2.8, 2.6 times the
high-frequency energy of the interior). It is not the zero padding of the first layer (padding it
by replication changed nothing) nor TV; mirroring the picture into a margin only moves the strip
to the mirror line. What removes it is a margin of free pixels, optimised but not part of the
picture: the picture's own edge is then inside the network's input, and the losses are taken
over the feature positions that lie in the picture, so the margin is context, not a place to put
anything (measured in bench/balance.py and docs/style.md).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

# Pixels of margin on each side. With 8 the strip is gone (the top rows' energy 1.1, 0.8, 0.9 of
# the interior's; at 256 px the worst side's outer 3 rows 2.72 before, 1.01 after). A step costs
# what the canvas's extra pixels cost: measured 16 % more at 256 px, 8 % at 512 px.
MARGIN = 8


def canvas_margin(picture: torch.Tensor) -> int:
    """The margin for a picture of this size (a mirror needs fewer pixels than the picture)."""
    return min(MARGIN, *(d - 1 for d in picture.shape[-2:]))


def widen(x: torch.Tensor, margin: int) -> torch.Tensor:
    """`x` mirrored into a margin: a canvas to start from, or the photo as the content target."""
    return F.pad(x, [margin] * 4, mode="reflect") if margin else x


def inner(x: torch.Tensor, margin: int) -> torch.Tensor:
    """The picture inside a canvas, or the positions of a feature map that lie in it."""
    return x[..., margin : x.shape[-2] - margin, margin : x.shape[-1] - margin] if margin else x


def in_picture(feats: dict[str, torch.Tensor], margin: int, strides: dict[str, int]) -> dict[str, torch.Tensor]:
    """Each layer's positions that lie in the picture: the margin over the layer's stride cut off."""
    return {layer: _cut(f, margin // strides[layer]) for layer, f in feats.items()}


def _cut(f: torch.Tensor, margin: int) -> torch.Tensor:
    if not margin:
        return f
    if f.is_contiguous(memory_format=torch.channels_last) and f.requires_grad:
        return _CutNHWC.apply(f, margin)
    part = inner(f, margin)
    # Packed NHWC again: the Gram matrix then reads it without the transposing copy an NCHW
    # reshape would make (objectives.gram).
    return part.contiguous(memory_format=torch.channels_last) if f.is_contiguous(memory_format=torch.channels_last) else part


class _CutNHWC(torch.autograd.Function):
    """`inner` of an NHWC map, packed NHWC, whose gradient comes back NHWC too.

    A plain slice's backward writes the gradient into a fresh NCHW tensor of zeros; every ReLU
    backward and gradient sum it then meets mixes NCHW with the network's NHWC, which takes
    PyTorch's slow strided path: 7 % of a VGG19 fp32 step at 256 px went there (3x the ReLU
    backward's own time), besides the conv backward reordering it."""

    @staticmethod
    def forward(ctx, f: torch.Tensor, margin: int) -> torch.Tensor:
        ctx.shape, ctx.margin = f.shape, margin
        return inner(f, margin).contiguous(memory_format=torch.channels_last)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        m = ctx.margin
        whole = torch.empty(ctx.shape, dtype=g.dtype, device=g.device, memory_format=torch.channels_last)
        # Zeros in the margin only: the inside is written once, by the copy.
        for edge in (whole[..., :m, :], whole[..., -m:, :], whole[..., m:-m, :m], whole[..., m:-m, -m:]):
            edge.zero_()
        inner(whole, m).copy_(g)
        return whole, None


def watching_the_picture(until: Callable | None, margin: int) -> Callable | None:
    """A stopping rule (converge.Converged) that looks at the picture, not at its margin."""
    if until is None or not margin:
        return until
    return lambda step, image_fn, loss=None: until(step, lambda: inner(image_fn(), margin), loss)
