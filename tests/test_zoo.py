"""`dreamstyle layers` for the classic architectures: LeNet-5, NiN and torchvision's classifiers,
architecture only (nothing here has or needs weights), and `--compare`.

Every number is worked out by hand here from the papers' definitions (output sizes, parameter
and multiply-accumulate counts, receptive fields), not read back from the code under test.
"""

from __future__ import annotations

import json

import pytest
import torch

from dreamstyle import UserError
from dreamstyle.models import inspector as L
from dreamstyle.models import zoo
from helpers import invoke


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the probe's small ops: one thread is faster on a busy CPU
    yield
    torch.set_num_threads(threads)


def rows_of(name: str, size: int | None = None) -> dict[str, L.LayerRow]:
    net = zoo.network(name, size)
    return {r.name: r for r in L.inspect(net, size or zoo.native_size(name))}


def conv(c_in: int, c_out: int, k: int) -> int:
    return c_in * k * k * c_out + c_out


def fc(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def test_lenet5_by_hand():
    rows = rows_of("lenet")
    assert [r for r in rows] == ["conv1", "sigmoid1", "pool1", "conv2", "sigmoid2", "pool2", "flatten", "fc1", "sigmoid3", "fc2", "sigmoid4", "fc3"]
    params = {"conv1": conv(1, 6, 5), "conv2": conv(6, 16, 5), "fc1": fc(400, 120), "fc2": fc(120, 84), "fc3": fc(84, 10)}
    assert {n: rows[n].params for n in params} == params
    assert sum(r.params for r in rows.values()) == sum(params.values()) == 61_706
    # 28x28 grey in; the first conv is padded by 2, so it keeps 28x28; the second is not.
    assert [rows[n].shape for n in ("conv1", "pool1", "conv2", "pool2", "fc3")] == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (10, 1, 1)]
    # MACs: output units x weights per unit.
    assert rows["conv1"].macs == 6 * 28 * 28 * 25 == 117_600
    assert rows["conv2"].macs == 16 * 10 * 10 * 6 * 25 == 240_000
    assert (rows["fc1"].macs, rows["fc2"].macs, rows["fc3"].macs) == (400 * 120, 120 * 84, 84 * 10)
    # Receptive field r and stride j: a k-kernel adds (k-1)*j, a stride-s layer multiplies j by s.
    fields = {n: (rows[n].receptive_field, rows[n].stride) for n in ("conv1", "pool1", "conv2", "pool2")}
    assert fields == {"conv1": (5, 1), "pool1": (6, 2), "conv2": (6 + 4 * 2, 2), "pool2": (14 + 1 * 2, 4)}
    assert rows["fc1"].receptive_field is None  # global
    assert rows["fc3"].depth == 5  # two convs, three fully connected layers


def test_nin_by_hand():
    rows = rows_of("nin")
    # One kxk conv and two 1x1 convs per block; no fully connected layer at all.
    blocks = {"block1": (1, 96, 11), "block2": (96, 256, 5), "block3": (256, 384, 3), "block4": (384, 10, 3)}
    params = {b: conv(i, o, k) + 2 * conv(o, o, 1) for b, (i, o, k) in blocks.items()}
    assert {b: rows[b].params for b in blocks} == params
    assert sum(r.params for r in rows.values()) == sum(params.values()) == 1_992_166
    # 224 -> (224-11)/4+1 = 54 -> pool 3/2: 26 -> 26 (5x5 pad 2) -> 12 -> 12 -> 5 -> 5 -> 1x1 average.
    shapes = {"block1": (96, 54, 54), "pool1": (96, 26, 26), "block2": (256, 26, 26), "pool2": (256, 12, 12),
              "block3": (384, 12, 12), "pool3": (384, 5, 5), "block4": (10, 5, 5), "gap": (10, 1, 1)}  # fmt: skip
    assert {n: rows[n].shape for n in shapes} == shapes
    macs_block1 = 96 * 54 * 54 * 11 * 11 + 2 * 96 * 54 * 54 * 96
    assert rows["block1"].macs == macs_block1
    # 11 at stride 4; pool 3 adds 2*4 = 19, stride 8; 5x5 adds 4*8 = 51; pool adds 2*8 = 67, stride
    # 16; 3x3 adds 2*16 = 99; pool adds 2*16 = 131, stride 32; the last 3x3 adds 2*32 = 195.
    want = {"block1": (11, 4), "pool1": (19, 8), "block2": (51, 8), "pool2": (67, 16), "block3": (99, 16), "pool3": (131, 32), "block4": (195, 32)}
    assert {n: (rows[n].receptive_field, rows[n].stride) for n in want} == want
    assert rows["flatten"].depth == 12  # 4 blocks x 3 convs
    assert rows["gap"].receptive_field is None


def test_torchvision_alexnet_by_hand():
    rows = rows_of("alexnet")
    assert sum(r.params for r in rows.values()) == 61_100_840
    assert rows["features.0"].params == conv(3, 64, 11) and rows["classifier.1"].params == fc(256 * 6 * 6, 4096)
    assert rows["features.0"].shape == (64, 55, 55) and rows["features.0"].macs == 64 * 55 * 55 * 3 * 11 * 11
    # conv 11/4 -> pool 3/2 -> conv 5 -> pool -> 3 convs 3x3 -> pool: 11, 19, 51, 67, 99, 131, 163, 195.
    assert [rows[f"features.{i}"].receptive_field for i in (0, 2, 3, 5, 6, 8, 10, 12)] == [11, 19, 51, 67, 99, 131, 163, 195]
    assert rows["features.12"].stride == 32 and rows["features.12"].shape == (256, 6, 6)
    assert rows["classifier.6"].shape == (1000, 1, 1) and rows["classifier.6"].depth == 8


def test_torchvision_models_match_their_own_forward():
    """Params and output shapes of three families against the real torchvision module."""
    import torchvision.models as tvm

    for name, last in (("resnet18", "layer4.1"), ("mobilenet_v3_small", "features.12"), ("squeezenet1_1", "classifier.2")):
        net = zoo.network(name)
        rows = {r.name: r for r in L.inspect(net, 96)}
        with zoo._no_init():
            ref = getattr(tvm, name)()
        assert sum(r.params for r in rows.values()) == sum(p.numel() for p in ref.parameters()), name
        out = ref.to("meta").eval()(torch.zeros(1, 3, 96, 96, device="meta"))
        assert list(rows.values())[-1].shape == (*out.shape[1:], 1, 1), name
        assert rows[last].stride == 32 if name != "squeezenet1_1" else rows[last].stride == 16
    r50 = rows_of("resnet50")
    assert r50["layer4.2"].receptive_field == 427 and r50["fc"].depth == 50  # the published numbers


def test_vit_tokens_are_global_from_the_patches_on():
    rows = rows_of("vit_b_32")
    assert (rows["conv_proj"].receptive_field, rows["conv_proj"].stride, rows["conv_proj"].shape) == (32, 32, (768, 7, 7))
    assert rows["tokens"].shape == (50, 768) and rows["encoder.layers.encoder_layer_0"].receptive_field is None
    assert sum(r.params for r in rows.values()) == 88_224_232
    # Attention's products are counted: per layer 4 projections + 2 products of 50x50 over 768.
    layer = rows["encoder.layers.encoder_layer_0"]
    assert layer.macs == 50 * (4 * 768 * 768 + 2 * 768 * 3072) + 2 * 50 * 50 * 768


def test_swin_maps_read_as_channels_first():
    swin = zoo.network("swin_t")
    shapes, macs, _ = L._forward_stats(swin, 224)
    assert shapes["features.0"] == (96, 56, 56) and shapes["norm"] == (768, 7, 7)
    assert sum(L._count(m) for m in [*swin.stages, *swin.head]) == 28_288_354


def test_existing_backbones_keep_their_layer_names():
    rows = rows_of("googlenet")
    assert "inception4c" in rows and rows["logits"].depth == 22 and rows["inception5b"].receptive_field == 379


def test_compare_rows():
    got = {s["model"]: s for s in (L.summary(zoo.network(n), zoo.native_size(n)) for n in ("lenet", "nin", "alexnet"))}
    assert got["lenet"] == {"model": "lenet", "input": [1, 28, 28], "params": 61_706, "macs": 117_600 + 240_000 + 48_000 + 10_080 + 840,
                            "depth": 5, "output_stride": 4, "receptive_field": 16, "rf_at_least": False}  # fmt: skip
    assert (got["nin"]["input"], got["nin"]["depth"], got["nin"]["receptive_field"]) == ([1, 224, 224], 12, 195)
    assert (got["alexnet"]["params"], got["alexnet"]["depth"], got["alexnet"]["output_stride"]) == (61_100_840, 8, 32)


def test_cli_compare_the_issue_s_five():
    res = invoke("layers", "--compare", "lenet,alexnet,vgg16,nin,googlenet")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split() == ["model", "input", "params", "MACs", "depth", "stride", "RF"]
    table = {line.split()[0]: line.split() for line in lines[1:6]}
    assert table["lenet"][1:] == ["1×28×28", "61.7K", "417K", "5", "4", "16"]
    assert table["vgg16"][1:] == ["3×224×224", "138M", "15.5G", "16", "32", "212"]
    assert table["googlenet"][4:] == ["22", "32", "379"]
    doc = json.loads(invoke("layers", "--compare", "lenet,nin", "--json").output)
    assert [m["params"] for m in doc["models"]] == [61_706, 1_992_166]


def test_cli_layers_for_architectures_and_refusals():
    res = invoke("layers", "lenet", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["input"] == [1, 28, 28] and doc["depth"] == 5 and sum(r["params"] for r in doc["layers"]) == 61_706
    res = invoke("layers", "alexnt")
    assert res.exit_code == 2 and res.output.startswith("error: unknown model 'alexnt'") and "did you mean 'alexnet'" in res.output
    assert res.output.count("\n") == 1 and "—" in res.output
    res = invoke("layers", "lenet", "--size", "32")  # its first fully connected layer takes 16x5x5
    assert res.exit_code == 2 and "--size 28" in res.output
    res = invoke("layers", "--compare", "lenet,vgg61")
    assert res.exit_code == 2 and "vgg16" in res.output
    assert invoke("layers").exit_code == 2
    assert "resnet50" in invoke("layers", "--list").output.split()
    with pytest.raises(UserError, match="--weights"):
        zoo.network("resnet18", weights="x.pth")


def test_strides_that_are_not_powers_of_two():
    """ViT-H/14's patches: 14 px apart (measured from small probes, this once read 13)."""
    from torch import nn

    from dreamstyle import Backbone

    net = Backbone("patches", [("patch14", nn.Conv2d(3, 8, 14, stride=14)), ("conv3s3", nn.Conv2d(8, 8, 3, stride=3))], None, (0.5,) * 3, (0.5,) * 3)
    assert [(r.stride, r.receptive_field) for r in L.inspect(net, 224)] == [(14, 14), (42, 14 + 2 * 14)]
