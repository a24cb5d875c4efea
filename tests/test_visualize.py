"""Feature visualisation with the real efficientnet-lite0: the pictures excite what they claim."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from dreamstyle import UserError, load_backbone
from dreamstyle.cli import app
from dreamstyle.media.images import load_image, read_settings, resize_longest, to_tensor
from dreamstyle.optim.objectives import channel, class_logit, neuron
from dreamstyle.engines.visualize import class_images, class_index, class_names, filter_cells, render, strongest_channels

runner = CliRunner()


def test_class_visualisations_are_classified_as_their_class(lite, tmp_path):
    classes = ["goldfish", "volcano", "Egyptian cat"]
    images = class_images(classes, backbone=lite, size=128, steps=128, quiet=True)
    for name, img in zip(classes, images):
        path = tmp_path / f"{name}.png"
        img.save(path)  # judged on the saved 8-bit PNG, as a user would see it
        with torch.no_grad():
            logits = lite(to_tensor(Image.open(path)), ["logits"])["logits"][0]
        assert class_names()[int(logits.argmax())] == name


def test_channel_visualisations_excite_their_channel_far_more_than_noise(lite):
    chosen = [3, 17, 40, 77]
    objective = sum(channel("block6", c, batch=i) for i, c in enumerate(chosen))
    images = render(objective, backbone=lite, size=96, steps=64, batch=len(chosen), quiet=True)
    noise = torch.rand(8, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        base = lite(noise, ["block6"])["block6"].mean(dim=(0, 2, 3))
        for c, img in zip(chosen, images):
            got = lite(to_tensor(img), ["block6"])["block6"][0, c].mean()
            assert got > base[c].abs() + 1.0 and got > 3 * base[c].abs(), (c, got, base[c])


def test_neuron_objective_reads_the_centre_unit():
    f = {"l": torch.zeros(1, 4, 5, 7)}
    f["l"][0, 2, 2, 3] = 9.0
    assert neuron("l", 2)(f) == 9.0 and neuron("l", 2, x=0, y=0)(f) == 0.0


def test_objectives_compose():
    f = {"a": torch.ones(2, 3, 4, 4), "logits": torch.arange(10.0).view(1, 10)}
    o = channel("a", 1) + 0.5 * channel("a", 2) - class_logit(3)
    assert o.layers == {"a", "logits"}
    assert float(o(f)) == pytest.approx(1 + 0.5 - 3)


def test_filter_grid_of_the_lite0_stem_has_32_cells(lite):
    assert len(filter_cells(lite)) == 32


def test_feature_maps_are_ranked_strongest_first(lite, cat):
    x = to_tensor(resize_longest(load_image(cat).rgb, 128))
    maps, order = strongest_channels(lite, x, "block3", 8)
    means = maps.mean(dim=(1, 2))
    assert len(order) == 8 and means[order[0]] == means.max()
    assert all(means[a] >= means[b] for a, b in zip(order, order[1:]))


def test_class_names_and_did_you_mean():
    assert class_index("goldfish") == 1 and class_index("egyptian_cat") == class_index("Egyptian cat") == 285
    with pytest.raises(UserError, match="goldfish"):
        class_index("goldfsh")
    with pytest.raises(UserError, match="out of range"):
        class_index(1000)


def test_class_names_are_torchvisions_and_a_lite0_run_never_imports_torchvision():
    import subprocess
    import sys

    from torchvision.models import ResNet50_Weights

    assert class_names() == ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    # Importing torchvision costs over a second per process; only VGG/GoogLeNet and dream's blur need it.
    code = ("import sys, torch; from dreamstyle import load_backbone; from dreamstyle.engines.visualize import class_images; "
            "bb = load_backbone('efficientnet-lite0', progress=False); "
            "class_images(['goldfish'], backbone=bb, size=32, steps=1, quiet=True); "
            "print('torchvision' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_backbone_without_classifier_refuses_class_visualisation(random_weights):
    path = random_weights("vgg19")  # features only, as converted Caffe files hold
    with pytest.raises(UserError, match="classifier"):
        class_images(["goldfish"], backbone=load_backbone("vgg19-caffe", weights=path), steps=1, quiet=True)


def test_cli_visualize_commands(cat, tmp_path):
    fast = ["--model", "efficientnet-lite0", "--steps", "4", "--size", "64", "-q"]
    for args in (["class", "goldfish", *fast], ["channels", "--layer", "block6", "--channels", "0-3", *fast],
                 ["neuron", "--layer", "block6", "--channel", "5", *fast],
                 ["filters", "--model", "efficientnet-lite0", "-q"],
                 ["maps", str(cat), "--layer", "block3", "--model", "efficientnet-lite0", "-q"]):  # fmt: skip
        out = tmp_path / f"{args[0]}.png"
        res = runner.invoke(app, ["visualize", *args, "-o", str(out)])
        assert res.exit_code == 0, (args, res.output)
        assert read_settings(out)["engine"] == "visualize." + args[0]


@pytest.mark.parametrize(
    "args, needle",
    [(["class", "goldfsh"], "goldfish"), (["channels", "--layer", "block6", "--channels", "0,500"], "channels"),
     (["channels", "--layer", "blok6"], "block6"), (["class", "goldfish", "--param", "dct"], "fft")],
)  # fmt: skip
def test_cli_visualize_refuses_bad_input(tmp_path, args, needle):
    out = tmp_path / "v.png"
    res = runner.invoke(app, ["visualize", *args, "--model", "efficientnet-lite0", "--steps", "2", "-q", "-o", str(out)])
    assert res.exit_code == 2 and res.output.count("error:") == 1 and needle in res.output, res.output
    assert not out.exists()
