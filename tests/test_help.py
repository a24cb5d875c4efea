"""`--help` and the docs pages tell the truth about the program: every default they state is the
one the settings dataclasses hold, every option with a default states it, flags carry no type
tag, and every example in a command's help runs on a layer its model has. Only parses: nothing
runs, so the file takes a few seconds."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import typer
from test_docs import parse_problem, words
from typer.testing import CliRunner

import dreamstyle.cli
from dreamstyle.settings import DreamSettings, MotionSettings, StyleSettings, VisualizeSettings
from dreamstyle.style import ADAM_LR
from dreamstyle.zoom import ZOOM_FPS, ZOOM_OCTAVES

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = re.compile(r"\[default: ([^\]]+)\]")


def _fields(cls) -> dict:
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


# What each command runs on: its settings' defaults, with the command's own on top (a sheet's
# smaller size, zoom's fewer octaves and its motion, style's Adam step size).
TRUTH = {
    "dream": _fields(DreamSettings),
    "zoom": {**_fields(DreamSettings), "octaves": ZOOM_OCTAVES, **_fields(MotionSettings), "fps": ZOOM_FPS},
    "style": {**_fields(StyleSettings), "lr": ADAM_LR},
    **{f"visualize {k}": _fields(VisualizeSettings) for k in ("maps", "neuron", "class")},
    **{f"visualize {k}": {**_fields(VisualizeSettings), "size": 128} for k in ("filters", "channels")},
}


@pytest.fixture(scope="module")
def cli():
    return typer.main.get_command(dreamstyle.cli.app)


def commands(cli):
    """(name, click command) of every command that runs something."""
    for name in TRUTH:
        cmd = cli
        for part in name.split():
            cmd = cmd.commands[part]
        yield name, cmd


def stated(param) -> str | None:
    """The default an option's help states: its own `[default: …]`, or the one typer adds."""
    m = DEFAULT.search(param.help or "")
    if m:
        return m.group(1)
    if param.default is not None and param.show_default and not param.is_flag:
        return str(param.default)
    return None


def agrees(text: str, truth) -> bool:
    """Whether a stated default names `truth` (a number may carry words after it: "0.02; …")."""
    if isinstance(truth, (int, float)) and not isinstance(truth, bool):
        m = re.match(r"-?[\d.]+(e-?\d+)?", text)
        return m is not None and float(m.group(0)) == float(truth)
    if isinstance(truth, list):
        return text == ",".join(map(str, truth))
    return text == str(truth)


def test_help_states_the_settings_defaults(cli):
    wrong, unstated, checked = [], [], 0
    for name, cmd in commands(cli):
        truth = TRUTH[name]
        for param in cmd.params:
            field = param.name.rstrip("_")
            if field not in truth or isinstance(truth[field], bool):
                continue
            text = stated(param)
            if text is None:
                if truth[field] is not None:
                    unstated.append(f"{name} --{field.replace('_', '-')} (default {truth[field]})")
                continue
            if truth[field] is None:
                continue  # decided at run time; the help says how
            checked += 1
            if not agrees(text, truth[field]):
                wrong.append(f"{name} --{field.replace('_', '-')}: help says {text!r}, the settings {truth[field]!r}")
    assert checked > 60, f"only {checked} defaults compared: the help's [default: …] is no longer found"
    assert not wrong, "help states wrong defaults:\n" + "\n".join(wrong)
    assert not unstated, "options whose help does not state their default:\n" + "\n".join(unstated)


def test_a_wrong_default_is_caught():
    assert agrees("512", 512) and agrees("0.02; 0.005 when tiled", 0.02) and agrees("lbfgs", "lbfgs")
    assert not agrees("300", 200) and not agrees("vgg16", "vgg19") and not agrees("auto", 10)


def test_output_defaults_name_the_command(cli):
    helps = {name: next(p.help for p in cmd.params if p.name == "output") for name, cmd in commands(cli)}
    assert "CONTENT-style.png" in helps["style"] and "-dream" not in helps["style"]
    assert "IMAGE-dream.png" in helps["dream"]
    assert "IMAGE-zoom.mp4" in helps["zoom"]
    assert all("-dream" not in h and "-style" not in h for n, h in helps.items() if n.startswith("visualize"))


def all_helps(cli, cmd=None, prefix=()):
    cmd = cmd or cli
    yield prefix, CliRunner().invoke(dreamstyle.cli.app, [*prefix, "--help"], env={"COLUMNS": "200"}).output
    for sub in getattr(cmd, "commands", {}).values():
        yield from all_helps(cli, sub, (*prefix, sub.name))


def test_flags_show_no_type(cli):
    seen = dict(all_helps(cli))
    assert len(seen) >= 12 and all("--help" in text for text in seen.values())
    noisy = [" ".join(p) or "dreamstyle" for p, text in seen.items() if "<bool>" in text]
    assert not noisy, f"--help shows <bool> after flags in: {noisy}"


def examples(cmd) -> list[str]:
    block = (cmd.epilog or "").partition("```")[2].partition("```")[0]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def _layer_names(model: str) -> list[str]:
    import torch

    from dreamstyle.backbones import LOGITS, MODELS

    if model == "efficientnet-lite0":
        from dreamstyle.efficientnet_lite import EfficientNetLite0

        return [n for n, _ in EfficientNetLite0().stages()] + [LOGITS]
    import torchvision.models as tvm

    from dreamstyle.backbones import _GOOGLENET_STAGES, vgg_stage_names

    assert model in MODELS
    if model == "googlenet":
        return [*_GOOGLENET_STAGES, LOGITS]
    with torch.device("meta"):  # the names only: no weights, no memory
        net = tvm.vgg19() if model.startswith("vgg19") else tvm.vgg16()
    return [*vgg_stage_names(net.features), LOGITS]


LAYER_FLAGS = ("--layers", "--layer", "--content-layers", "--style-layers")


def test_help_examples_run_on_layers_their_model_has(cli):
    bad, layered = [], 0
    for name, cmd in commands(cli):
        for example in examples(cmd):
            problem = parse_problem(cli, example)
            if problem:
                bad.append(f"{example}\n    {problem}")
                continue
            args = words(example)
            if "--from" in args:
                continue  # the model is the one recorded in the file
            model = args[args.index("--model") + 1] if "--model" in args else TRUTH[name]["model"]
            for flag in LAYER_FLAGS:
                if flag in args:
                    layered += 1
                    for spec in args[args.index(flag) + 1].split(","):
                        if spec.split(":")[0] not in _layer_names(model):
                            bad.append(f"{example}\n    {model} has no layer {spec.split(':')[0]!r}")
    assert layered >= 5, f"only {layered} examples name layers: examples are no longer found"
    assert not bad, "help examples that would fail:\n" + "\n".join(bad)


def test_layer_check_can_fail():
    assert "block10" in _layer_names("efficientnet-lite0") and "block10" not in _layer_names("vgg16")
    assert "relu4_3" in _layer_names("vgg16") and "inception4c" in _layer_names("googlenet")


# The docs pages: **`--option …`** — text with "(default 512)", "`vgg16` (default)", "(`content`,
# default)" or "(defaults 1 and 100)".
BULLET = re.compile(r"^\*\*`(-[^`]*)`\*\*")
OPTION = re.compile(r"\*\*`(?:-\w, )?(--[\w-]+)[^`]*`\*\*")
MENTION = re.compile(r"\(defaults? `?([\w.-]+`?(?: and [\w.-]+)*)`?[;:),]|, default ([\w.]+)[;:),]|`([\w.-]+)`,? \(?default\b\)?(?!s)")


def bullets(page: Path):
    """(options named, text) of each option paragraph of a docs page."""
    lines = page.read_text(encoding="utf-8").splitlines() + [""]
    current = None
    for line in lines:
        if BULLET.match(line) or not line.strip():
            if current:
                text = " ".join(current)
                head = text.split(" — ")[0]
                yield OPTION.findall(head), text
            current = [line] if BULLET.match(line) else None
        elif current is not None:
            current.append(line)


def mentions(text: str) -> list[str]:
    found = []
    for m in MENTION.finditer(text):
        if m.group(1):
            found.extend(m.group(1).replace("`", "").split(" and "))
        else:
            found.append(m.group(2) or m.group(3))
    return found


@pytest.mark.parametrize("page, command", [("dream.md", "dream"), ("style.md", "style")])
def test_docs_state_the_settings_defaults(page, command):
    truth = TRUTH[command]
    wrong, checked = [], 0
    for options, text in bullets(ROOT / "docs" / page):
        said = mentions(text)
        fields = [o.lstrip("-").replace("-", "_") for o in options]
        if not said or (len(fields) > 1 and len(said) != len(fields)):
            continue
        for field, value in zip(fields, said):
            if truth.get(field) is None or isinstance(truth[field], bool):
                continue
            checked += 1
            if not agrees(value, truth[field]):
                wrong.append(f"docs/{page}: --{field.replace('_', '-')} default {value!r}, the settings {truth[field]!r}")
    assert checked >= 8, f"only {checked} defaults found in docs/{page}: the pattern no longer finds them"
    assert not wrong, "\n".join(wrong)


def test_docs_mentions_are_read():
    assert mentions("the model (default `vgg19`); see") == ["vgg19"]
    assert mentions("`vgg16` (default), `vgg19`") == ["vgg16"]
    assert mentions("the photo (`content`, default), noise") == ["content"]
    assert mentions("0 to 10 (defaults 1 and 100; not both 0)") == ["1", "100"]
    assert mentions("16 to 16384, default 512; the input") == ["512"]
