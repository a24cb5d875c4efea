"""`--help` and the docs pages tell the truth about the program, in the studio's words.

Each command line here is planned, never run (`execute` is replaced by a recorder): the defaults
`--help` prints are compared with the Job the command builds when the option is left out, and
typing a stated default must build the same Job. Every setting is a flag or says why not, flags
carry no type tag, every example in a command's help runs on a layer its model has, and the
studio's form gives each setting and input the help `--help` gives it. Nothing loads a model."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import typer
from test_docs import parse_problem, words
from typer.testing import CliRunner

import dreamstyle.cli
from dreamstyle.cli import dream as cli_dream
from dreamstyle.cli import explore as cli_explore
from dreamstyle.cli import regions as cli_regions
from dreamstyle.cli import style as cli_style
from dreamstyle.cli import train as cli_train
from dreamstyle.cli import visualize as cli_visualize
from dreamstyle.cli import zoom as cli_zoom
from dreamstyle.core import registry
from dreamstyle.core.settings import parse_int_list
from dreamstyle.engines.style import ADAM_LR
from dreamstyle.media.video import FOLDER_FPS
from dreamstyle.optim.tiling import REFINE_LR
from dreamstyle.studio.schema import schema

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
CAT = str(SAMPLES / "cat.jpg")
DEFAULT = re.compile(r"\s*\[default: ([^\]]+)\]")
# A row of the rendered --help's panels: an option (flags, a short flag, a <type>, its help) or an argument.
OPTION_ROW = re.compile(r"^│ (?P<flag>--[\w-]+)(?:\s+-\w)?\s+(?:<[^>]+>\s+)?(?P<help>.*?)\s*│$")
ARGUMENT_ROW = re.compile(r"^│ (?:\*)?\s+(?P<name>[\w:]+)(?:\.\.\.)?\s+<[^>]+>\s+(?P<help>.*?)\s*│$")

# Every command that runs an engine, with the inputs it needs to be planned. dream and style take
# a clip (nothing opens it before the run), so that their clip flags apply too.
COMMANDS = {
    "dream": ["clip.mp4", "-o", "OUT.mp4"],
    "style": ["clip.mp4", CAT, "-o", "OUT.mp4"],
    "zoom": [CAT, "-o", "OUT.mp4"],
    "visualize filters": ["-o", "OUT.png"],
    "visualize maps": [CAT, "--layer", "block3", "-o", "OUT.png"],
    "visualize channels": ["--layer", "block6", "-o", "OUT.png"],
    "visualize neuron": ["--layer", "block6", "--channel", "3", "-o", "OUT.png"],
    "visualize class": ["goldfish", "-o", "OUT.png"],
    "visualize shift": [CAT, "-o", "OUT.png"],
    "visualize top": ["block6:12", str(SAMPLES), "-o", "OUT.png"],
    "train": [str(SAMPLES / "swirls.jpg"), "-o", "OUT.pt"],
    "regions": [CAT, "-o", "OUT.png"],
    "explore": ["--layers", "block6", "-o", "OUT.png"],
}
# A stated default that is decided at run time (the setting stays None): the numbers it names are
# the engine's own.
AT_RUN_TIME = {("style", "lr"): (ADAM_LR, REFINE_LR), ("style", "fps"): (FOLDER_FPS,), ("dream", "fps"): (FOLDER_FPS,)}
# Typed alone, --blend also means --temporal blend (its help says so): compared with that typed too.
MEANS_MORE = {"--blend": ["--temporal", "blend"]}
# Settings a command offers no flag for, and why: a new setting is a flag, or is added here.
_PRESET = "not among zoom's flags: a --preset's dream section sets it"
_ONE_PASS = "the maps are one forward pass: nothing is optimised"
_SHEET = "a sheet is one picture per channel, made together"
NOT_FLAGS = {
    "zoom": {"guide": _PRESET, "norm": _PRESET, "tile": _PRESET, "save_every": "a zoom's pictures are its frames"},
    **{f"visualize.{k}": {"max_pixels": "it reads no picture", "save_every": "not offered for a visualisation"} for k in ("filters", "channels", "neuron", "class")},
    "visualize.maps": {k: _ONE_PASS for k in ("batch", "deterministic", "diversity", "lr", "param", "precision", "save_every", "seed", "steps", "transforms")},
    "visualize.shift": {k: "one forward pass per position: nothing is optimised" for k in ("deterministic", "lr", "precision", "save_every", "seed", "steps")},
    "visualize.top": {"save_every": "not offered for a visualisation", "batch": "one image of the channel", "diversity": "one image of the channel"},
    "regions": {k: "one forward pass and a clustering: nothing is optimised" for k in ("deterministic", "lr", "save_every", "steps")},
    "style": {"region_weights": "given as --style-weight 100,300: one weight per region"},
    "explore": {"save_every": "its pictures are many small ones, each made in seconds: no snapshots",
                "max_pixels": "top pictures are read as `visualize top` reads them, with its guard"},
    "train": {"steps": "training counts --iterations (and --minutes)", "save_every": "the preview sheet (--preview-minutes) shows the network as it learns"},
}  # fmt: skip
for _k in ("filters", "channels"):
    NOT_FLAGS[f"visualize.{_k}"] |= {"batch": _SHEET, "diversity": _SHEET}


@pytest.fixture(scope="module")
def cli():
    return typer.main.get_command(dreamstyle.cli.app)


def command_of(cli, name: str):
    cmd = cli
    for part in name.split():
        cmd = cmd.commands[part]
    return cmd


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """`planned(command, *extra)`: the Jobs and cluster settings `dreamstyle COMMAND … EXTRA` asks for."""
    out = tmp_path_factory.mktemp("out")
    seen = []
    with pytest.MonkeyPatch.context() as mp:
        for module in (cli_dream, cli_style, cli_zoom, cli_visualize, cli_train, cli_regions, cli_explore):
            mp.setattr(module, "execute", lambda plan, **kw: seen.append((plan.jobs, kw.get("cluster"))))

        def plan(command: str, *extra: str):
            seen.clear()
            args = [a.replace("OUT", str(out / "o")) for a in COMMANDS[command]]
            res = CliRunner().invoke(dreamstyle.cli.app, [*command.split(), *args, *extra])
            assert res.exit_code == 0 and len(seen) == 1, (command, extra, res.output, res.exception)
            return seen[0]

        yield plan


def help_rows(command: str, row=OPTION_ROW) -> dict[str, str]:
    """Each option's (or argument's) help as `dreamstyle COMMAND --help` prints it, wide enough
    for one line each; a line under it in the help's column (where typer puts the defaults it
    shows itself) is part of it."""
    res = CliRunner().invoke(dreamstyle.cli.app, [*command.split(), "--help"], env={"COLUMNS": "1000"})
    assert res.exit_code == 0, res.output
    rows, last, column = {}, None, 0
    for line in res.output.splitlines():
        if m := row.match(line):
            last, column = m.group(1), m.start("help")
            rows[last] = m.group("help")
        elif last and line.startswith("│") and line[1:column].strip() == "" and line[column:].strip(" │"):
            rows[last] += " " + line[column:].strip(" │")
        else:
            last = None
    return rows


def stated(text: str) -> str | None:
    m = DEFAULT.search(text)
    return m.group(1) if m else None


MISSING = object()


def held(jobs, cluster, name: str):
    """What the planned run holds for the option `name`: its settings', motion's, inputs' or
    cluster's value (MISSING: the option sets none of them)."""
    job, key = jobs[0], {"ray_address": "address"}.get(name, name)
    for holder in (job.settings, job.motion, cluster):
        if holder is not None and key in {f.name for f in dataclasses.fields(holder)}:
            return getattr(holder, key)
    return job.inputs.get(name, MISSING)


def options(cli, command: str) -> dict[str, object]:
    """flag -> click parameter (--help, which click adds, is none)."""
    return {opt: p for p in command_of(cli, command).params for opt in p.opts}


def agrees(text: str, truth) -> bool:
    """Whether a stated default names `truth` (a number may carry words after it: "0.02; …")."""
    if isinstance(truth, (int, float)) and not isinstance(truth, bool):
        m = re.match(r"-?[\d.]+(e-?\d+)?", text)
        return m is not None and float(m.group(0)) == float(truth)
    if isinstance(truth, list):
        return text == ",".join(map(str, truth)) or (re.fullmatch(r"[\d,-]+", text) is not None and parse_int_list(text) == truth)
    return text == str(truth)


def test_every_command_is_planned_here():
    assert set(COMMANDS) == {e.command for e in registry.ENGINES.values()}


@pytest.mark.parametrize("command", COMMANDS)
def test_help_states_the_defaults_the_command_runs_with(cli, planned, command):
    jobs, cluster = planned(command)
    params = options(cli, command)
    wrong, unstated, checked = [], [], 0
    for flag, text in help_rows(command).items():
        if flag not in params:
            continue  # --help
        name, said = params[flag].name, stated(text)
        value = held(jobs, cluster, name)
        if value is MISSING or isinstance(value, bool):
            continue  # not a setting (--output, --preset), or a flag
        if said is None:
            if value is not None and name not in jobs[0].inputs:
                unstated.append(f"{command} {flag} (runs with {value!r})")
            continue
        if value is None:  # decided at run time: the help names the engine's numbers
            assert all(agrees(n, v) for n, v in zip(re.findall(r"[\d.]+", said), AT_RUN_TIME.get((command, name), ()))), (command, flag, said)
            continue
        checked += 1
        if not agrees(said, value):
            wrong.append(f"{command} {flag}: help says {said!r}, the command runs with {value!r}")
    assert checked >= 4, f"only {checked} defaults of {command} compared: the help's [default: …] is no longer found"
    assert not wrong, "help states wrong defaults:\n" + "\n".join(wrong)
    assert not unstated, "options whose help does not state their default:\n" + "\n".join(unstated)


def test_defaults_decided_at_run_time_are_stated_with_the_engines_numbers():
    lr = help_rows("style")["--lr"]
    assert stated(lr).startswith(f"{ADAM_LR:g};") and f"{REFINE_LR:g}" in stated(lr)
    assert f"{FOLDER_FPS:g} for a frame folder" in help_rows("dream")["--fps"]


@pytest.mark.parametrize("command", COMMANDS)
def test_typing_a_stated_default_changes_nothing(cli, planned, command):
    params, (jobs, cluster) = options(cli, command), planned(command)
    compared = 0
    for flag, text in help_rows(command).items():
        said = stated(text)
        value = held(jobs, cluster, params[flag].name) if flag in params else MISSING
        if said is None or value in (MISSING, None) or isinstance(value, bool) or not re.fullmatch(r"[\w.,+-]+", said):
            continue  # not a setting, a flag, or words ("the centre") rather than a value
        base = MEANS_MORE.get(flag, [])
        assert planned(command, *base, flag, said) == planned(command, *base), f"{command} {flag} {said} is not what leaving it out runs"
        compared += 1
    assert compared >= 4, f"only {compared} options of {command} typed out"


def test_a_wrong_default_is_caught():
    assert agrees("512", 512) and agrees("0.02; 0.005 when tiled", 0.02) and agrees("lbfgs", "lbfgs") and agrees("0-3", [0, 1, 2, 3])
    assert not agrees("300", 200) and not agrees("vgg16", "vgg19") and not agrees("auto", 10) and not agrees("0-3", [0, 1])


@pytest.mark.parametrize("spec", registry.ENGINES.values(), ids=lambda e: e.name)
def test_every_setting_is_a_flag_or_says_why_not(cli, spec):
    names = {{"ray_address": "address"}.get(p.name, p.name) for p in command_of(cli, spec.command).params}
    missing = {f.name for f in dataclasses.fields(spec.settings)} - names
    why = NOT_FLAGS.get(spec.name, {})
    assert missing == set(why), f"`dreamstyle {spec.command}`: settings without a flag {sorted(missing)}, reasons given for {sorted(why)}"
    assert all(why.values())


@pytest.mark.parametrize("engine", registry.engine_names("studio"))
def test_the_studio_form_gives_each_setting_the_help_of_its_flag(engine):
    spec, form = registry.engine(engine), schema()["engines"][engine]
    rows = help_rows(spec.command)
    compared = 0
    for field in form["settings"]:
        assert field["help"], f"{engine}: the form's {field['name']} has no help"
        row = rows.get("--" + field["name"].replace("_", "-"))
        if row is None:
            continue  # not a flag of this command (test_every_setting_is_a_flag_or_says_why_not)
        # --help renders markdown: `dreamstyle presets` shows without its backticks.
        assert DEFAULT.sub("", row) == field["help"].replace("`", ""), f"{engine} {field['name']}"
        compared += 1
    assert compared >= 3  # maps offers only model, size, device and max_pixels of its settings


@pytest.mark.parametrize("spec", registry.ENGINES.values(), ids=lambda e: e.name)
def test_the_arguments_say_what_the_studio_says_of_the_inputs(spec):
    rows = help_rows(spec.command, ARGUMENT_ROW)
    shared = [i for i in spec.inputs if i.name in rows]
    for i in shared:
        assert rows[i.name].startswith(i.help.removesuffix(".")), f"{spec.command} {i.name.upper()}: {rows[i.name]!r} vs the registry's {i.help!r}"
    if spec.source:  # the picture a command starts from is always an argument
        assert shared


def test_output_defaults_name_the_command():
    helps = {name: help_rows(name)["--output"] for name in COMMANDS}
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

    from dreamstyle.models.backbones import LOGITS, MODELS

    if model == "efficientnet-lite0":
        from dreamstyle.models.efficientnet_lite import EfficientNetLite0

        return [n for n, _ in EfficientNetLite0().stages()] + [LOGITS]
    import torchvision.models as tvm

    from dreamstyle.models.backbones import _GOOGLENET_STAGES, vgg_stage_names

    assert model in MODELS
    if model == "googlenet":
        return [*_GOOGLENET_STAGES, LOGITS]
    with torch.device("meta"):  # the names only: no weights, no memory
        net = tvm.vgg19() if model.startswith("vgg19") else tvm.vgg16()
    return [*vgg_stage_names(net.features), LOGITS]


LAYER_FLAGS = ("--layers", "--layer", "--content-layers", "--style-layers")


def test_help_examples_run_on_layers_their_model_has(cli, planned):
    bad, layered = [], 0
    for name in COMMANDS:
        default_model = planned(name)[0][0].settings.model  # what the command runs without --model
        for example in examples(command_of(cli, name)):
            problem = parse_problem(cli, example)
            if problem:
                bad.append(f"{example}\n    {problem}")
                continue
            args = words(example)
            if "--from" in args:
                continue  # the model is the one recorded in the file
            model = args[args.index("--model") + 1] if "--model" in args else default_model
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


def ran_with(planned, command: str) -> dict:
    """Every setting as `dreamstyle COMMAND` runs it when no flag is given (a clip's motion too),
    the run-time defaults by the engine's numbers."""
    job = planned(command)[0][0]
    truth = {**(dataclasses.asdict(job.motion) if job.motion else {}), **dataclasses.asdict(job.settings)}
    truth.update({name: numbers[0] for (cmd, name), numbers in AT_RUN_TIME.items() if cmd == command and truth.get(name) is None})
    return truth


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
def test_docs_state_the_defaults_the_command_runs_with(planned, page, command):
    truth = ran_with(planned, command)
    wrong, checked = [], 0
    for options_named, text in bullets(ROOT / "docs" / page):
        said = mentions(text)
        fields = [o.lstrip("-").replace("-", "_") for o in options_named]
        if not said or (len(fields) > 1 and len(said) != len(fields)):
            continue
        for field, value in zip(fields, said):
            if truth.get(field) is None or isinstance(truth[field], bool):
                continue
            checked += 1
            if not agrees(value, truth[field]):
                wrong.append(f"docs/{page}: --{field.replace('_', '-')} default {value!r}, the command runs with {truth[field]!r}")
    assert checked >= 8, f"only {checked} defaults found in docs/{page}: the pattern no longer finds them"
    assert not wrong, "\n".join(wrong)


def test_docs_mentions_are_read():
    assert mentions("the model (default `vgg19`); see") == ["vgg19"]
    assert mentions("`vgg16` (default), `vgg19`") == ["vgg16"]
    assert mentions("the photo (`content`, default), noise") == ["content"]
    assert mentions("0 to 10 (defaults 1 and 100; not both 0)") == ["1", "100"]
    assert mentions("16 to 16384, default 512; the input") == ["512"]


# `dream --layers` and `visualize … --layer` name one thing: each command takes the other spelling
# too (cli/aliases.py), hidden from its --help, building the same Job.
LAYER_SPELLINGS = [("dream", "--layers", "--layer"), ("zoom", "--layers", "--layer"),
                   ("visualize filters", "--layer", "--layers"), ("visualize shift", "--layers", "--layer")]  # fmt: skip


@pytest.mark.parametrize("command, documented, alias", LAYER_SPELLINGS)
def test_layer_and_layers_are_one_option(planned, command, documented, alias):
    assert planned(command, alias, "block3") == planned(command, documented, "block3")
    assert planned(command, alias, "block3") != planned(command, documented, "block4")
    rows = help_rows(command)
    assert documented in rows and alias not in rows


def test_both_spellings_given_differently_are_refused():
    res = CliRunner().invoke(dreamstyle.cli.app, ["visualize", "channels", "--layer", "block6", "--layers", "block3", "-o", "x.png"])
    assert res.exit_code == 2 and res.output == "error: --layer block6 and --layers block3 are one option, given twice — give --layer once\n", res.output
