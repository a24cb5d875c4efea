"""Backbones: names, truncation, weights resolution and refusal of wrong files."""

from __future__ import annotations

import urllib.error

import pytest
import torch
import torchvision

from dreamstyle import UserError, load_backbone
from dreamstyle import backbones as bb
from dreamstyle.images import load_image, resize_longest, to_tensor


def test_efficientnet_lite0_recognises_the_cat(lite, cat, imagenet_classes):
    x = to_tensor(resize_longest(load_image(cat).rgb, 224))
    with torch.no_grad():
        logits = lite(x, ["logits"])["logits"][0]
    assert imagenet_classes[int(logits.argmax())] == "Egyptian cat"


def test_efficientnet_lite0_layers_and_shapes(lite):
    assert lite.layer_names == ["stem"] + [f"block{i}" for i in range(16)] + ["head", "logits"]
    feats = lite(torch.rand(1, 3, 128, 96), ["stem", "block3", "block10", "head"])
    assert feats["stem"].shape == (1, 32, 64, 48)
    assert feats["block3"].shape == (1, 40, 16, 12)
    assert feats["block10"].shape == (1, 112, 8, 6)
    assert feats["head"].shape == (1, 1280, 4, 3)


@pytest.mark.parametrize(
    "arch, layer, index",
    [("vgg16", "relu4_3", 22), ("vgg16", "pool5", 30), ("vgg16", "conv1_1", 0),
     ("vgg19", "relu4_2", 22), ("vgg19", "relu5_4", 35), ("vgg19", "pool3", 18)],
)  # fmt: skip
def test_vgg_names_map_to_torchvision_indices(arch, layer, index):
    names = bb.vgg_stage_names(getattr(torchvision.models, arch)().features)
    assert names.index(layer) == index


def _random_state_dict(tmp_path, arch: str, **kw):
    path = tmp_path / f"{arch}-random.pth"
    torch.save(getattr(torchvision.models, arch)(**kw).state_dict(), path)
    return path


def test_random_vgg16_in_torchvision_format_loads_through_weights(tmp_path):
    path = _random_state_dict(tmp_path, "vgg16")
    net = load_backbone("vgg16", weights=path)
    assert net.weights == str(path)
    ref = torchvision.models.vgg16()
    ref.load_state_dict(torch.load(path, weights_only=True))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        ours = net(x, ["relu4_3"])["relu4_3"]
        theirs = ref.features[:23](net.normalize(x))
    torch.testing.assert_close(ours, theirs)


def test_truncation_runs_only_up_to_the_deepest_layer(lite):
    called = []
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: called.append(n)) for n, m in zip(lite.stage_names, lite.stages)]
    try:
        lite(torch.rand(1, 3, 64, 64), ["block2", "stem"])
    finally:
        for h in hooks:
            h.remove()
    assert called == ["stem", "block0", "block1", "block2"]


def test_truncate_drops_later_stages(tmp_path):
    net = load_backbone("vgg16", weights=_random_state_dict(tmp_path, "vgg16")).truncate(["relu2_2"])
    assert net.layer_names[-1] == "relu2_2" and len(net.stages) == 9


def test_googlenet_names_with_random_weights(tmp_path):
    path = _random_state_dict(tmp_path, "googlenet", aux_logits=True, init_weights=True)
    net = load_backbone("googlenet", weights=path)
    assert "inception4c" in net.layer_names and net.layer_names[-1] == "logits"
    assert net(torch.rand(1, 3, 96, 96), ["inception4c"])["inception4c"].shape[1] == 512


def test_missing_weights_offline_is_one_clear_error(monkeypatch):
    monkeypatch.delenv("DREAMSTYLE_OFFLINE")

    def no_network(url, progress):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(bb, "_download_state_dict", no_network)
    with pytest.raises(UserError) as err:
        load_backbone("vgg16")
    text = str(err.value)
    assert "vgg16-397923af.pth" in text and "--weights" in text and "--model efficientnet-lite0" in text


def test_cached_weights_are_used_without_download(tmp_path, monkeypatch):
    url = torchvision.models.VGG16_Weights.IMAGENET1K_V1.url
    cached = bb._hub_cache_file(url)
    cached.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.vgg16().state_dict(), cached)
    monkeypatch.setattr(bb, "_download_state_dict", lambda *a: pytest.fail("must not download"))
    try:
        assert load_backbone("vgg16").weights == str(cached)
    finally:
        cached.unlink()


class _Evil:
    def __reduce__(self):
        return (print, ("pickled code ran",))


@pytest.mark.parametrize("kind", ["other-architecture", "tensor", "pickled-code", "garbage"])
def test_wrong_weights_files_are_refused(tmp_path, kind, capsys):
    path = tmp_path / "w.pth"
    if kind == "other-architecture":
        torch.save(torchvision.models.vgg11().state_dict(), path)
    elif kind == "tensor":
        torch.save(torch.zeros(3), path)
    elif kind == "pickled-code":
        torch.save({"features.0.weight": _Evil()}, path)
    else:
        path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(UserError) as err:
        load_backbone("vgg16", weights=path)
    assert str(path) in str(err.value)
    assert "pickled code ran" not in capsys.readouterr().out


def test_unknown_model_and_layer_get_did_you_mean(lite):
    with pytest.raises(UserError, match="vgg16"):
        load_backbone("vgg61")
    with pytest.raises(UserError, match="block10"):
        lite(torch.rand(1, 3, 64, 64), ["blok10"])


def test_the_light_list_of_model_names_matches_the_registry():
    """settings.MODEL_NAMES lets presets and the CLI name models without importing torch."""
    from dreamstyle.backbones import MODELS
    from dreamstyle.settings import MODEL_NAMES

    assert list(MODEL_NAMES) == list(MODELS)
