"""The classic architectures, by name, for the layer inspector: every torchvision classification
model, plus LeNet-5 and NiN as the course material builds them.

Architecture only: nothing here loads or downloads weights, and nothing measured from these
networks depends on weight values. Each network is laid out as the inspector reads a Backbone:
named spatial stages run one after another (where stride and receptive field are measured),
then named head layers, which see the whole picture.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator

import torch
from torch import nn

from ..errors import UserError, did_you_mean

# Outside torchvision: the first CNN and the one that dropped the fully connected layers.
COURSE = {
    "lenet": "LeNet-5 (LeCun et al. 1998, as taught: 28x28 grey, padded first conv, sigmoid, average pooling)",
    "nin": "Network in Network (Lin et al. 2013: kxk + two 1x1 convs per block, global average pooling, 224x224 grey, 10 classes)",
}


def lenet() -> nn.Sequential:
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 6, kernel_size=5, padding=2)), ("sigmoid1", nn.Sigmoid()), ("pool1", nn.AvgPool2d(2, 2)),
        ("conv2", nn.Conv2d(6, 16, kernel_size=5)), ("sigmoid2", nn.Sigmoid()), ("pool2", nn.AvgPool2d(2, 2)),
        ("flatten", nn.Flatten()), ("fc1", nn.Linear(16 * 5 * 5, 120)), ("sigmoid3", nn.Sigmoid()),
        ("fc2", nn.Linear(120, 84)), ("sigmoid4", nn.Sigmoid()), ("fc3", nn.Linear(84, 10)),
    ]))  # fmt: skip


def nin_block(c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> nn.Sequential:
    """One kxk convolution, then two 1x1 ones: a small MLP sliding over every position."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, padding), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 1), nn.ReLU(), nn.Conv2d(c_out, c_out, 1), nn.ReLU(),
    )  # fmt: skip


def nin(classes: int = 10) -> nn.Sequential:
    # The last block has one channel per class; averaging each map over the picture is the
    # classifier, so there is no fully connected layer at all.
    return nn.Sequential(OrderedDict([
        ("block1", nin_block(1, 96, 11, 4, 0)), ("pool1", nn.MaxPool2d(3, 2)),
        ("block2", nin_block(96, 256, 5, 1, 2)), ("pool2", nn.MaxPool2d(3, 2)),
        ("block3", nin_block(256, 384, 3, 1, 1)), ("pool3", nn.MaxPool2d(3, 2)), ("dropout", nn.Dropout(0.5)),
        ("block4", nin_block(384, classes, 3, 1, 1)), ("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()),
    ]))  # fmt: skip


class Architecture(nn.Module):
    """A network as the inspector reads it (the attributes of a Backbone it uses).

    `stages` hold spatial maps and run one after another; from `global_from` on, a stage's every
    unit already sees the whole picture (ViT's and MaxViT's attention), so its field is not
    probed. `head` layers come after the last map (pooling, classifier) and are global too.
    """

    def __init__(self, name: str, stages: list[tuple[str, nn.Module]], head: list[tuple[str, nn.Module]], *,
                 in_channels: int = 3, native: int = 224, global_from: int | None = None):  # fmt: skip
        super().__init__()
        self.name = name
        self.stage_names = [n for n, _ in stages]
        self.stages = nn.ModuleList(m for _, m in stages)
        self.head_names = [n for n, _ in head]
        self.head = nn.ModuleList(m for _, m in head)
        self.classifier = None
        self.in_channels = in_channels
        self.native = native  # the input size the network was made for
        self.global_from = len(stages) if global_from is None else global_from
        self.weights = "none (architecture only)"
        self.requires_grad_(False)
        self.eval()

    @property
    def head_layers(self) -> list[tuple[str, nn.Module]]:
        return list(zip(self.head_names, self.head))

    @property
    def layer_names(self) -> list[str]:
        return self.stage_names + self.head_names

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return x


# --------------------------------------------------------------------------- glue


class _Flat(nn.Module):
    """A fully connected layer (or a block starting with one) fed a map: flatten it, after a
    global average where the network's forward pools in code rather than in a module."""

    def __init__(self, inner: nn.Module, in_features: int):
        super().__init__()
        self.inner, self.in_features = inner, in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() > 2:
            if x[0].numel() != self.in_features:
                x = x.mean((2, 3))
            x = x.flatten(1)
        return self.inner(x)


class _ChannelsLast(nn.Module):
    """Swin computes on NHWC maps; the inspector reads NCHW. Convert at the edges of a stage."""

    def __init__(self, inner: nn.Module, takes_nchw: bool = False):
        super().__init__()
        self.inner, self.takes_nchw = inner, takes_nchw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x if self.takes_nchw else x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class _Tokens(nn.Module):
    """ViT's patch grid as a sequence: the class token in front, the position embedding added."""

    def __init__(self, vit: nn.Module):
        super().__init__()
        self.class_token, self.pos_embedding = vit.class_token, vit.encoder.pos_embedding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(2).transpose(1, 2)
        return torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embedding


class _ClassToken(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x[:, 0])


def _linear_in(module: nn.Module) -> int | None:
    """in_features if the module starts with a fully connected layer (dropout aside)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            return m.in_features
        if not isinstance(m, (nn.Sequential, nn.Dropout, nn.Flatten)):
            return None
    return None


def _expanded(named: Iterator[tuple[str, nn.Module]]) -> Iterator[tuple[str, nn.Module]]:
    """Top-level containers one level down: features.0, layer1.0, … (the rows a reader of the
    torchvision source finds), leaves and blocks as they are."""
    for name, m in named:
        if m is None:
            continue
        if isinstance(m, (nn.Sequential, nn.ModuleList)) and len(m):
            yield from ((f"{name}.{k}", c) for k, c in m.named_children())
        else:
            yield name, m


def _starts_head(m: nn.Module) -> bool:
    return isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten, nn.Linear))


def split_stages(name: str, net: nn.Module, expand: bool = True, **kw) -> Architecture:
    """Stages and head of a plain CNN from its modules in order: its children (containers one
    level down) until global pooling or the first fully connected layer, then the rest, with the
    flattening its forward does in code put back."""
    stages, head = [], []
    for child_name, child in net.named_children():
        if child is None:
            continue
        starts = _starts_head(child) or (_linear_in(child) is not None and not any(isinstance(m, nn.Conv2d) for m in child.modules()))
        for n, m in _expanded([(child_name, child)]) if expand else [(child_name, child)]:
            if head or starts or _starts_head(m):
                head.append((n, m))
            else:
                stages.append((n, m))
    head = [(n, _Flat(m, k) if (k := _linear_in(m)) is not None else m) for n, m in head]
    return Architecture(name, stages, head, **kw)


def _swin(name: str, net: nn.Module) -> Architecture:
    stages = [(f"features.{k}", _ChannelsLast(m, takes_nchw=k == 0)) for k, m in enumerate(net.features)]
    stages.append(("norm", _ChannelsLast(net.norm)))
    arch = Architecture(name, stages, [("avgpool", net.avgpool), ("head", _Flat(net.head, net.head.in_features))])
    # Its attention cannot be probed channel-collapsed: the full probe takes ~10 s per 256 px.
    arch.rf_cap = 256
    return arch


def _vit(name: str, net: nn.Module) -> Architecture:
    enc = net.encoder
    stages = [("conv_proj", net.conv_proj), ("tokens", _Tokens(net))]
    stages += [(f"encoder.layers.{n}", m) for n, m in enc.layers.named_children()]
    stages.append(("encoder.ln", enc.ln))
    # From the patch grid on, a sequence in which every token attends to every other: global.
    return Architecture(name, stages, [("heads", _ClassToken(net.heads))], global_from=1)


def _maxvit(name: str, net: nn.Module) -> Architecture:
    arch = split_stages(name, net)
    # Each block ends in grid attention, which mixes a sparse grid spread over the whole picture.
    arch.global_from = arch.stage_names.index("blocks.0")
    return arch


# --------------------------------------------------------------------------- building


@contextlib.contextmanager
def _no_init() -> Iterator[None]:
    """Skip weight initialisation while a network is built: ~140M random numbers (VGG) cost
    seconds and are thrown away. Tensors stay allocated but untouched; buffers a constructor
    computes (Swin's relative position index) are still computed. torch offers no switch for a
    whole model, so nn.init's functions are swapped for the duration, one build at a time."""
    with _init_lock:
        saved = {n: f for n, f in vars(nn.init).items() if n.endswith("_") and not n.startswith("_") and callable(f)}
        for n in saved:
            setattr(nn.init, n, lambda tensor, *a, **k: tensor)
        try:
            yield
        finally:
            for n, f in saved.items():
                setattr(nn.init, n, f)


_init_lock = threading.Lock()


@functools.cache
def torchvision_names() -> tuple[str, ...]:
    import torchvision.models as tvm

    return tuple(tvm.list_models(module=tvm))


def model_names() -> list[str]:
    """Every name `dreamstyle layers` takes: the backbones, the course's nets, torchvision's."""
    from .names import MODEL_NAMES

    return [*MODEL_NAMES, *COURSE, *(n for n in torchvision_names() if n not in MODEL_NAMES)]


def network(name: str, size: int | None = None, weights: str | None = None):
    """What the inspector reads for `name`: a backbone under its own layer names (relu4_3,
    inception4c, block6), else the architecture."""
    from .backbones import MODELS, load_backbone

    if name in MODELS:
        if weights or name == "efficientnet-lite0":  # lite0's weights are bundled: nothing to fetch
            return load_backbone(name, weights=weights, progress=False)
        return _backbone_architecture(name)
    if weights:
        raise UserError(f"--weights applies to the backbones ({', '.join(MODELS)}), not {name}", "drop --weights: the table needs none")
    return build_architecture(name, size)


def _backbone_architecture(name: str):
    """A torchvision backbone as `load_backbone` lays it out, with untouched weights: its table
    without a download or a 550 MB weights file."""
    import torchvision.models as tvm

    from .backbones import _GOOGLENET_STAGES, IMAGENET_MEAN, IMAGENET_STD, Backbone, _GoogLeNetClassifier, _VGGClassifier, vgg_stage_names

    with _no_init():
        if name == "googlenet":
            net = tvm.googlenet(weights=None, transform_input=False, **_KW["googlenet"])
            stages, head, mean = [(n, getattr(net, n)) for n in _GOOGLENET_STAGES], _GoogLeNetClassifier(net), (0.5,) * 3
        else:
            net = getattr(tvm, "vgg19" if name.startswith("vgg19") else "vgg16")(weights=None)
            stages, head, mean = list(zip(vgg_stage_names(net.features), net.features)), _VGGClassifier(net), IMAGENET_MEAN
    std = (0.5,) * 3 if name == "googlenet" else IMAGENET_STD
    return Backbone(name, stages, head, mean, std, weights="none (architecture only)")


_KW = {"googlenet": {"aux_logits": False, "init_weights": False}, "inception_v3": {"aux_logits": False, "init_weights": False}}


def native_size(name: str) -> int:
    return {"lenet": 28, "inception_v3": 299}.get(name, 224)


def build_architecture(name: str, size: int | None = None) -> Architecture:
    """The architecture `name` with untouched weights, for a `size`x`size` input (some
    transformers are built for one input size: they are built for this one)."""
    if name in COURSE:
        return split_stages(name, lenet() if name == "lenet" else nin(), expand=False, in_channels=1, native=native_size(name))
    if name not in torchvision_names():
        raise UserError(f"unknown model {name!r}", did_you_mean(name, model_names()) + " (`dreamstyle layers --list` names them all)")
    import torchvision.models as tvm

    size = size or native_size(name)
    kw = dict(_KW.get(name, {}))
    if name.startswith("vit_"):
        kw["image_size"] = size
    elif name.startswith("maxvit"):
        kw["input_size"] = (size, size)
    try:
        with _no_init():
            net = tvm.get_model(name, weights=None, **kw)
    except (AssertionError, ValueError, RuntimeError) as exc:  # e.g. a ViT's size not a multiple of its patch
        raise UserError(f"{name} cannot be built for {size}x{size} px ({exc})", f"use --size {native_size(name)}") from None
    maker: Callable[[str, nn.Module], Architecture] = _vit if name.startswith("vit_") else _swin if name.startswith("swin") else _maxvit if name.startswith("maxvit") else split_stages
    arch = maker(name, net)
    arch.native = native_size(name)
    return arch
