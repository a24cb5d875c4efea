"""A reader follows README.md, and each docs page, top to bottom in one fresh folder, typing every
command as shown. Two things can trip them that no single command's test sees:

- two commands on one page write the same file, so the second answers "already exists" (or, from
  Python, silently replaces the first one's picture), unless it passes `--force`;
- a command reads a file that a command further down the page writes.

Both are checked statically on every page (cheap: nothing runs). Then the README's commands and its
Python example are run in order in a fresh folder holding a copy of `samples/`, as a reader would,
with one cheap override so the walk takes under a minute of CPU time: every command that optimises
a picture gets `--size 64 --steps 2` (and `--octaves 1`, `--frames 3` where it takes them), replacing
the README's own values, and the Python example `size=64, steps=2, octaves=1`. No environment variable or hook caps
sizes or steps, so the override is made here, on the words the reader would type; what the walk
checks (order, names, inputs that exist, exit status 0, no traceback, the files each command
promises) does not depend on them. How long the README's own settings take is the README's
business (its neighbouring examples take seconds, not minutes), not this test's.

The docs pages' commands are not run (most start from your own photo.jpg, clip.mp4 or photos/):
each page is checked statically as above, the imports of every Python example are run, and every
command on a network whose weights are downloaded runs offline to its one-line refusal.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from test_docs import DOCS, README, ROOT, commands_in, rel, split_fences, words

PAGES = [README, *DOCS]
OUTPUT_FLAGS = ("-o", "--output")
FORCE_FLAGS = ("--force", "-f")
# A Python example's writes: img.save("x.png"), Job(..., output="x.png"). f-strings in a loop are
# left out (their names differ by design).
PY_WRITES = re.compile(r"""(?:\.save\(\s*|\boutput\s*=\s*)(["'])([^"'{}]+)\1""")


@dataclass
class Step:
    line: int
    text: str
    python: bool = False
    writes: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    force: bool = False


def norm(path: str) -> str:
    return os.path.normpath(path.rstrip("/")) if path else path


def redirect_targets(command: str) -> list[str]:
    """`… > job.json` and `… >> log`: the shell writes these."""
    return re.findall(r"(?<![0-9&])>>?\s*([^\s;&|#]+)", command.split(" #", 1)[0])


def command_step(line: int, command: str) -> Step:
    args = words(command)[1:]
    writes, reads = [], []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in OUTPUT_FLAGS and i + 1 < len(args):
            writes.append(norm(args[i + 1]))
            i += 2
            continue
        if arg.startswith("--output="):
            writes.append(norm(arg.split("=", 1)[1]))
        elif not arg.startswith("-"):
            reads.append(norm(arg))
        i += 1
    writes += [norm(t) for t in redirect_targets(command)]
    return Step(line, command, writes=tuple(writes), reads=tuple(reads), force=any(a in FORCE_FLAGS for a in args))


def steps(text: str) -> list[Step]:
    """A page's `dreamstyle …` commands and Python examples, in reading order."""
    found = [command_step(number, command) for number, command in commands_in(text)]
    for number, info, lines in split_fences(text)[1]:
        if info.split()[:1] == ["python"]:
            block = "\n".join(line for _, line in lines)
            found.append(Step(number + 1, block, python=True, writes=tuple(norm(m[1]) for m in PY_WRITES.findall(block))))
    return sorted(found, key=lambda s: s.line)


def collisions(page_steps: list[Step]) -> list[str]:
    """Each write of a file that an earlier step on the page wrote, unless it passes --force."""
    written: dict[str, int] = {}
    problems = []
    for step in page_steps:
        for out in step.writes:
            if out in written and not step.force:
                problems.append(f"line {step.line} writes {out}, which line {written[out]} wrote: rename it or pass --force")
            written.setdefault(out, step.line)
    return problems


def read_before_written(page_steps: list[Step]) -> list[str]:
    """Each file a command reads before the command further down the page that writes it."""
    problems = []
    for k, step in enumerate(page_steps):
        earlier = {out for s in page_steps[:k] for out in s.writes}
        later = {out: s.line for s in page_steps[k + 1 :] for out in s.writes}
        for name in step.reads:
            if name in later and name not in earlier and not (ROOT / name).exists():
                problems.append(f"line {step.line} reads {name}, which line {later[name]} writes further down")
    return problems


# Pages another task is rewriting (issue 30, items 1 and 4), whose collisions are theirs to rename.
# strict: once a page is fixed its entry fails here until it is removed.
NOT_YET: dict[str, str] = {}  # page: why it still collides (strict xfail: fixing it says so)


@pytest.mark.parametrize(
    "page", [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=NOT_YET[rel(p)])) if rel(p) in NOT_YET else p for p in PAGES], ids=rel
)
def test_no_two_commands_on_a_page_write_the_same_file(page):
    problems = collisions(steps(page.read_text(encoding="utf-8")))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_no_command_reads_a_file_a_later_command_writes(page):
    problems = read_before_written(steps(page.read_text(encoding="utf-8")))
    assert not problems, "\n".join(problems)


def test_the_readme_walk_is_found():
    found = steps(README.read_text(encoding="utf-8"))
    assert sum(s.python for s in found) == 1 and sum(not s.python for s in found) >= 15
    assert all(s.writes for s in found if s.text.startswith(("dreamstyle dream", "dreamstyle style", "dreamstyle visualize")))


PAGE_2026 = """
```sh
dreamstyle dream samples/cat.jpg --model efficientnet-lite0 --layers block6 -o block6.png
dreamstyle info block6.png --json > job.json
```
Later:
```sh
dreamstyle visualize channels --model efficientnet-lite0 --layer block6 --channels 0-7 -o block6.png
dreamstyle style --from block6.png --force -o block6.png
dreamstyle regions map.png -o b.png
dreamstyle info a.png > job.json
dreamstyle dream x.jpg -o map.png
```
```python
import dreamstyle
dreamstyle.dream("samples/cat.jpg").save("b.png")
for name in ["a", "b"]:
    dreamstyle.dream(name).save(f"{name}.png")
```
"""


def test_the_checks_can_fail():
    """The README of before this test: its dream and its channels sheet both wrote block6.png."""
    found = steps(PAGE_2026)
    assert [s.python for s in found] == [False] * 7 + [True]
    assert found[0].writes == ("block6.png",) and found[1].writes == ("job.json",) and found[-1].writes == ("b.png",)
    assert collisions(found) == [
        "line 8 writes block6.png, which line 3 wrote: rename it or pass --force",
        "line 11 writes job.json, which line 4 wrote: rename it or pass --force",
        "line 15 writes b.png, which line 10 wrote: rename it or pass --force",
    ]
    assert read_before_written(found) == ["line 10 reads map.png, which line 12 writes further down"]


# The README, run ------------------------------------------------------------------------------------

# Commands a walk does not run, and why. Everything else in the README runs. (`make demo`, `make test`
# and `make studio` are not `dreamstyle` lines: the walk never sees them.)
NOT_RUN = {
    "studio": "a web server that runs until stopped (its own tests start it: tests/test_studio*.py)",
}
CHEAP = {"size": "64", "steps": "2", "octaves": "1", "frames": "3"}


def cheap(args: list[str], params: set[str]) -> list[str]:
    """`args` with every CHEAP setting the command takes set to its cheap value, replacing the
    README's own; `layers --size` (the input size its table is for) is left alone."""
    if "steps" not in params:
        return args
    out = []
    i = 0
    while i < len(args):
        name = args[i][2:] if args[i].startswith("--") else None
        if name in CHEAP and i + 1 < len(args):
            i += 2
            continue
        out.append(args[i])
        i += 1
    for name, value in CHEAP.items():
        if name in params:
            out += [f"--{name}", value]
    return out


def click_command(cli, args: list[str]):
    cmd = cli
    while hasattr(cmd, "commands") and args and args[0] in cmd.commands:
        cmd, args = cmd.commands[args[0]], args[1:]
    return cmd


def test_cheap_overrides_only_what_it_should():
    assert CHEAP == {"size": "64", "steps": "2", "octaves": "1", "frames": "3"}
    dream = cheap(["dream", "a.jpg", "--size", "320", "--seed", "0", "--steps", "30"], {"size", "steps", "seed", "octaves"})
    assert dream == ["dream", "a.jpg", "--seed", "0", "--size", "64", "--steps", "2", "--octaves", "1"]
    zoom = cheap(["zoom", "a.jpg", "--frames", "16", "-o", "z.gif"], {"size", "steps", "frames"})
    assert zoom == ["zoom", "a.jpg", "-o", "z.gif", "--size", "64", "--steps", "2", "--frames", "3"]
    assert cheap(["layers", "vgg19", "--size", "320"], {"size"}) == ["layers", "vgg19", "--size", "320"]


@pytest.fixture
def fresh_folder(tmp_path, monkeypatch):
    """A clone's folder as a reader has it after `git clone`: samples/ and nothing they made."""
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_runs_in_order_in_a_fresh_folder(fresh_folder):
    import typer

    import dreamstyle.cli
    from dreamstyle.media.images import read_settings
    from helpers import invoke

    cli = typer.main.get_command(dreamstyle.cli.app)
    ran, skipped = [], []
    for step in steps(README.read_text(encoding="utf-8")):
        where = f"README.md:{step.line}"
        if step.python:
            code = re.sub(r"\bsize=\d+", f"size={CHEAP['size']}, steps={CHEAP['steps']}, octaves={CHEAP['octaves']}", step.text)
            exec(compile(code, where, "exec"), {"__name__": "__readme__"})
        else:
            args = words(step.text)[1:]
            if args[0] in NOT_RUN:
                skipped.append(f"{where}: {NOT_RUN[args[0]]}")
                continue
            args = cheap(args, {p.name for p in click_command(cli, args).params})
            res = invoke(*args)
            assert res.exit_code == 0, f"{where}: dreamstyle {' '.join(args)}\n{res.output}"
            assert "Traceback" not in res.output, f"{where}: {res.output}"
            for target in redirect_targets(step.text):
                (fresh_folder / target).write_text(res.stdout)  # what the shell does with `> FILE`
        for out in step.writes:
            assert (fresh_folder / out).exists(), f"{where} promised {out}, but there is none"
        ran.append(where)
    assert len(ran) >= 15 and len(skipped) == 1, (ran, skipped)
    # Each picture is the one its own command made: the dream's block6 layer is not the channel
    # sheet of block6 (once both block6.png), the Python dream did not replace out.png.
    engines = {name: read_settings(fresh_folder / name)["engine"] for name in ("block6.png", "channels.png", "out.png", "keep.png")}
    assert engines == {"block6.png": "dream", "channels.png": "visualize.channels", "out.png": "dream", "keep.png": "style"}
    assert read_settings(fresh_folder / "block6.png")["settings"]["layers"] == "block6"
    assert len(list((fresh_folder / "dreams").iterdir())) == len(list((ROOT / "samples").glob("*.[jp][pn]g")))


# Python examples and networks that need weights ---------------------------------------------------

IMPORT_LINE = re.compile(r"^(?:import [\w., ]+|from [\w.]+ import [\w, ]+)$")


def python_imports(page: Path) -> list[tuple[int, str]]:
    """(line, statement) of every import in the page's Python examples."""
    found = []
    for number, info, lines in split_fences(page.read_text(encoding="utf-8"))[1]:
        if info.split()[:1] == ["python"]:
            found += [(n, line.strip()) for n, line in lines if IMPORT_LINE.match(line.strip())]
    return found


IMPORTS_NOT_YET: dict[str, str] = {}  # page: why an import still fails


@pytest.mark.parametrize(
    "page",
    [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=IMPORTS_NOT_YET[rel(p)])) if rel(p) in IMPORTS_NOT_YET else p for p in PAGES],
    ids=rel,
)
def test_every_import_in_a_python_example_works(page):
    """A module that moved (dreamstyle.images is dreamstyle.media.images now) breaks an example on
    its first lines, before anything runs: the imports alone are checked here, for every page."""
    problems = []
    for number, statement in python_imports(page):
        try:
            exec(statement, {})
        except ImportError as exc:
            problems.append(f"{rel(page)}:{number}: {statement}\n    {exc}")
    assert not problems, "\n".join(problems)


def test_the_import_check_can_fail():
    assert python_imports(ROOT / "docs" / "teaching.md"), "no imports found: the pattern is broken"
    with pytest.raises(ImportError):
        exec("from dreamstyle.images import load_image", {})


def weight_commands() -> list[tuple[str, str]]:
    """Docs commands on a network whose weights are downloaded (or given with --weights), whose
    other inputs are in the clone: what a reader without a network runs into."""
    found = []
    for page in PAGES:
        for number, command in commands_in(page.read_text(encoding="utf-8")):
            args = words(command)
            model = args[args.index("--model") + 1] if "--model" in args else None
            inputs = [a for a in args[2:] if "/" in a and not a.startswith(("-", "~"))]
            if model and model != "efficientnet-lite0" and args[1] in ("dream", "style") and all((ROOT / a).exists() for a in inputs):
                found.append((f"{rel(page)}:{number}", command))
    return found


def test_weight_commands_are_found():
    assert len(weight_commands()) >= 4


@pytest.mark.parametrize("where, command", weight_commands(), ids=[w for w, _ in weight_commands()])
def test_offline_a_command_that_needs_weights_says_so_in_one_line(where, command, fresh_folder):
    """Offline, with no weights cached, every such command ends in the one documented line (the
    weights file to fetch, --weights, or the bundled efficientnet-lite0), exit 2, no traceback."""
    from helpers import invoke

    args = words(command)[1:]
    res = invoke(*args)
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert res.exit_code == 2, f"{where}: {res.output}"
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in res.output, f"{where}: {res.output}"
    assert "weights" in lines[-1] and ("--weights" in lines[-1] or "--model efficientnet-lite0" in lines[-1]), lines[-1]
    assert sorted(p.name for p in fresh_folder.iterdir()) == ["samples"], "a refused command wrote a file"
