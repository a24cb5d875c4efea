"""What a style step and a run's start no longer pay for (issue 29), and that the pictures did not
change with it: the Gram matrix's one-product backward, the canvas cut whose gradient stays NHWC,
ReLUs in place where nobody taps the conv, VGG built without torchvision, and the weights file's
digest remembered across runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from dreamstyle.media import digests
from dreamstyle.models.backbones import load_backbone
from dreamstyle.optim import canvas
from dreamstyle.optim.objectives import gram
from helpers import SAMPLES

ROOT = SAMPLES.parent


def _two_products(f: torch.Tensor) -> torch.Tensor:
    """The Gram matrix as autograd sees a plain `Xᵀ @ X`: the reference for the custom backward."""
    b, c, h, w = f.shape
    x = f.reshape(b, c, h * w)
    return x @ x.transpose(1, 2) / (h * w)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_the_gram_backward_is_autograds(layout):
    # float32: gram works in float32 whatever it is given (fp32 below), so gradcheck's float64
    # finite differences do not apply; autograd's own derivative of the plain product is the judge.
    f = torch.randn(2, 5, 4, 3).contiguous(memory_format=layout).requires_grad_(True)
    w = torch.randn(2, 5, 5)
    (mine,) = torch.autograd.grad((gram(f) * w).sum(), f)
    (theirs,) = torch.autograd.grad((_two_products(f) * w).sum(), f)
    torch.testing.assert_close(mine, theirs)


def test_the_canvas_cut_gives_a_plain_slices_gradient_and_keeps_it_nhwc():
    f = torch.randn(1, 8, 12, 10).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    w = torch.randn(1, 8, 8, 6)
    cut = canvas.in_picture({"a": f}, 4, {"a": 2})["a"]
    assert cut.shape == (1, 8, 8, 6) and cut.is_contiguous(memory_format=torch.channels_last)
    (mine,) = torch.autograd.grad((cut * w).sum(), f)
    (theirs,) = torch.autograd.grad((canvas.inner(f, 2) * w).sum(), f)
    assert torch.equal(mine, theirs)
    # The point of it: the gradient meets the network's NHWC maps in their own layout.
    assert mine.is_contiguous(memory_format=torch.channels_last)
    assert mine[..., :2, :].abs().sum() == 0 and mine[..., :, -2:].abs().sum() == 0


@pytest.fixture(scope="module")
def vgg16(random_weights):
    return load_backbone("vgg16", weights=random_weights("vgg16"))


def test_a_tapped_conv_output_is_not_overwritten_by_its_relu(vgg16):
    x = torch.rand(1, 3, 32, 32)
    out = vgg16(x, ["conv1_1", "relu1_1", "conv2_1"])
    assert (out["conv1_1"] < 0).any(), "conv1_1 lost its negative values to an in-place ReLU"
    torch.testing.assert_close(out["relu1_1"], out["conv1_1"].clamp_min(0))
    # Untapped convs are rectified in place: the same values as out of place.
    conv2_1 = vgg16(x, ["conv2_1"])["conv2_1"]
    torch.testing.assert_close(out["conv2_1"], conv2_1)


def test_in_place_relus_leave_the_gradient_as_it_was(vgg16, monkeypatch):
    x = torch.rand(1, 3, 32, 32)

    def grad() -> torch.Tensor:
        y = x.clone().requires_grad_(True)
        feats = vgg16(y, ["relu1_1", "relu2_2", "relu3_1"])
        sum(gram(f).pow(2).sum() for f in feats.values()).backward()
        return y.grad

    in_place = grad()
    monkeypatch.setattr(torch, "relu_", torch.relu)
    torch.testing.assert_close(in_place, grad(), rtol=0, atol=0)


def test_loading_a_vgg_file_does_not_import_torchvision(random_weights):
    script = (
        "import sys; from dreamstyle import load_backbone; "
        f"b = load_backbone('vgg16', weights={str(random_weights('vgg16'))!r}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torchvision'))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_hub_addresses_are_torchvisions():
    from torchvision.models import get_weight

    from dreamstyle.models.hub import HUB_URLS, HUB_WEIGHTS

    assert set(HUB_WEIGHTS.values()) <= set(HUB_URLS)
    for enum, url in HUB_URLS.items():
        assert get_weight(enum).url == url


def test_a_digest_is_remembered_across_runs_until_the_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "w.pth"
    path.write_bytes(b"a" * 5000)
    hashed = []
    real = digests.hash_file
    monkeypatch.setattr(digests, "hash_file", lambda p: hashed.append(p) or real(p))

    def fresh_run() -> str:
        digests._remembered.cache_clear()  # what a new process starts with
        return digests.sha256_prefix(path)

    first = fresh_run()
    assert first == real(path) and len(hashed) == 1
    assert fresh_run() == first and len(hashed) == 1, "a second run hashed the unchanged file again"
    assert str(path.resolve()) in json.loads(digests.memo_file().read_text())
    path.write_bytes(b"b" * 5000)  # same size: the mtime says it changed
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert fresh_run() == real(path) != first and len(hashed) == 2


def test_an_unwritable_cache_only_costs_the_hashing(tmp_path, monkeypatch):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    path = tmp_path / "w.pth"
    path.write_bytes(b"x" * 100)
    digests._remembered.cache_clear()
    assert digests.sha256_prefix(path) == digests.hash_file(path)
