"""The refusals users meet most, word for word: `error: <what is wrong> — <what to do>` as the
only line on stderr, exit status 2, and nothing written. (test_robustness.py checks that every
refusal has this shape; this pins the exact words of the main ones, so a reorganised CLI that
loses a hint, a path or the did-you-mean is caught.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from helpers import LITE, SAMPLES, invoke

CAT = SAMPLES / "cat.jpg"
SWIRLS = SAMPLES / "swirls.jpg"
DREAM = [*LITE, "--size", "48", "--octaves", "1", "--steps", "1", "-q"]
STYLE = [*LITE, "--size", "48", "--steps", "1", "-q"]
VIZ = [*LITE, "--size", "32", "--steps", "1", "-q"]


def _cat_pixels() -> str:
    w, h = Image.open(CAT).size
    return f"{w * h:,}"


def _hub_file(name: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / name  # under the tests' own TORCH_HOME


# id -> (command line, exact error line), given the test's empty folder T.
CASES = {
    "size": lambda T: (["dream", CAT, "-o", T / "o.png", *DREAM, "--size", "0"],
                       "--size 0 is too small — use at least 16 pixels, up to 16384, and twice the stride of the deepest layer (`dreamstyle layers MODEL` lists them)"),
    "steps": lambda T: (["dream", CAT, "-o", T / "o.png", *DREAM, "--steps", "-1"],
                        "--steps -1 is out of range — use a positive number up to 100000"),
    "octaves": lambda T: (["dream", CAT, "-o", T / "o.png", *DREAM, "--octaves", "0"],
                          "--octaves 0 is out of range — use a positive number up to 20"),
    "model": lambda T: (["dream", CAT, "-o", T / "o.png", *DREAM, "--model", "vgg61"],
                        "unknown model 'vgg61' — did you mean 'vgg19' or 'vgg16' or 'vgg19-caffe'?"),
    "layer": lambda T: (["dream", CAT, "-o", T / "o.png", *DREAM, "--layers", "blok9"],
                        "efficientnet-lite0 has no layer 'blok9' — did you mean 'block9' or 'block8' or 'block7'?"
                        " (`dreamstyle layers efficientnet-lite0` lists them all)"),
    "unknown-layer": lambda T: (["style", CAT, SWIRLS, "-o", T / "o.png", *STYLE, "--style-layers", "stem,conv5"],
                                "efficientnet-lite0 has no layer 'conv5' — choose from: stem, block0, block1, block2, block3, block4, block5,"
                                " block6, block7, block8, block9, block10, … (`dreamstyle layers efficientnet-lite0` lists them all)"),
    "preset": lambda T: (["dream", CAT, "-o", T / "o.png", *DREAM, "--preset", "swirly"],
                         "unknown dream preset 'swirly' — did you mean 'swirls'? (`dreamstyle presets` lists them)"),
    "channels-syntax": lambda T: (["dream", CAT, "-o", T / "o.png", *DREAM, "--channels", "a,b"],
                                  "--channels 'a,b' is not a list of numbers — e.g. --channels 12,40 or --channels 0-15"),
    "channel-range": lambda T: (["dream", CAT, "-o", T / "o.png", *DREAM, "--layers", "block9", "--channels", "500"],
                                "layer block9 has 112 channels; channel 500 does not exist — use --channels from 0 to 111"),
    "fp16-on-cpu": lambda T: (["dream", CAT, "-o", T / "o.png", *DREAM, "--precision", "fp16", "--device", "cpu"],
                              "fp16 is not supported on the CPU — use --precision bf16 or fp32"),
    "precision": lambda T: (["dream", CAT, "-o", T / "o.png", *DREAM, "--precision", "fp8"],
                            "unknown precision 'fp8' — did you mean 'fp32' or 'fp16'?"),
    "quiet-verbose": lambda T: (["dream", CAT, "-o", T / "o.png", *DREAM, "--verbose"],
                                "--quiet and --verbose contradict each other — pick one"),
    "missing-input": lambda T: (["dream", T / "nope.jpg", "-o", T / "o.png", *DREAM],
                                f"no such file: {T / 'nope.jpg'} — check the path and spelling"),
    # A batch folder that is not there is said to be missing, not its -o folder to lack an extension.
    "missing-batch-folder": lambda T: (["dream", T / "photos", "-o", T / "dreams", *DREAM],
                                       f"no such file or folder: {T / 'photos'} — check the path and spelling"),
    "missing-folder": lambda T: (["dream", CAT, "-o", T / "missing" / "o.png", *DREAM],
                                 f"output folder {T / 'missing'} does not exist — create it first: mkdir -p {T / 'missing'}"),
    "extension": lambda T: (["dream", CAT, "-o", T / "o.bmp", *DREAM],
                            f"cannot save {T / 'o.bmp'}: unsupported extension '.bmp' — use .png, .jpg, .jpeg or .webp"),
    "max-pixels": lambda T: (["dream", CAT, "-o", T / "o.png", *DREAM, "--max-pixels", "1000"],
                             f"{CAT} is too large ({_cat_pixels()} pixels, limit 1,000); huge images can exhaust memory"
                             f" — if you trust this file, pass --max-pixels {_cat_pixels().replace(',', '')} to raise the limit"),
    "offline-vgg": lambda T: (["dream", CAT, "-o", T / "o.png", "--model", "vgg16", "-q"],
                              "vgg16 weights are not cached and DREAMSTYLE_OFFLINE is set — put vgg16-397923af.pth "
                              f"(from https://download.pytorch.org/models/vgg16-397923af.pth) at {_hub_file('vgg16-397923af.pth')}, "
                              "pass --weights FILE with a local copy, or use the bundled offline backbone: --model efficientnet-lite0"),
    "blend-on-a-picture": lambda T: (["dream", CAT, "-o", T / "o.png", *DREAM, "--blend", "0.5"],
                                     "--blend applies to a video input — give an .mp4 or animated .gif file, or a folder of frames with -o out.mp4"),
    "style-blend": lambda T: (["style", CAT, SWIRLS, "-o", T / "o.png", *STYLE, "--style-blend", "1,2,3"],
                              "--style-blend has 3 weights for 1 style images — give one weight per style image"),
    "style-optimizer": lambda T: (["style", CAT, SWIRLS, "-o", T / "o.png", *STYLE, "--optimizer", "sgd"],
                                  "unknown --optimizer 'sgd' — use lbfgs or adam"),
    "style-missing-style": lambda T: (["style", CAT, T / "nope.jpg", "-o", T / "o.png", *STYLE],
                                      f"no such file: {T / 'nope.jpg'} — check the path and spelling"),
    "zoom": lambda T: (["zoom", CAT, "-o", T / "z.mp4", *DREAM, "--zoom", "0"],
                       "--zoom 0.0 is out of range — use 0.5 to 2, e.g. 1.05 (1: no zoom)"),
    "zoom-frames": lambda T: (["zoom", CAT, "-o", T / "z.mp4", *DREAM, "--frames", "0"],
                              "--frames 0 is out of range — use 1 up to 100000"),
    "zoom-output": lambda T: (["zoom", CAT, "-o", T / "z.png", *DREAM],
                             f"cannot write a video to {T / 'z.png'} — name an .mp4 or .gif file, or a folder for PNG frames"),
    "class-name": lambda T: (["visualize", "class", "goldfsh", *VIZ, "-o", T / "v.png"],
                             "unknown ImageNet class 'goldfsh' — did you mean 'goldfish' or 'goldfinch' or 'solar dish'?"),
    "class-index": lambda T: (["visualize", "class", "1000", *VIZ, "-o", T / "v.png"],
                              "class index 1000 is out of range — use 0 to 999"),
    "viz-channel-range": lambda T: (["visualize", "channels", "--layer", "block6", "--channels", "0,500", *VIZ, "-o", T / "v.png"],
                                    "layer block6 has 80 channels; channel 500 does not exist — use --channels from 0 to 79"),
    "viz-missing-layer": lambda T: (["visualize", "channels", *VIZ, "-o", T / "v.png"],
                                    "missing --layer — e.g. --layer block6 (`dreamstyle layers MODEL` lists them)"),
    "maps-of-logits": lambda T: (["visualize", "maps", CAT, "--layer", "logits", *LITE, "-q", "-o", T / "v.png"],
                                 "logits have no spatial maps — pick a convolutional layer"),
}  # fmt: skip


def assert_refused_exactly(res, line: str, folder: Path, left: list[Path] = ()) -> None:
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert res.stderr == f"error: {line}\n", res.stderr
    assert res.stdout == ""
    assert sorted(folder.iterdir()) == sorted(left), "a refused run must leave nothing behind"


@pytest.mark.parametrize("case", CASES)
def test_refusal_is_one_exact_line(tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)  # so a default output name would land here and be seen
    args, line = CASES[case](tmp_path)
    assert_refused_exactly(invoke(*args), line, tmp_path)


def test_unavailable_gpu_is_one_exact_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    res = invoke("dream", CAT, "-o", tmp_path / "o.png", *DREAM, "--device", "cuda")
    assert_refused_exactly(res, "--device cuda was asked for but no CUDA GPU is available — use --device auto or --device cpu", tmp_path)


def test_existing_output_is_one_exact_line_and_kept(tmp_path):
    out = tmp_path / "o.png"
    out.write_bytes(b"precious")
    for args in (["dream", CAT, *DREAM], ["style", CAT, SWIRLS, *STYLE]):
        res = invoke(*args, "-o", out)
        assert_refused_exactly(res, f"{out} already exists — pass --force to overwrite", tmp_path, [out])
        assert out.read_bytes() == b"precious"
