"""Presets as a user meets them: built-ins, their own in ~/.config, overrides, malformed files."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dreamstyle.core import presets
from dreamstyle.cli import app
from dreamstyle.errors import UserError
from dreamstyle.media.images import read_settings

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
FAST = ["--model", "efficientnet-lite0", "--size", "64", "--octaves", "1", "--steps", "1", "-q"]
MINE = 'engine = "dream"\ndescription = "My own look"\n\n[settings]\nlr = 0.0123\njitter = 7\n'


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def user_dir(tmp_path, monkeypatch) -> Path:
    """The user's preset folder under a private XDG_CONFIG_HOME, created empty."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = tmp_path / "config" / "dreamstyle" / "presets"
    folder.mkdir(parents=True)
    return folder


def rows(output: str) -> dict[str, str]:
    """`dreamstyle presets` lines keyed by "engine name"."""
    return {" ".join(line.split()[:2]): line for line in output.splitlines() if line.strip()}


def test_builtins_are_the_repository_presets_folder_and_say_so():
    res = invoke("presets")
    assert res.exit_code == 0, res.output
    listed = rows(res.output)
    assert {key.split()[1] for key in listed} == {p.stem for p in (ROOT / "presets").glob("*.toml")}
    assert all(line.endswith("  [built-in]") for line in listed.values()), res.output
    assert "dream classic" in listed and "style gatys" in listed


def test_a_user_preset_is_listed_with_its_path(user_dir):
    (user_dir / "mine.toml").write_text(MINE)
    res = invoke("presets", "dream")
    assert res.exit_code == 0, res.output
    assert rows(res.output)["dream mine"].endswith(f"My own look  [{user_dir / 'mine.toml'}]")
    assert rows(res.output)["dream classic"].endswith("[built-in]")


def test_a_user_preset_overrides_the_builtin_of_its_name_and_presets_says_so(user_dir, cat, tmp_path):
    mine = user_dir / "classic.toml"
    mine.write_text(MINE + '\n[settings.layers]\nefficientnet-lite0 = "block5"\n')
    res = invoke("presets", "dream")
    assert res.exit_code == 0, res.output
    assert rows(res.output)["dream classic"].endswith(f"[{mine}, overrides the built-in]")
    assert [line.split()[1] for line in res.output.splitlines()].count("classic") == 1

    out = tmp_path / "o.png"
    res = invoke("dream", cat, "-o", out, "--preset", "classic", *FAST)
    assert res.exit_code == 0, res.output
    s = read_settings(out)["settings"]
    # The user's values, not the built-in classic's (lr 0.01, jitter 32, block9:1,block10:0.5).
    assert (s["lr"], s["jitter"], s["layers"]) == (0.0123, 7, "block5")
    assert s["octaves"] == 1 and s["steps"] == 1  # flags still win over the preset


def test_a_preset_file_by_path_still_works(tmp_path, cat):
    mine = tmp_path / "looks" / "mine.toml"
    mine.parent.mkdir()
    mine.write_text(MINE)
    out = tmp_path / "o.png"
    res = invoke("dream", cat, "-o", out, "--preset", mine, *FAST)
    assert res.exit_code == 0, res.output
    assert read_settings(out)["settings"]["lr"] == 0.0123


def test_a_user_preset_of_another_engine_does_not_hide_the_builtin(user_dir):
    (user_dir / "classic.toml").write_text('engine = "style"\ndescription = "Painted"\n[settings]\nsteps = 5\n')
    assert presets.load_preset("classic", "dream").builtin
    style = presets.load_preset("classic", "style")
    assert style.settings == {"steps": 5} and not style.overrides
    listed = rows(invoke("presets").output)
    assert listed["dream classic"].endswith("[built-in]") and listed["style classic"].endswith(f"[{user_dir / 'classic.toml'}]")


def test_unknown_names_are_matched_against_user_presets_too(user_dir):
    (user_dir / "mine.toml").write_text(MINE)
    with pytest.raises(UserError) as exc:
        presets.load_preset("mien", "dream")
    assert "'mine'" in exc.value.hint


MALFORMED = [
    ('engine = "dream"\ndescription = "x"\n[settings]\nsteps = \n', "line 4"),
    ('description = "x"\n', "'engine'"),
    ('engine = "dream"\n', "'description'"),
    ('engine = "draem"\ndescription = "x"\n', "did you mean 'dream'"),
    ('engine = "dream"\ndescription = "x"\n[settings]\nstep = 3\n', "did you mean 'steps'"),
    ('engine = "style"\ndescription = "x"\n[settings]\noctaves = 3\n', "not a style setting"),
    ('engine = "dream"\ndescription = "x"\n[settings]\noctaves = "ten"\n', "octaves = 'ten' should be a whole number"),
    ('engine = "dream"\ndescription = "x"\n[settings]\nsteps = true\n', "should be a whole number"),
    ('engine = "dream"\ndescription = "x"\nsteps = 3\n', "[settings]"),
    ('engine = "dream"\ndescription = "x"\nsettings = 3\n', "must be a table"),
    ('engine = "dream"\ndescription = "x"\n[settings]\noctaves = 0\n', "--octaves 0 is out of range"),
    ('engine = "dream"\ndescription = "x"\n[settings.layers]\nvgg-16 = "relu4_3"\n', "did you mean 'vgg16'"),
    ('engine = "dream"\ndescription = "x"\n[settings]\nmodel = "vgg61"\n', "'vgg61'"),
    (b'engine = "dream"\ndescription = "caf\xe9"\n', "UTF-8"),
]  # fmt: skip
IDS = ["toml", "no-engine", "no-description", "engine", "setting", "other-engine", "type", "bool", "top-level",
       "settings-type", "range", "layers-model", "model", "encoding"]  # fmt: skip


def refused(res, path: Path, needle: str) -> str:
    """Exactly one `error: <file>: …` line, exit 2, no traceback; that line."""
    assert res.exit_code == 2, res.output
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {path}: "), res.output
    assert needle in errors[0] and " — " in errors[0], res.output
    assert "Traceback" not in res.output
    return errors[0]


@pytest.mark.parametrize("text, needle", MALFORMED, ids=IDS)
def test_a_malformed_user_file_stops_presets_naming_it(user_dir, text, needle):
    bad = user_dir / "bad.toml"
    bad.write_bytes(text if isinstance(text, bytes) else text.encode())
    refused(invoke("presets"), bad, needle)


@pytest.mark.parametrize("by_path", [False, True], ids=["by-name", "by-path"])
def test_a_malformed_preset_stops_dream_naming_it(user_dir, cat, tmp_path, by_path):
    bad = user_dir / "bad.toml"
    bad.write_text(MALFORMED[4][0])
    res = invoke("dream", cat, "-o", tmp_path / "o.png", "--preset", bad if by_path else "bad", *FAST)
    refused(res, bad, "did you mean 'steps'")
    assert not (tmp_path / "o.png").exists()


def test_an_unrelated_broken_user_file_does_not_stop_a_named_preset(user_dir):
    (user_dir / "bad.toml").write_text("engine = \n")
    assert presets.load_preset("classic", "dream").builtin
    assert presets.merge("dream", "classic", {}, "vgg16")["octaves"] == 4


def test_an_engine_without_presets_is_one_line():
    res = invoke("presets", "drem")
    assert res.exit_code == 2 and res.output.count("error:") == 1 and "'dream'" in res.output, res.output


def test_zoom_lists_the_dream_presets_it_takes_and_says_whose():
    res = invoke("presets", "zoom")
    assert res.exit_code == 0, res.output
    first, *rows = res.output.splitlines()
    assert first.startswith("zoom takes dream's presets")
    assert rows == invoke("presets", "dream").output.splitlines() and any(" swirls " in r for r in rows)


def test_a_relative_xdg_config_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    assert presets.user_dir() == tmp_path / ".config" / "dreamstyle" / "presets"


def test_the_presets_module_imports_only_the_standard_library():
    """`dreamstyle presets` and the API's preset= must not need torch just to import the module."""
    tree = ast.parse((ROOT / "dreamstyle" / "core" / "presets.py").read_text())
    top = {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    top |= {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.level == 0}
    local = {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.level}
    assert top <= set(sys.stdlib_module_names) | {"__future__"}, top
    assert local == {"errors"}
