"""The engine registry is the one list of engines: every surface (Job JSON, presets, the studio's
form, the CLI, the cluster) knows every registered engine, or the registration says why not."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from dreamstyle.cli.app import app
from dreamstyle.core import registry
from dreamstyle.core.job import Job
from dreamstyle.core.presets import merge
from dreamstyle.errors import UserError
from dreamstyle.studio.schema import schema

ROOT = Path(__file__).resolve().parent.parent
ENGINES = list(registry.ENGINES.values())
SAMPLE = {"image": "photo.jpg", "str": "block6", "int": 3}


def sample_job(spec: registry.Engine) -> Job:
    """A job of this engine with every input filled in as its kind says."""
    inputs = {i.name: [SAMPLE[i.kind]] * 2 if i.many else SAMPLE[i.kind] for i in spec.inputs}
    return Job(spec.name, inputs, spec.settings(model="efficientnet-lite0"), output="out.png")


def cli_commands() -> dict[str, object]:
    """Every command of the `dreamstyle` CLI by its words ("dream", "visualize maps")."""
    found: dict[str, object] = {}

    def walk(cmd, prefix: str) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{prefix} {name}".strip())
        if not hasattr(cmd, "commands"):
            found[prefix] = cmd

    walk(typer.main.get_command(app), "")
    return found


@pytest.mark.parametrize("spec", ENGINES, ids=lambda e: e.name)
def test_a_job_of_every_engine_round_trips_through_json(spec):
    job = sample_job(spec)
    back = Job.from_json(job.to_json())
    assert back == job and type(back.settings) is spec.settings


@pytest.mark.parametrize("spec", ENGINES, ids=lambda e: e.name)
def test_every_engine_has_a_cli_command_that_offers_the_cluster_as_registered(spec):
    cmd = cli_commands().get(spec.command)
    assert cmd is not None, f"no `dreamstyle {spec.command}` command"
    options = {p.name for p in cmd.params}
    if spec.cli is None:  # a command of its own: it offers --backend exactly when the engine runs on a cluster
        assert ("backend" in options) == spec.cluster, f"`{spec.command}` and the registry disagree on --backend"
    if not spec.cluster:
        assert spec.why_not.get("cluster"), f"{spec.name}: say why the cluster does not offer it"


@pytest.mark.parametrize("spec", ENGINES, ids=lambda e: e.name)
def test_every_engine_is_in_the_studio_form_or_says_why_not(spec):
    engines = schema()["engines"]
    if not spec.studio:
        assert spec.name not in engines and spec.why_not.get("studio")
        return
    form = engines[spec.name]
    assert [i["name"] for i in form["inputs"]] == [i.name for i in spec.inputs]
    assert {f["name"] for f in form["settings"]} <= {f.name for f in dataclasses.fields(spec.settings)}


@pytest.mark.parametrize("spec", ENGINES, ids=lambda e: e.name)
def test_every_engine_reads_a_preset_section_or_says_why_not(spec):
    if spec.preset is None:
        assert spec.why_not.get("presets")
        return
    assert registry.preset_sections()[spec.preset] is spec.settings
    values = merge(spec.preset, None, {}, spec.settings().model)
    spec.settings(**values)  # the section's defaults build the engine's settings


def test_every_check_and_call_names_a_function_that_exists():
    for spec in ENGINES:
        for ref in filter(None, (spec.call, spec.check, spec.frames)):
            assert callable(registry.referenced(ref)), f"{spec.name}: {ref}"


def test_an_unknown_engine_is_one_line_with_a_suggestion():
    with pytest.raises(UserError, match="unknown engine 'dreem'") as err:
        Job("dreem", {}, registry.ENGINES["dream"].settings())
    assert "dream" in err.value.hint


def test_the_checks_run_before_any_model_and_name_the_missing_input():
    for spec in ENGINES:
        if spec.check is None:
            continue
        with pytest.raises(UserError, match="missing"):
            registry.check(Job(spec.name, {}, spec.settings(model="efficientnet-lite0")))


def test_a_new_engine_is_one_registration(monkeypatch, tmp_path):
    """A registered engine runs through `run` and writes its picture with its Job embedded,
    without any other module knowing its name."""
    from PIL import Image

    import dreamstyle
    from dreamstyle.core.settings import VisualizeSettings

    def make(job, ctx):
        return [Image.new("RGB", (16, 16), (200, 40, 40))]

    def check(job):
        registry.need(job, "layer", "--layer", "name one")

    spec = registry.Engine("visualize.test", VisualizeSettings, (registry.Input("layer", "str"),), make, check, studio=False,
                           why_not={"studio": "a test", "cluster": "a test"})  # fmt: skip
    monkeypatch.setitem(registry.ENGINES, spec.name, spec)
    with pytest.raises(UserError, match="missing --layer"):
        dreamstyle.run(Job(spec.name, {}, VisualizeSettings(model="efficientnet-lite0", quiet=True)))
    job = Job(spec.name, {"layer": "block1"}, VisualizeSettings(model="efficientnet-lite0", quiet=True), output=str(tmp_path / "t.png"))
    result = dreamstyle.run(job)
    assert Job.from_png(result.output).engine == "visualize.test"


def test_engine_names_are_written_as_keys_in_one_module():
    """Only the registry spells out the engines' names as a table; other modules ask it."""
    names = [f'"{n}"' for n in registry.ENGINES if "." in n]  # the dotted names are unmistakable
    holders = set()
    for path in (ROOT / "dreamstyle").rglob("*.py"):
        text = path.read_text()
        if sum(n in text for n in names) >= 3:
            holders.add(path.relative_to(ROOT).as_posix())
    assert holders == {"dreamstyle/core/registry.py"}


def test_reading_the_registry_imports_no_torch():
    code = "import sys, dreamstyle.core.registry as r; r.engine_names(); assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_architecture_page_shows_every_registration():
    """docs/architecture.md's table names each engine with its call and the surfaces that offer it."""
    rows = {line.split("|")[1].strip().strip("`"): line for line in (ROOT / "docs" / "architecture.md").read_text().splitlines()
            if line.startswith("| `") and line.count("|") >= 10}  # fmt: skip
    assert set(rows) == set(registry.ENGINES)
    for spec in ENGINES:
        cells = [c.strip() for c in rows[spec.name].split("|")[1:-1]]
        assert cells[1] == f"`{spec.settings.__name__}`"
        assert cells[5:8] == ["yes" if spec.studio else "no", "yes" if spec.cluster else "no", spec.preset or "—"], spec.name
        if not spec.frames:
            assert cells[8] == f"`{spec.call.removeprefix('dreamstyle.')}`"
