"""The `dreamstyle` command as a user meets it: outputs, refusals, presets, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from dreamstyle.cli import app
from dreamstyle.media.images import read_settings
from helpers import DREAM_MOVES, STYLE_CLOSER, moved, style_ratio

runner = CliRunner()
# A plain path, not `from tests.conftest import …`, which only works when the repo root is on sys.path.
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FAST = ["--model", "efficientnet-lite0", "--size", "96", "--octaves", "2", "--steps", "2", "-q"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_dream_writes_the_output_with_settings(cat, tmp_path):
    out = tmp_path / "out.png"
    # --lr 0.03: 4 steps then move the pixels ~14 levels, far above resize noise (see DREAM_MOVES).
    res = invoke("dream", cat, "-o", out, *FAST, "--lr", "0.03")
    assert res.exit_code == 0, res.output
    assert max(Image.open(out).size) == 96
    assert moved(out, cat) > DREAM_MOVES, "the output must be the dream, not the resized photo"
    meta = read_settings(out)
    assert meta["engine"] == "dream" and meta["settings"]["model"] == "efficientnet-lite0"


def test_default_output_name_sits_beside_the_input(cat, tmp_path):
    src = tmp_path / "photo.jpg"
    src.write_bytes(cat.read_bytes())
    assert invoke("dream", src, *FAST).exit_code == 0
    assert (tmp_path / "photo-dream.png").is_file()


def test_existing_output_is_not_overwritten_without_force(cat, tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    res = invoke("dream", cat, "-o", out, *FAST)
    assert res.exit_code == 2 and "--force" in res.output
    assert out.read_bytes() == b"precious"
    assert invoke("dream", cat, "-o", out, "--force", *FAST).exit_code == 0
    assert Image.open(out).size[0] == 96


@pytest.mark.parametrize(
    "args, needle",
    [(["--size", "0"], "--size"), (["--steps", "-1"], "--steps"), (["--size", "200000"], "--size"),
     (["--layers", "blok9"], "block9"), (["--preset", "swirly"], "swirls"), (["--model", "vgg61"], "vgg16"),
     (["--channels", "a,b"], "--channels"), (["--device", "cuda"], "--device")],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_no_file(cat, tmp_path, args, needle):
    out = tmp_path / "out.png"
    cli = [a for a in FAST if a not in ("-q",)]
    res = invoke("dream", cat, "-o", out, *cli, *args)
    if args[0] == "--device" and "error" not in res.output:
        pytest.skip("this machine has CUDA")
    assert res.exit_code == 2, res.output
    lines = [l for l in res.output.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0], res.output
    assert "Traceback" not in res.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_missing_input_and_missing_output_folder(cat, tmp_path):
    res = invoke("dream", tmp_path / "nope.jpg", "-o", tmp_path / "o.png", *FAST)
    assert res.exit_code == 2 and "nope.jpg" in res.output
    res = invoke("dream", cat, "-o", tmp_path / "missing" / "o.png", *FAST)
    assert res.exit_code == 2 and "error:" in res.output


def test_presets_lists_at_least_four_dream_presets():
    res = invoke("presets", "dream")
    assert res.exit_code == 0
    rows = [l.split() for l in res.output.splitlines() if l.startswith("dream")]
    assert len(rows) >= 4 and {"classic", "subtle", "swirls", "creatures"} <= {r[1] for r in rows}


def test_preset_flags_override_and_layers_follow_the_model(cat, tmp_path):
    out = tmp_path / "o.png"
    assert invoke("dream", cat, "-o", out, "--preset", "creatures", *FAST).exit_code == 0
    s = read_settings(out)["settings"]
    assert s["steps"] == 2 and s["octaves"] == 2 and s["lr"] == 0.015
    assert s["layers"] == "block10:1,block11:0.5"


def test_save_every_writes_snapshots_that_never_clobber_the_output(cat, tmp_path):
    out = tmp_path / "o.png"
    assert invoke("dream", cat, "-o", out, "--save-every", "2", *FAST).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png", "o.step00002.png", "o.step00004.png"]
    assert read_settings(tmp_path / "o.step00002.png")["engine"] == "dream"
    # An earlier run's snapshots (its output since deleted, or interrupted) are never clobbered.
    out.unlink()
    res = invoke("dream", cat, "-o", out, "--save-every", "2", *FAST)
    assert res.exit_code == 2 and "snapshots" in res.output and not out.exists()


def _cli(*args, env=None, **kw):
    cmd = [sys.executable, "-c", "from dreamstyle.cli import main; main()", *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, **kw)


def test_offline_vgg_is_one_line_naming_the_way_out(cat, tmp_path):
    proc = _cli("dream", cat, "-o", tmp_path / "o.png", "--model", "vgg16")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err.count("\n") == 1 and err.startswith("error:")
    assert "vgg16-397923af.pth" in err and "--weights" in err and "efficientnet-lite0" in err
    assert not (tmp_path / "o.png").exists()


def test_ctrl_c_saves_the_partial_image_and_exits_130(cat, tmp_path):
    out = tmp_path / "o.png"
    proc = _cli("dream", cat, "-o", out, "--model", "efficientnet-lite0", "--size", "256", "--steps", "2000")
    # Wait for the progress bar: the run is under way.
    deadline = time.time() + 120
    buf = ""
    while "dream efficientnet-lite0" not in buf and time.time() < deadline:
        buf += proc.stderr.read(1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    partial = tmp_path / "o.partial.png"
    assert partial.is_file() and not out.exists()
    assert max(Image.open(partial).size) == 256
    assert read_settings(partial)["engine"] == "dream"


def test_version():
    res = invoke("--version")
    assert res.exit_code == 0 and res.output.startswith("dreamstyle ")


STYLE_FAST = ["--model", "efficientnet-lite0", "--size", "96", "--steps", "3", "-q"]


def test_style_writes_the_output_with_its_inputs(cat, tmp_path, lite):
    out = tmp_path / "s.png"
    styles = [SAMPLES / "swirls.jpg", SAMPLES / "stripes.png"]
    # 20 steps (0.4 s): enough to bring the picture clearly nearer the paintings (see STYLE_CLOSER).
    res = invoke("style", cat, *styles, "--style-blend", "0.7,0.3", "-o", out, *STYLE_FAST, "--steps", "20")
    assert res.exit_code == 0, res.output
    # Nearer the blend asked for than the photo was: the painting's textures went in.
    assert style_ratio(lite, out, cat, styles, [0.7, 0.3]) < STYLE_CLOSER
    meta = read_settings(out)
    assert meta["engine"] == "style" and meta["settings"]["style_blend"] == [0.7, 0.3]
    assert meta["inputs"]["content"] == str(cat) and len(meta["inputs"]["styles"]) == 2
    assert max(Image.open(out).size) == 96


def test_style_preset_with_explicit_size(cat, tmp_path):
    out = tmp_path / "s.png"
    assert invoke("style", cat, SAMPLES / "swirls.jpg", "--preset", "preview", "-o", out, *STYLE_FAST).exit_code == 0
    s = read_settings(out)["settings"]
    assert s["scales"] == [256] and s["steps"] == 3 and max(Image.open(out).size) == 96


@pytest.mark.parametrize(
    "args, needle",
    [(["--style-blend", "1,2,3"], "one weight per style"), (["--optimizer", "sgd"], "lbfgs"),
     (["--preserve-color", "lum"], "luminance"), (["--scales", "512,256"], "increasing"),
     (["--init", "nowhere.png"], "nowhere.png"), (["--preset", "classic"], "dream")],
)  # fmt: skip
def test_style_bad_input_is_one_line(cat, tmp_path, args, needle):
    res = invoke("style", cat, SAMPLES / "swirls.jpg", "-o", tmp_path / "s.png", *STYLE_FAST, *args)
    assert res.exit_code == 2, res.output
    assert res.output.count("error:") == 1 and needle in res.output, res.output
    assert list(tmp_path.iterdir()) == []


def test_style_weights_of_another_architecture_are_refused(cat, tmp_path, random_weights):
    w = random_weights("resnet18")
    res = invoke("style", cat, SAMPLES / "swirls.jpg", "-o", tmp_path / "s.png", "--model", "vgg19", "--weights", w, "-q")
    assert res.exit_code == 2 and "do not fit vgg19" in res.output
    assert not (tmp_path / "s.png").exists()
