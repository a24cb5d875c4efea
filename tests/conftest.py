from __future__ import annotations

import zlib
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path_factory):
    """Tests never touch the network nor a user's torch hub cache."""
    monkeypatch.setenv("DREAMSTYLE_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.getbasetemp() / "torch-home"))
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _no_user_presets(monkeypatch, tmp_path_factory):
    """A developer's own ~/.config/dreamstyle/presets never leak into a test: each test gets an
    empty config folder of its own (outside tmp_path, which some tests expect to stay empty)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))


@pytest.fixture(scope="session")
def lite():
    import dreamstyle

    return dreamstyle.load_backbone("efficientnet-lite0")


@pytest.fixture(scope="session")
def cat() -> Path:
    return SAMPLES / "cat.jpg"


@pytest.fixture(scope="session")
def imagenet_classes() -> list[str]:
    from torchvision.models import ResNet50_Weights

    return ResNet50_Weights.IMAGENET1K_V1.meta["categories"]


def _random_like(name: str, like: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A stand-in for a trained tensor of this name and shape: He-scaled normal weights, so
    activations keep their scale through every layer and comparisons between two
    implementations mean something; identity batch-norm statistics; zero biases."""
    if like.dim() >= 2:
        fan_in = like[0].numel()
        return torch.randn(like.shape, generator=gen) * (2.0 / fan_in) ** 0.5
    if name.endswith("num_batches_tracked"):
        return torch.zeros(like.shape, dtype=like.dtype)
    if name.endswith(("running_var", "bn.weight")):
        return torch.ones(like.shape)
    return torch.zeros(like.shape)


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory):
    """`random_weights("vgg16")`: the path of a random state dict in torchvision's key layout,
    written once per session and shared by every test that only needs *a* weights file.

    VGG files hold only `features.*` (15-20M weights, 60-80 MB), as converted Caffe files do,
    instead of the whole model with its 120M-weight classifier (0.5 GB written and read per
    test): loading, truncation, pooling and normalisation are all in the features. The model is
    built on the meta device, so torchvision's slow random initialisation is skipped too."""
    import torchvision

    made: dict[tuple, Path] = {}

    def get(arch: str, **kw) -> Path:
        key = (arch, tuple(sorted(kw.items())))
        if key not in made:
            with torch.device("meta"):
                shapes = getattr(torchvision.models, arch)(**kw).state_dict()
            gen = torch.Generator().manual_seed(zlib.crc32(arch.encode()))  # the same file whatever ran first
            keep = (lambda k: k.startswith("features.")) if arch.startswith("vgg") else (lambda k: True)
            state = {k: _random_like(k, v, gen) for k, v in shapes.items() if keep(k)}
            path = tmp_path_factory.mktemp("weights") / f"{arch}.pth"
            torch.save(state, path)
            made[key] = path
        return made[key]

    return get
