"""What the backbone's layers are like at run time, measured rather than looked up."""

from __future__ import annotations

import torch

from .backbones import Backbone
from ..errors import SettingError


def channels_and_strides(backbone: Backbone, layers: list[str], device: torch.device) -> dict[str, tuple[int, int]]:
    """(channels, stride) of each layer, from one tiny forward pass instead of a lookup table."""
    # Cached on the backbone: video frames and batches would otherwise pay a forward pass each.
    cache = backbone.__dict__.setdefault("_probe_cache", {})
    missing = [l for l in layers if l not in cache]
    if missing:
        # 128 px: every backbone here halves its maps at most five times (4 positions left), and
        # the pass costs a quarter of the 256 px one it was (0.3 s of a VGG19 run's start).
        side = 128
        with torch.no_grad():
            feats = backbone(torch.zeros(1, 3, side, side, device=device), missing)
        cache.update({n: (f.shape[1], max(1, round(side / f.shape[-1]))) for n, f in feats.items()})
    return {n: cache[n] for n in layers}


def check_channels(backbone: Backbone, layer: str, channels, device: torch.device, flag: str = "--channels") -> None:
    """Refuse channel numbers `layer` does not have, before a step is taken."""
    n = channels_and_strides(backbone, backbone.check_layers([layer]), device)[layer][0]
    bad = [c for c in channels if not 0 <= c < n]
    if bad:
        raise SettingError(f"layer {layer} has {n} channels; channel {bad[0]} does not exist", f"use {flag} from 0 to {n - 1}")
