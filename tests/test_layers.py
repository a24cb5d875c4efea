"""Layer inspector: shapes, parameters, MACs, strides and receptive fields measured from modules.

VGG and GoogLeNet get random weights (none are downloadable here): nothing measured depends on
weight values. VGG files hold only the convolutional part, so those backbones have no "logits".
"""

from __future__ import annotations

import json

import pytest
import torch
import torchvision
from torch import nn

from dreamstyle import Backbone, UserError, load_backbone
from dreamstyle.models import inspector as L


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # Nothing here depends on threading, and small ops on a shared, busy CPU run 10-100x faster
    # on one thread than on several fighting other jobs for the cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _random_backbone(tmp_path_factory, arch: str, **kw) -> Backbone:
    with torch.device("meta"):  # skips initialising VGG's 120M classifier weights
        shapes = getattr(torchvision.models, arch)(**kw).state_dict()
    state = {k: torch.rand(v.shape) for k, v in shapes.items() if arch == "googlenet" or k.startswith("features.")}
    path = tmp_path_factory.mktemp(arch) / f"{arch}.pth"
    torch.save(state, path)
    return load_backbone(arch, weights=path)


@pytest.fixture(scope="module")
def vgg16(tmp_path_factory):
    return _random_backbone(tmp_path_factory, "vgg16")


@pytest.fixture(scope="module")
def vgg16_rows(vgg16):
    return {r.name: r for r in L.inspect(vgg16, 224)}


@pytest.fixture(scope="module")
def googlenet(tmp_path_factory):
    return _random_backbone(tmp_path_factory, "googlenet", aux_logits=False, init_weights=False)


@pytest.fixture(scope="module")
def lite_rows(lite):
    return L.inspect(lite, 224)


def _by_name(rows):
    return {r.name: r for r in rows}


def test_vgg16_receptive_fields_strides_and_macs(vgg16_rows):
    rows = vgg16_rows
    assert (rows["conv1_1"].receptive_field, rows["conv1_1"].stride) == (3, 1)
    assert rows["pool1"].stride == 2
    assert rows["relu4_3"].receptive_field == 92
    assert (rows["pool5"].receptive_field, rows["pool5"].stride) == (212, 32)
    assert rows["conv1_1"].macs == 224 * 224 * 64 * 3 * 9 == 86_704_128
    assert rows["conv1_1"].flops == 2 * 86_704_128
    assert rows["conv1_1"].params == 64 * 3 * 9 + 64
    assert rows["relu1_1"].params == rows["relu1_1"].macs == rows["pool1"].params == 0
    assert not any(r.rf_at_least for r in rows.values())
    assert "logits" not in rows  # the random weights file holds no classifier


def test_vgg19_receptive_fields_and_conv_parameters(tmp_path_factory):
    # None of this depends on the input size, so a small one keeps the test cheap.
    rows = L.inspect(_random_backbone(tmp_path_factory, "vgg19"), 64)
    by = _by_name(rows)
    assert by["relu4_2"].receptive_field == 84
    assert by["pool5"].receptive_field == 268
    assert sum(r.params for r in rows) == 20_024_384
    assert by["pool5"].shape == (512, 2, 2)


def _assert_shapes_match_forward(backbone, rows, size, layers):
    with torch.no_grad():
        out = backbone(torch.rand(1, 3, size, size), layers)
    by = _by_name(rows)
    for layer in layers:
        dims = tuple(out[layer].shape[1:])
        assert by[layer].shape == dims + (1,) * (3 - len(dims)), layer


def test_shapes_match_a_real_forward(vgg16, vgg16_rows, googlenet, lite, lite_rows):
    _assert_shapes_match_forward(vgg16, list(vgg16_rows.values()), 224, ["conv1_1", "pool2", "relu4_3", "pool5"])
    _assert_shapes_match_forward(lite, lite_rows, 224, ["stem", "block3", "block10", "head", "logits"])
    layers = ["conv1", "maxpool2", "inception3b", "inception4c", "inception5b", "logits"]
    _assert_shapes_match_forward(googlenet, L.inspect(googlenet, 160), 160, layers)


def test_googlenet_parallel_branches(googlenet):
    rows = L.inspect(googlenet, 96)
    by = _by_name(rows)
    assert [r.name for r in rows] == googlenet.layer_names
    assert (by["conv1"].receptive_field, by["conv1"].stride) == (7, 2)
    # Every inception block widens the field by its 3x3 branches: 2 * stride pixels.
    assert by["inception3b"].receptive_field - by["inception3a"].receptive_field == 2 * 8
    assert by["inception5b"].stride == 32
    assert by["logits"].params == 1024 * 1000 + 1000
    assert by["logits"].receptive_field is None and by["logits"].stride is None
    assert sum(r.params for r in rows) == sum(p.numel() for p in googlenet.parameters())


def test_efficientnet_lite0(lite, lite_rows):
    by = _by_name(lite_rows)
    assert [r.name for r in lite_rows] == lite.layer_names
    assert by["stem"].stride == 2 and by["stem"].receptive_field == 3
    assert by["block15"].stride == 32
    assert by["head"].receptive_field > by["block8"].receptive_field
    rfs = [by[n].receptive_field for n in lite.stage_names]
    assert rfs == sorted(rfs)
    assert by["logits"].shape == (1000, 1, 1)
    assert by["logits"].macs == by["logits"].params - 1000 == 1280 * 1000
    assert sum(r.params for r in lite_rows) == sum(p.numel() for p in lite.parameters())
    # Receptive field and stride belong to the network, not to the input size.
    small = L.inspect(lite, 96)
    assert [(r.receptive_field, r.stride) for r in small] == [(r.receptive_field, r.stride) for r in lite_rows]
    assert by["block3"].macs > _by_name(small)["block3"].macs


def test_collapsed_probe_agrees_with_full_channel_probe(lite, googlenet):
    # Collapsing channels is a shortcut; the plain positive copy is the reference.
    for stages in (lite.stages[:7], googlenet.stages[:6]):
        assert L._receptive_fields(stages, collapse=True) == L._receptive_fields(stages, collapse=False)


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, groups=4)

    def forward(self, x):
        # Asymmetric padding and a functional activation, as in TF-"same" nets.
        return x + torch.relu(self.conv(nn.functional.pad(x, [0, 1, 0, 1]))[..., :-1, :-1])


def test_generic_modules():
    stages = [
        ("dilated", nn.Conv2d(3, 4, 3, padding=2, dilation=2)),  # 5
        ("pool", nn.MaxPool2d(3, 2, ceil_mode=True)),  # 5 + 2 = 7, stride 2
        ("res", _Residual()),  # 7 + 2*2 = 11
        ("valid", nn.Sequential(nn.Conv2d(4, 6, 5, stride=2), nn.BatchNorm2d(6), nn.ReLU())),  # 11 + 4*2 = 19
    ]
    net = Backbone("toy", stages, None, (0.5,) * 3, (0.5,) * 3)
    rows = L.inspect(net, 64)
    assert [(r.receptive_field, r.stride) for r in rows] == [(5, 1), (7, 2), (11, 2), (19, 4)]
    assert [r.shape for r in rows] == [(4, 64, 64), (4, 32, 32), (4, 32, 32), (6, 14, 14)]
    assert rows[3].params == 6 * 4 * 25 + 6 + 2 * 6
    assert rows[3].macs == 6 * 14 * 14 * 4 * 25
    assert not any(m._forward_hooks for m in net.modules())  # the inspector cleaned up


def test_field_larger_than_the_cap_is_a_lower_bound(lite):
    fields = L._receptive_fields(lite.stages[:12], cap=128)
    assert fields[0] == (3, 2, False)
    rf, stride, at_least = fields[-1]
    assert at_least and rf <= 128 and stride == 16


def test_too_small_input_is_a_user_error(vgg16):
    with pytest.raises(UserError, match="larger size"):
        L.inspect(vgg16, 16)
    with pytest.raises(UserError):
        L.inspect(vgg16, 0)


def test_inspection_leaves_backbone_and_threads_alone(lite, lite_rows):
    threads = torch.get_num_threads()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before = lite(x, ["block5"])["block5"]
        rows = L.inspect(lite, 64)  # under no_grad, as a caller may well be
        after = lite(x, ["block5"])["block5"]
    with torch.inference_mode():
        assert L.inspect(lite, 64) == rows
    torch.testing.assert_close(before, after)
    assert torch.get_num_threads() == threads
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in lite.modules())


def test_table_and_json(lite_rows):
    table = L.format_table(lite_rows, "efficientnet-lite0", 224)
    lines = table.splitlines()
    for row in lite_rows:
        assert any(line.split()[0] == row.name for line in lines), row.name
    total = lines[-1]
    assert total.startswith("total:") and "4.65M params" in total and "GMAC" in total and "GFLOPs" in total
    assert "global" in table
    rows = L.to_json(lite_rows)
    assert json.loads(json.dumps(rows)) == rows
    for key in ("name", "shape", "params", "flops", "macs", "stride", "receptive_field"):
        assert key in rows[0]
    assert rows[0]["flops"] == 2 * rows[0]["macs"] and rows[0]["shape"] == [32, 112, 112]
    assert isinstance(rows[0]["macs"], int)


def test_human_numbers():
    assert L.human(999) == "999"
    assert L.human(1_234) == "1.23K"
    assert L.human(86_704_128) == "86.7M"
    assert L.human(15_346_630_656, "MAC") == "15.3 GMAC"


def test_report(lite):
    doc = json.loads(L.report(lite, 64, as_json=True))
    assert doc["model"] == "efficientnet-lite0" and doc["size"] == 64
    assert [r["name"] for r in doc["layers"]] == lite.layer_names
    assert "block15" in L.report(lite, 64)


def test_cli_layers_table_and_json_offline():
    import json as _json

    from typer.testing import CliRunner

    from dreamstyle.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["layers", "vgg19"])  # no weights here: the architecture is enough
    assert res.exit_code == 0, res.output
    assert "relu4_2" in res.output and "pool5" in res.output and "total" in res.output
    res = runner.invoke(app, ["layers", "vgg16", "--json", "--size", "128"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in _json.loads(res.output)["layers"]}
    assert rows["relu4_3"]["receptive_field"] == 92 and rows["pool5"]["receptive_field"] == 212
    assert {"name", "shape", "params", "flops", "stride", "receptive_field"} <= set(rows["conv1_1"])
    res = runner.invoke(app, ["layers", "vgg61"])
    assert res.exit_code == 2 and "vgg16" in res.output
