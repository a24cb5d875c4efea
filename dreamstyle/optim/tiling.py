"""Huge images in bounded memory: the gradient of the whole image, assembled tile by tile.

Each step the image is cut into a grid of tiles, moved to a fresh random offset. Every tile is
run forward and backward on its own, with a margin of context around it so its core sees the
same neighbourhood as in a whole-image pass (and the same feature grid, see `spans`); only the
core's gradient is kept.
The optimiser then steps the whole image once, so a normalised step (DeepDream) or Adam's
per-pixel scaling is the same across tiles and no tile can end up stronger than its neighbour.
A grid that never stays put leaves no line where a seam could build up step after step.

Peak memory is one padded tile's activations plus a few image-sized tensors (image, gradient,
optimiser state), whatever the image size.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch

from .objectives import content_loss, gram, style_loss, tv_loss, weighted
from ..models.runtime import autocast, cudnn_benchmark

REFINE_LR = 0.005  # Adam's step when a tiled scale refines an upsampled result

# Where a tile lies: (rows, cols) index tensors into the whole image, margin included.
Where = tuple[torch.Tensor, torch.Tensor]
TileLoss = Callable[[torch.Tensor, Where], torch.Tensor]

# On the CPU nothing reports free memory reliably (other programs, overcommit), so activations
# get fixed shares: a whole-image pass may keep up to 3 GB (a 1000x1000 fp32 dream with
# EfficientNet-Lite0, so everyday sizes run as before), a tile 0.6 GB, with which a 4096x4096 dream
# stays under 3 GB resident (measured, README).
CPU_WHOLE_BUDGET = 3.0e9
CPU_ACTIVATION_BUDGET = 0.6e9


def spans(length: int, tile: int, margin: int, offset: int, align: int = 1,
          device: torch.device | str = "cpu") -> list[tuple[torch.Tensor, slice]]:  # fmt: skip
    """One axis of the grid: (padded indices, core within them) per tile; cuts at `offset` plus
    multiples of the tile, the first and last tile clipped by the image's edges. The indices are
    made on `device`, where they are used: made on the host, each tile of each step would cost a
    host-to-device copy, which waits for the GPU's queue.

    A tile's feature cells must sit where the whole image's do, or it samples the picture at
    another phase and gets a different gradient (tests/test_tiling.py). So the tile, its margin
    and the offset are multiples of `align` (the deepest layer's stride), and a padded tile's
    length is kept equal to the whole length modulo `align`: "same" padding (TensorFlow's, in
    EfficientNet) depends on that remainder. Tiles stop at the image's edges rather than wrap,
    so the network sees the edges padded exactly as in a whole-image pass.
    """
    if length <= tile:
        return [(torch.arange(length, device=device), slice(0, length))]
    step = max(align, tile // align * align)
    cuts = [0, *range(offset % step or step, length, step), length]
    out = []
    for a, b in zip(cuts, cuts[1:]):
        lo = max(0, a - margin)
        hi = min(length, b + margin + (length - (b - lo)) % align)
        out.append((torch.arange(lo, hi, device=device), slice(a - lo, b - lo)))
    return out


def grid(height: int, width: int, tile: int, margin: int, align: int, gen: torch.Generator,
         device: torch.device | str = "cpu") -> Iterator[tuple[Where, slice, slice]]:  # fmt: skip
    """The tiles of one step, the grid shifted by a random offset drawn from `gen`."""
    dy, dx = (align * int(torch.randint(0, max(1, tile // align), (1,), generator=gen)) for _ in range(2))
    for rows, core_r in spans(height, tile, margin, dy, align, device):
        for cols, core_c in spans(width, tile, margin, dx, align, device):
            yield (rows, cols), core_r, core_c


class _Assembled(torch.autograd.Function):
    """A loss value whose gradient was already computed (tile by tile): backward just hands it on,
    so the tiled loss drops into the ordinary optimisation loop and its transforms."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, grad: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        ctx.grad = grad
        return value.detach().clone()

    @staticmethod
    def backward(ctx, out: torch.Tensor):
        grad, ctx.grad = ctx.grad, None  # freed with the step, not kept alive by the graph
        return grad.mul_(out), None, None


def tiled(tile_loss: TileLoss, tile: int, stride: int, gen: torch.Generator) -> Callable[[torch.Tensor], torch.Tensor]:
    """A loss function over the whole image whose gradient is computed tile by tile; `stride` is
    the deepest tapped layer's, which sets the margin and where the grid may cut.

    `tile_loss(x_tile, where)` is a mean over the tile's positions (as every objective here is);
    each tile's share is weighted by its area, so the sum matches the whole image's mean. The
    returned function is differentiable in its input like the loss it wraps.
    """

    margin = tile_margin(stride, tile)

    def loss_fn(x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h <= tile and w <= tile:
            return tile_loss(x, (torch.arange(h, device=x.device), torch.arange(w, device=x.device)))
        src = x.detach()
        grad = torch.zeros_like(src, dtype=torch.float32)
        total = torch.zeros((), device=x.device)
        with _no_benchmark(x.device):
            for (rows, cols), core_r, core_c in grid(h, w, tile, margin, stride, gen, x.device):
                piece = src.index_select(-2, rows).index_select(-1, cols).requires_grad_(True)
                with torch.enable_grad():
                    loss = tile_loss(piece, (rows, cols)) * (piece.shape[-2] * piece.shape[-1] / (h * w))
                    (g,) = torch.autograd.grad(loss, piece)
                grad[:, :, rows[core_r, None], cols[core_c]] = g[:, :, core_r, core_c].float()
                total += loss.detach().float()
                del piece, g, loss  # the tile's activations go before the next tile's are made
        return _Assembled.apply(x, grad, total)

    return loss_fn


def _no_benchmark(device: torch.device):
    """cuDNN's benchmark mode off for a tiled pass on CUDA (runner.run() turns it on, runtime.py).

    Benchmark mode searches for the fastest algorithm once per new input shape. The grid moves
    to a random offset every step, so the edge tiles' shapes change nearly every step and it
    would search again nearly every step, costing more than it saves. Padding the edge tiles to
    one fixed shape would keep the search worthwhile; until that is done, tiled passes simply
    run with cuDNN's heuristic choice.
    """
    return cudnn_benchmark(False) if device.type == "cuda" else contextlib.nullcontext()


def shift_generator(gen: torch.Generator) -> torch.Generator:
    """The grid's own random stream, seeded from the run's: drawing grid offsets from the run's
    generator would change every later jitter, so a tiled run would not track the untiled one."""
    return torch.Generator().manual_seed((gen.initial_seed() * 0x9E3779B1 + 1) % 2**63)


def tile_margin(stride: int, tile: int) -> int:
    """Context around a tile: a few feature cells, enough that the core's features barely differ
    from a whole-image pass: a Gram matrix at stride 16 was 42 % off with one cell of margin, 0.7 %
    with four (tests/test_tiling.py). At most half the tile, so small tiles stay mostly core."""
    return min(4 * stride, tile // 2 // stride * stride)


def activation_bytes_per_pixel(backbone, layers, device: torch.device, dtype: torch.dtype) -> float:
    """Bytes the backward pass keeps per input pixel, measured from the tensors autograd saves at
    two small sizes (their difference cancels the weights, which do not grow with the image)."""
    sizes, used = (96, 160), []
    for side in sizes:
        seen: dict[int, int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        x = torch.rand(1, 3, side, side, device=device, requires_grad=True)
        # Two sizes seen once: a cuDNN benchmark search for each would be wasted.
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast(device, dtype), _no_benchmark(x.device):
            backbone(x, layers)
        used.append(sum(seen.values()))
    return max(1.0, (used[1] - used[0]) / (sizes[1] ** 2 - sizes[0] ** 2))


def tile_size(setting: int | None, backbone, layers, pixels: int, stride: int, device, dtype) -> int:
    """The tile size for a run (0: no tiling): `setting` 0 is off, None is automatic (tile only
    an image that would not fit the device), else that size."""
    if setting is None:
        bpp = activation_bytes_per_pixel(backbone, layers, device, dtype)
        return auto_tile(pixels, bpp, *activation_budget(device), tile_margin(stride, 1 << 30))
    return setting


def activation_budget(device: torch.device) -> tuple[float, float]:
    """Bytes of activations (a whole-image pass may keep, a tile may keep)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        # The driver counts torch's own cache (blocks reserved by this process but not in use,
        # e.g. left by an earlier item of a batch) as used; this process can reuse them at once.
        free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        # The other half for image-sized tensors, optimiser state and the allocator's slack.
        return 0.5 * free, 0.5 * free
    if device.type == "mps" and hasattr(torch.mps, "recommended_max_memory") and hasattr(torch.mps, "current_allocated_memory"):
        # Apple GPUs share the host's memory; Metal's recommended working set is the most the
        # GPU should use (beyond it macOS pages or the allocator refuses), less what tensors
        # already hold. Halved as on CUDA.
        free = max(0, torch.mps.recommended_max_memory() - torch.mps.current_allocated_memory())
        return 0.5 * free, 0.5 * free
    return CPU_WHOLE_BUDGET, CPU_ACTIVATION_BUDGET


def auto_tile(pixels: int, bytes_per_pixel: float, whole: float, budget: float, margin: int) -> int:
    """0 when a whole-image pass fits `whole`, else the largest tile (a multiple of 32) that fits
    `budget`. Backward briefly needs about as much again as the saved activations, hence the 2."""
    if 2 * pixels * bytes_per_pixel <= whole:
        return 0
    padded = math.sqrt(budget / (2 * bytes_per_pixel))
    return max(128, int(padded - 2 * margin) // 32 * 32)


# --------------------------------------------------------------------------- style transfer


@torch.no_grad()
def tiled_grams(backbone, image: torch.Tensor, layers: list[str], tile: int, stride: int, device, dtype) -> dict[str, torch.Tensor]:
    """Gram matrices of a whole (huge) image, summed tile by tile: each tile is run with a margin
    and only its core's feature cells are counted, so the result is the whole image's Gram."""
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    h, w = image.shape[-2:]
    margin = tile_margin(stride, tile)
    for rows, core_r in spans(h, tile, margin, 0, stride, image.device):
        for cols, core_c in spans(w, tile, margin, 0, stride, image.device):
            piece = image.index_select(-2, rows).index_select(-1, cols)
            # One pass over a few tile shapes: a benchmark search per shape would cost more than it saves.
            with autocast(device, dtype), _no_benchmark(piece.device):
                feats = backbone(piece, layers)
            for l in layers:
                f = feats[l]
                ky = 2 ** round(math.log2(piece.shape[-2] / f.shape[-2]))  # this layer's stride
                kx = 2 ** round(math.log2(piece.shape[-1] / f.shape[-1]))
                f = f[..., core_r.start // ky : -(-core_r.stop // ky), core_c.start // kx : -(-core_c.stop // kx)]
                n = f.shape[-2] * f.shape[-1]
                sums[l] = sums.get(l, 0) + gram(f) * n
                counts[l] = counts.get(l, 0) + n
    return {l: sums[l] / counts[l] for l in layers}


def style_tile_loss(backbone, content: torch.Tensor, grams: dict[str, torch.Tensor], content_w: dict[str, float],
                    style_w: dict[str, float], content_weight: float, style_weight: float, tv_weight: float,
                    style_for=None) -> TileLoss:
    """The style-transfer loss of one tile: its features against the content's at the same place,
    its Gram matrices against the global style targets (so every tile is held to the whole
    painting's statistics, and no tile drifts to a style of its own), plus total variation."""
    style = weighted(style_w, style_weight, lambda l: style_loss(l, grams[l])) if style_weight and style_for is None else None
    layers = list(dict.fromkeys([*(content_w if content_weight else []), *(style_w if style_weight or style_for else [])]))

    def fn(x: torch.Tensor, where: Where) -> torch.Tensor:
        loss = torch.zeros((), device=x.device)
        feats = backbone(x, layers)
        if content_weight:
            with torch.no_grad():
                target = backbone(content.index_select(-2, where[0]).index_select(-1, where[1]), list(content_w))
            loss = loss + weighted(content_w, content_weight, lambda l: content_loss(l, target[l]))(feats)
        if style is not None:
            loss = loss + style(feats)
        elif style_for is not None:
            loss = loss + style_for(where)(feats)
        if tv_weight:
            loss = loss + tv_weight * tv_loss(x.float())
        return loss

    return fn


def refine_style(backbone, init: torch.Tensor, content: torch.Tensor, styles: list[torch.Tensor], blend: list[float],
                 content_w: dict[str, float], style_w: dict[str, float], s, gen: torch.Generator, device, dtype,
                 progress=None, steps: int | None = None, until=None, style_for=None) -> tuple[torch.Tensor, int]:
    """Refine an upsampled style transfer at full size in tiles of `s.tile`; returns the image and
    the steps taken (`steps` at most, fewer when `until` says it is done). `style_for(where)`: the
    style loss of the tile at `where`, where it depends on the place (styles by region).

    Adam, not L-BFGS: the shifting grid makes each step's loss a little different, which Adam
    shrugs off and L-BFGS's curvature pairs do not; and its state is two image-sized tensors
    where L-BFGS would keep dozens.
    """
    from ..models.measure import channels_and_strides
    from .loop import Adam, optimise
    from .param import PixelImage

    layers = list(style_w)
    stride = max(stride for _, stride in channels_and_strides(backbone, [*content_w, *style_w], device).values())
    grams: dict[str, torch.Tensor] = {}
    for t, k in zip(styles, blend if style_for is None else []):
        for l, g in tiled_grams(backbone, t, layers, s.tile, stride, device, dtype).items():
            grams[l] = grams.get(l, 0) + k * g
    tile_loss = style_tile_loss(backbone, content, grams, content_w, style_w, s.content_weight, s.style_weight, s.tv_weight, style_for)
    loss_fn = tiled(tile_loss, s.tile, stride, shift_generator(gen))
    param = PixelImage(init)
    # It refines an already painted, upsampled picture: Adam's full 0.02 steps left a pixel-level
    # grain there (Tübingen x Starry Night, 640 px in 320 px tiles); 0.005 matches the untiled look.
    opt = Adam(param.parameters(), lr=s.lr or REFINE_LR)
    n = optimise(param, loss_fn, opt, steps or s.steps, generator=gen, device=device, dtype=dtype, after_step=param.constrain,
            progress=progress, until=until)  # fmt: skip
    return param.image(), n
