"""Where the backbones' trained weights live on this machine: torch's hub cache, and what to say
when they are not there (the CLI's offline error and the studio's model list give the same words)."""

from __future__ import annotations

import os
from pathlib import Path

# The torchvision weights each hub backbone loads; efficientnet-lite0's are bundled, vgg19-caffe's given.
HUB_WEIGHTS = {"vgg16": "VGG16_Weights.IMAGENET1K_V1", "vgg19": "VGG19_Weights.IMAGENET1K_V1", "googlenet": "GoogLeNet_Weights.IMAGENET1K_V1"}
# Their addresses, as torchvision's weight enums give them (a test holds the two equal): looked up
# here, a run that loads a cached VGG need not import torchvision, over a second of its start.
HUB_URLS = {
    "VGG16_Weights.IMAGENET1K_V1": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "VGG19_Weights.IMAGENET1K_V1": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    "GoogLeNet_Weights.IMAGENET1K_V1": "https://download.pytorch.org/models/googlenet-1378be20.pth",
}
CAFFE_HINT = "pass --weights FILE (a state dict with features.N.* keys, BGR 0-255 input)"


def hub_cache_file(url: str) -> Path:
    """The file torch's hub cache (and torchvision) keeps the download of `url` in."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def weights_place(model: str) -> tuple[Path, str] | None:
    """(the cache file, its url) of a hub backbone's weights; None for one that takes none from
    the hub (bundled, or given with --weights only). Nothing is downloaded."""
    if model not in HUB_WEIGHTS:
        return None
    url = HUB_URLS[HUB_WEIGHTS[model]]
    return hub_cache_file(url), url


def offline_hint(cached: Path, url: str) -> str:
    """What to do when a backbone's weights are not on this machine."""
    return (f"put {cached.name} (from {url}) at {cached}, pass --weights FILE with a local copy, "
            "or use the bundled offline backbone: --model efficientnet-lite0")  # fmt: skip
