from __future__ import annotations

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
