"""Colour operations for style transfer's colour preservation (Gatys et al. 2016, "Preserving
Color in Neural Artistic Style Transfer"): luminance-only transfer and colour matching."""

from __future__ import annotations

import torch

# NTSC YIQ: Y is the luminance the paper transfers; I and Q carry the chroma we keep.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def _apply(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", m.to(x), x)


def rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    return _apply(_RGB_TO_YIQ, x)


def yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    return _apply(torch.linalg.inv(_RGB_TO_YIQ), x)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """Luminance as a grey RGB image, so the backbone sees it like any other picture."""
    return rgb_to_yiq(x)[:, :1].expand(-1, 3, -1, -1).clamp(0, 1)


def match_luminance(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Shift and scale source's luminance to target's mean and spread (the paper does this so the
    style's brightness range does not override the photo's)."""
    s, t = source[:, :1], target[:, :1]
    y = (s - s.mean()) / (s.std() + 1e-8) * t.std() + t.mean()
    return y.expand(-1, 3, -1, -1).clamp(0, 1)


def keep_chroma(styled: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The styled luminance with the content's chroma."""
    y = rgb_to_yiq(styled)[:, :1]
    iq = rgb_to_yiq(content)[:, 1:]
    return yiq_to_rgb(torch.cat([y, iq], 1)).clamp(0, 1)


def _sqrtm(c: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(c)
    vals = vals.clamp_min(1e-8).pow(-0.5 if inverse else 0.5)
    return vecs @ torch.diag(vals) @ vecs.t()


def _stats(x: torch.Tensor, where: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An image's pixels (3 x N), their mean and covariance (weighted by `where`, H x W, if
    given). On the CPU, in float64: MPS has no float64 (and eigh of a 3x3 is no work for a GPU),
    and the covariance of millions of pixels wants the precision. To the CPU first, then to
    float64 there: converting on the GPU is what MPS cannot do. (A no-op on the CPU.)"""
    p = x.cpu().double().flatten(2)[0]
    if where is None:
        return p, p.mean(1, keepdim=True), torch.cov(p) + 1e-5 * torch.eye(3, dtype=p.dtype, device=p.device)
    w = where.cpu().double().flatten().clamp_min(0) + 1e-12
    mu = (p * w).sum(1, keepdim=True) / w.sum()
    return p, mu, torch.cov(p, aweights=w) + 1e-5 * torch.eye(3, dtype=p.dtype, device=p.device)


def match_color(source: torch.Tensor, target: torch.Tensor | list[torch.Tensor], weights: list[float] | None = None,
                where: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """Affine recolouring of source so its RGB mean and covariance equal target's (several
    targets: those of their mixture, each weighted by `weights`, as a blend of styles paints).
    `where` (H x W): the part of source whose colours are matched (a region's), its weights.

    The symmetric matrix-square-root solution is the one that rotates colours least, so the
    style's palette is remapped rather than scrambled.
    """
    targets = target if isinstance(target, (list, tuple)) else [target]
    weights = weights or [1.0] * len(targets)
    weights = [w / sum(weights) for w in weights]
    p, mu_s, cov_s = _stats(source, where)
    parts = [_stats(t)[1:] for t in targets]
    mu_t = sum(w * mu for w, (mu, _) in zip(weights, parts))
    # The mixture's covariance: each part's second moment about the mixture's mean.
    cov_t = sum(w * (cov + (mu - mu_t) @ (mu - mu_t).t()) for w, (mu, cov) in zip(weights, parts))
    a = _sqrtm(cov_t) @ _sqrtm(cov_s, inverse=True)
    out = a @ (p - mu_s) + mu_t
    # Back to the source's dtype on the CPU, then to its device: MPS cannot receive float64.
    return out.view(source.shape[1:]).unsqueeze(0).to(source.dtype).to(source.device).clamp(0, 1)
