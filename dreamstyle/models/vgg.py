"""VGG16/19 as torchvision lays them out (the same state-dict keys), built without torchvision.

Why not torchvision's own: importing torchvision costs over a second of every run (it imports
all its models and ops), and `vgg19(weights=None)` then draws random values for all 143 M
weights, another second, only for the file's weights to replace them. Here the network is built
on the meta device, where it costs nothing, and the loaded tensors are taken as they are
(`load_state_dict(assign=True)`). A test holds the layout to torchvision's.
"""

from __future__ import annotations

import torch
from torch import nn

# torchvision's configurations "D" (VGG16) and "E" (VGG19): output channels, "M" a max pool.
CONFIGS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """features, avgpool, classifier: torchvision.models.VGG's modules under its names."""

    def __init__(self, arch: str):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for v in CONFIGS[arch]:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                # Not in place (torchvision's are): a tapped conv output must stay as it was;
                # Backbone.forward applies them in place where nobody taps the conv.
                layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(0.5), nn.Linear(4096, 1000),
        )  # fmt: skip


def empty_vgg(arch: str) -> VGG:
    """The network with no values yet (meta tensors): load_state_dict(..., assign=True) fills it."""
    with torch.device("meta"):
        return VGG(arch).eval()


def vgg_stage_names(features: nn.Sequential) -> list[str]:
    """conv{block}_{i}, relu{block}_{i}, pool{block}: the names of the VGG paper and neural-style."""
    names, block, conv = [], 1, 0
    for module in features:
        if isinstance(module, nn.Conv2d):
            conv += 1
            names.append(f"conv{block}_{conv}")
        elif isinstance(module, nn.ReLU):
            names.append(f"relu{block}_{conv}")
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:  # pragma: no cover - torchvision's VGG has nothing else in `features`
            raise AssertionError(f"unexpected module {module}")
    return names


class VGGClassifier(nn.Module):
    """VGG's head (pool, flatten, the three linear layers) on the features' output."""

    def __init__(self, vgg: nn.Module):
        super().__init__()
        self.avgpool, self.classifier = vgg.avgpool, vgg.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(x), 1))
