"""The one optimisation loop every engine runs, and the optimisers it can drive."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

import torch

from ..errors import Interrupted  # noqa: F401  (raised by the engines that import it from here)
from ..events import Tracker
from ..models.runtime import autocast
from .transforms import Transform, compose


class Optimizer:
    """What `run` needs of an optimiser: `step(closure)` and `zero_grad`, over param groups.

    Not torch.optim.Optimizer: its methods import torch._dynamo on first use (torch.optim's own
    Adam on every step), which took 1.6 s of each process's start here, 12 % of a whole class
    visualisation, and an image optimiser needs none of its machinery (state dicts, hooks)."""

    def __init__(self, params: Iterable[torch.Tensor], defaults: dict):
        self.defaults = defaults
        self.param_groups = [dict(defaults, params=list(params))]
        self.state: defaultdict[torch.Tensor, dict] = defaultdict(dict)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()


class _PerImage(Optimizer):
    """One gradient evaluation per step, then `_update` on each image tensor that has a gradient."""

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]):  # type: ignore[override]
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad.detach(), group)
        return loss

    def _update(self, p: torch.Tensor, g: torch.Tensor, group: dict) -> None:
        raise NotImplementedError


class Adam(_PerImage):
    """Adam (Kingma & Ba), step for step torch.optim.Adam's single-tensor CPU path (same
    operations in the same order, so the same bytes; a test holds them together), without the
    import of torch._dynamo that torch's version makes on every step (see Optimizer)."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    def _update(self, p: torch.Tensor, g: torch.Tensor, group: dict) -> None:
        state = self.state[p]
        if not state:
            state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
        beta1, beta2 = group["betas"]
        state["step"] += 1
        step = float(state["step"])
        state["exp_avg"].lerp_(g, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        step_size = group["lr"] / (1 - beta1**step)
        denom = (state["exp_avg_sq"].sqrt() / (1 - beta2**step) ** 0.5).add_(group["eps"])
        p.addcdiv_(state["exp_avg"], denom, value=-step_size)


class NormalizedAscent(_PerImage):
    """DeepDream's step: move by `lr` times the gradient divided by its mean magnitude (or std).

    Normalising makes `lr` mean "average pixel change per step", independent of the layer and
    the backbone, which is what lets one set of presets work across models. Minimises, like every
    torch optimiser; engines pass the negated objective.
    """

    def __init__(self, params, lr: float = 0.02, norm: str = "mean-abs", smooth: float = 0.0):
        super().__init__(params, dict(lr=lr, norm=norm, smooth=smooth))

    def _update(self, p: torch.Tensor, g: torch.Tensor, group: dict) -> None:
        if group["smooth"] > 0:
            # Blurring the gradient, not the image, keeps detail already there while
            # steering new structure to larger, smoother shapes.
            g = smooth(g, group["smooth"])
        scale = g.abs().mean() if group["norm"] == "mean-abs" else g.std()
        p.sub_(g * (group["lr"] / (scale + 1e-8)))


# Above this many pixels a gradient is blurred band by band: gaussian_blur is 3x faster at
# everyday sizes (measured at 512 and 1024 px) but unfolds the whole image k*k times.
LEAN_BLUR_PIXELS = 2048 * 2048


def smooth(g: torch.Tensor, sigma: float) -> torch.Tensor:
    """torchvision's gaussian_blur of `g`, in bounded memory for huge (tiled) images."""
    if g.shape[-2] * g.shape[-1] > LEAN_BLUR_PIXELS:
        return blur(g, sigma)
    # Imported here: torchvision costs over a second to import, which runs without a blur
    # (style, visualize, any lite0 run) need not pay.
    from torchvision.transforms.functional import gaussian_blur

    k = 2 * math.ceil(3 * sigma) + 1
    return gaussian_blur(g, [k, k], [sigma, sigma])


def blur(g: torch.Tensor, sigma: float, rows: int = 256) -> torch.Tensor:
    """torchvision's gaussian_blur (the same kernel and reflect padding), done separably a band of
    rows at a time: gaussian_blur's convolution unfolds the whole image k*k times, 2.2 GB at
    4096x4096 for NormalizedAscent's smoothing, more than all the tiles together."""
    r = math.ceil(3 * sigma)
    x = torch.linspace(-r, r, 2 * r + 1)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    w = (w / w.sum()).tolist()
    h, width = g.shape[-2:]
    out = torch.empty_like(g)
    for a in range(0, h, rows):
        b = min(h, a + rows)
        lo, hi = max(0, a - r), min(h, b + r)
        band = torch.nn.functional.pad(g[..., lo:hi, :], [r, r, r - (a - lo), r - (hi - b)], mode="reflect")
        v = sum(k * band[..., i : i + b - a, :] for i, k in enumerate(w))
        out[..., a:b, :] = sum(k * v[..., j : j + width] for j, k in enumerate(w))
    return out



class LBFGS(_PerImage):
    """L-BFGS with one gradient per step and a unit step, as neural-style runs it, but kept on
    the device and batched.

    torch.optim.LBFGS reads the loss and several dot products back to the host every step; on a
    GPU each read stalls the queue. Here every decision (skip a bad curvature pair, the first
    step's scale) is a tensor `where`, so steps queue up without a sync. Each image of a batch
    keeps its own curvature history: a sweep of N settings run as one batch gives the same N
    pictures as N separate runs.
    """

    def __init__(self, params, lr: float = 1.0, history: int = 50):
        super().__init__(params, dict(lr=lr, history=history))

    @staticmethod
    def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        # One value per image, shaped to broadcast over it. bmm reads each operand once; a
        # product-then-sum would write and re-read an image-sized temporary, and the two-loop
        # recursion does 2 x history of these per step.
        n = a.shape[0]
        return torch.bmm(a.reshape(n, 1, -1), b.reshape(n, -1, 1)).view(-1, *([1] * (a.dim() - 1)))

    def _update(self, p: torch.Tensor, g: torch.Tensor, group: dict) -> None:
        state = self.state[p]
        if "prev_grad" not in state:
            # The first step has no curvature yet: a plain gradient step scaled to move
            # the image by at most `lr` in L1 norm, as torch's L-BFGS does.
            d = -g
            t = group["lr"] * (1.0 / g.abs().flatten(1).sum(1)).clamp(max=1.0).view(-1, *([1] * (g.dim() - 1)))
            state.update(s=[], y=[], rho=[], h_diag=torch.ones_like(t))
        else:
            y, s_ = g - state["prev_grad"], state["prev_step"]
            ys = self._dot(y, s_)
            good = ys > 1e-10
            # A pair with non-positive curvature would break the update: it is stored
            # with rho = 0, which makes it a no-op in both loops, instead of branching.
            state["s"].append(s_)
            state["y"].append(y)
            state["rho"].append(torch.where(good, 1.0 / ys.clamp_min(1e-10), torch.zeros_like(ys)))
            if len(state["s"]) > group["history"]:
                for k in ("s", "y", "rho"):
                    state[k].pop(0)
            state["h_diag"] = torch.where(good, ys / self._dot(y, y).clamp_min(1e-20), state["h_diag"])
            q = -g
            alphas = []
            for s_i, y_i, rho_i in zip(reversed(state["s"]), reversed(state["y"]), reversed(state["rho"])):
                a = rho_i * self._dot(s_i, q)
                q.addcmul_(a, y_i, value=-1)
                alphas.append(a)
            d = q.mul_(state["h_diag"])
            for s_i, y_i, rho_i, a in zip(state["s"], state["y"], state["rho"], reversed(alphas)):
                d.addcmul_(a - rho_i * self._dot(y_i, d), s_i)
            t = group["lr"]
        step = d * t
        p.add_(step.to(p.dtype))
        state["prev_grad"], state["prev_step"] = g, step


def optimise(
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
    progress: Tracker | None = None,
    until: Callable[[int, Callable[[], torch.Tensor], torch.Tensor | None], bool] | None = None,
) -> int:
    """Minimise loss_fn(transform(image_fn())) for `steps` optimiser steps, or fewer when `until`
    says the picture has stopped changing; returns the steps taken. Each step is reported to
    `progress` (which also stops the run, by KeyboardInterrupt, when it is cancelled)."""
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
        if until is not None and until(i + 1, image_fn, loss if isinstance(loss, torch.Tensor) else None):
            return i + 1
    return steps

