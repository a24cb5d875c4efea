from __future__ import annotations

import copy
import os
import zlib
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

# The device the suite runs on: what `--device auto` (every engine's default) resolves to here.
#   cpu (the default): CUDA and MPS are hidden, so the suite is the CPU suite on any machine.
#   cuda / mps: that device must be there (the run stops at once otherwise); tests marked
#   `@pytest.mark.cpu` are skipped, because what they assert holds on the CPU only.
# Tests that pass `device="cpu"`, `--device cpu` or CPU tensors run on the CPU whatever is set.
TEST_DEVICES = ("cpu", "cuda", "mps")
TEST_DEVICE = os.environ.get("DREAMSTYLE_TEST_DEVICE", "").strip().lower() or "cpu"


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def pytest_configure(config):
    if TEST_DEVICE not in TEST_DEVICES:
        raise pytest.UsageError(f"DREAMSTYLE_TEST_DEVICE={TEST_DEVICE!r} is not one of {', '.join(TEST_DEVICES)}")
    if TEST_DEVICE == "cpu":
        # Before anything initialises CUDA; subprocesses (the CLI tests) inherit it too.
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        if _mps_available():  # MPS has no such variable: hidden from this process only
            torch.backends.mps.is_available = lambda: False
    elif TEST_DEVICE == "cuda" and not torch.cuda.is_available():
        raise pytest.UsageError("DREAMSTYLE_TEST_DEVICE=cuda, but torch sees no CUDA GPU here "
                                f"(torch {torch.__version__}, CUDA build {torch.version.cuda}, "
                                f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')!r})")  # fmt: skip
    elif TEST_DEVICE == "mps" and not _mps_available():
        raise pytest.UsageError(f"DREAMSTYLE_TEST_DEVICE=mps, but torch {torch.__version__} sees no Apple MPS device here")


def pytest_report_header(config):
    if TEST_DEVICE == "cuda":
        where = f"{torch.cuda.get_device_name()} (compute capability {'.'.join(map(str, torch.cuda.get_device_capability()))})"
    else:
        where = TEST_DEVICE
    return f"dreamstyle test device: {where}, torch {torch.__version__} (DREAMSTYLE_TEST_DEVICE={TEST_DEVICE})"


def pytest_collection_modifyitems(config, items):
    if TEST_DEVICE == "cpu":
        return
    for item in items:
        marker = item.get_closest_marker("cpu")
        if marker is not None:
            why = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "asserts a CPU-only fact")
            item.add_marker(pytest.mark.skip(reason=f"pins the CPU: {why} (DREAMSTYLE_TEST_DEVICE={TEST_DEVICE})"))


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path_factory):
    """Tests never touch the network nor a user's torch hub cache."""
    monkeypatch.setenv("DREAMSTYLE_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.getbasetemp() / "torch-home"))
    # Nor a user's cache folder (remembered digests, top-image indexes, rendered units).
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _no_user_presets(monkeypatch, tmp_path_factory):
    """A developer's own ~/.config/dreamstyle/presets never leak into a test: each test gets an
    empty config folder of its own (outside tmp_path, which some tests expect to stay empty)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))


@pytest.fixture(scope="session")
def lite():
    """The bundled efficientnet-lite0 on the CPU: both the backbone the tests hand to the engines
    and the judge they measure the pictures with (on CPU tensors)."""
    import dreamstyle

    backbone = dreamstyle.load_backbone("efficientnet-lite0")
    return backbone if TEST_DEVICE == "cpu" else _judge_stays_on_the_cpu(backbone)


def _judge_stays_on_the_cpu(backbone):
    """On a GPU test device the engines move the backbone they are given with
    `backbone = backbone.to(device)`, which moves a module in place: the shared judge would end
    up on the GPU and every CPU tensor the tests feed it would fail. This one answers `.to()` of
    another device with a copy on that device (made once per device, and a plain Backbone, so the
    engines run what they always run) and stays on the CPU itself."""
    base = type(backbone)

    class CpuJudge(base):
        def to(self, *args, **kwargs):
            device = torch._C._nn._parse_to(*args, **kwargs)[0]
            if device is None or device.type == "cpu":
                return super().to(*args, **kwargs)
            copies = self.__dict__.pop("_device_copies", {})
            try:
                if str(device) not in copies:
                    twin = copy.deepcopy(self)
                    twin.__class__ = base
                    copies[str(device)] = twin.to(*args, **kwargs)
            finally:
                self.__dict__["_device_copies"] = copies
            return copies[str(device)]

    backbone.__class__ = CpuJudge
    return backbone


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
