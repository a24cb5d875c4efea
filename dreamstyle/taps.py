"""What the backbone's layers are like at run time, measured rather than looked up."""

from __future__ import annotations

import torch

from .backbones import Backbone


def probe(backbone: Backbone, layers: list[str], device: torch.device) -> dict[str, tuple[int, int]]:
    """(channels, stride) of each layer, from one tiny forward pass instead of a lookup table."""
    # Cached on the backbone: video frames and batches would otherwise pay a forward pass each.
    cache = backbone.__dict__.setdefault("_probe_cache", {})
    missing = [l for l in layers if l not in cache]
    if missing:
        side = 256
        with torch.no_grad():
            feats = backbone(torch.zeros(1, 3, side, side, device=device), missing)
        cache.update({n: (f.shape[1], max(1, round(side / f.shape[-1]))) for n, f in feats.items()})
    return {n: cache[n] for n in layers}
