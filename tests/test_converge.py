"""--steps auto: a scale stops when its picture stops changing, the record says how many steps that
was, and a re-run gives the same bytes; --steps N still runs exactly N."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from dreamstyle import Job, StyleSettings, UserError
from dreamstyle.cli import app
from dreamstyle.optim.stopping import Converged, Plateau
from dreamstyle.core.settings import DreamSettings, VisualizeSettings, build

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
STYLE = [str(SAMPLES / "cat.jpg"), str(SAMPLES / "swirls.jpg"), "--model", "efficientnet-lite0", "--size", "64"]


def test_the_rule_stops_once_the_pixels_stop_moving():
    x = torch.zeros(1, 3, 8, 8)
    rule = Converged(levels=1.0, window=10, min_steps=20)
    moves = [5.0] * 3 + [0.5] * 3  # levels per 10 steps: visibly changing, then not
    stopped = None
    for step in range(1, 61):
        if step % 10 == 0:
            x = x + moves[step // 10 - 1] / 255
        if rule(step, lambda: x):
            stopped = step
            break
    assert stopped == 40  # the first look after the change fell under a level (steps 30-40)
    assert [round(c, 3) for c in rule.changes] == [5.0, 5.0, 0.5]


def test_the_rule_never_stops_a_picture_that_keeps_changing():
    rule = Converged(levels=1.0)
    assert not any(rule(step, lambda: torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(step))) for step in range(1, 201))


def test_a_coarse_scale_stops_at_its_own_ceiling_under_auto(monkeypatch, lite):
    """Under auto a coarse scale ends at AUTO_COARSE_CEILING at the latest (it only lays out what
    the finer scale repaints), the last scale by its rule; --steps N still runs N at every scale."""
    from dreamstyle import stylize

    monkeypatch.setattr(StyleSettings, "AUTO_COARSE_CEILING", 12)  # under min_steps: the rule cannot stop it first
    kw = dict(backbone=lite, model="efficientnet-lite0", scales=[48, 96], size=96, seed=0, quiet=True)
    auto = stylize(SAMPLES / "cat.jpg", SAMPLES / "swirls.jpg", steps="auto", **kw).info["dreamstyle"]["ran"]["steps_taken"]
    assert auto[0] == 12 and 20 <= auto[1] <= StyleSettings.AUTO_CEILING, auto
    from dreamstyle.events import Step

    steps = []
    stylize(SAMPLES / "cat.jpg", SAMPLES / "swirls.jpg", steps=15, on_event=lambda e: isinstance(e, Step) and steps.append(e), **kw)
    assert len(steps) == 30


def test_an_easy_problem_stops_early_and_records_its_steps(tmp_path, monkeypatch):
    """Content alone, started from the content: nothing to paint (only TV smooths a little), so
    it stops within the first looks."""
    out = tmp_path / "o.png"
    res = CliRunner().invoke(app, ["style", *STYLE, "--steps", "auto", "--style-weight", "0", "-o", str(out)])
    assert res.exit_code == 0, res.output
    job = Job.from_png(out)
    assert job.settings.steps == "auto"
    taken = job.ran["steps_taken"]
    assert len(taken) == 1 and 20 <= taken[0] <= 60 < StyleSettings.AUTO_CEILING
    assert "converged at step" in res.stderr


def test_a_hard_problem_runs_to_the_ceiling(tmp_path, monkeypatch):
    monkeypatch.setattr(StyleSettings, "AUTO_CEILING", 30)
    monkeypatch.setattr(StyleSettings, "AUTO_LEVELS", 0.0)  # nothing is ever still enough
    out = tmp_path / "o.png"
    res = CliRunner().invoke(app, ["style", *STYLE, "--steps", "auto", "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert Job.from_png(out).ran["steps_taken"] == [30]


@pytest.mark.cpu("byte-identical reruns")
def test_auto_is_reproduced_to_the_byte_by_from(tmp_path, monkeypatch):
    monkeypatch.setattr(StyleSettings, "AUTO_LEVELS", 4.0)  # converge fast at 64 px, for test time
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    res = CliRunner().invoke(app, ["style", *STYLE, "--steps", "auto", "-q", "-o", str(a)])
    assert res.exit_code == 0, res.output
    taken = Job.from_png(a).ran["steps_taken"]
    assert taken[0] < StyleSettings.AUTO_CEILING
    assert CliRunner().invoke(app, ["style", "--from", str(a), "-q", "-o", str(b)]).exit_code == 0
    assert b.read_bytes() == a.read_bytes()


def test_a_number_of_steps_still_runs_exactly_that_many(tmp_path):
    out = tmp_path / "o.png"
    assert CliRunner().invoke(app, ["style", *STYLE, "--steps", "7", "-q", "-o", str(out)]).exit_code == 0
    job = Job.from_png(out)
    assert job.settings.steps == 7 and "steps_taken" not in job.ran


def test_auto_is_the_default_where_it_applies():
    assert StyleSettings().steps == "auto" and VisualizeSettings().steps == "auto"
    assert DreamSettings().steps == 10  # dream keeps its octave schedule
    assert StyleSettings(steps=40).step_plan() == (40, None)


def test_the_plateau_rule_stops_on_dwindling_gains_not_on_noise():
    """An objective rising like log(steps) under noise, as a class logit under random transforms."""
    import math

    gen = torch.Generator().manual_seed(0)

    def stop_step(curve, rule):
        for step in range(1, 513):
            if rule(step, lambda: None, torch.tensor(-curve(step) + float(torch.randn((), generator=gen)) * 2)):
                return step
        return None

    # log-like: the last 32 steps add under 20 % of the gain so far from about step 100 on.
    assert 96 <= stop_step(lambda t: 8 * math.log(t), Plateau()) <= 160
    # A steady climb is worth more steps: it stops only once a window adds under 20 % of the
    # gain so far (window / share + window = 192 steps).
    assert stop_step(lambda t: 0.2 * t, Plateau()) >= 192
    # Nothing to gain: done at min_steps, not at the ceiling.
    assert stop_step(lambda t: 5.0, Plateau(min_steps=64)) in (64, 96)


def test_visualize_auto_stops_early_and_records_its_steps(tmp_path, monkeypatch):
    monkeypatch.setattr(VisualizeSettings, "AUTO_CEILING", 160)
    out = tmp_path / "v.png"
    res = CliRunner().invoke(app, ["visualize", "class", "goldfish", "--model", "efficientnet-lite0", "--size", "64", "-o", str(out)])
    assert res.exit_code == 0, res.output
    job = Job.from_png(out)
    assert job.settings.steps == "auto"
    taken = job.ran["steps_taken"]
    assert len(taken) == 1 and 64 <= taken[0] < 160
    assert "converged at step" in res.stderr


@pytest.mark.cpu("byte-identical reruns")
def test_visualize_auto_is_reproduced_to_the_byte_by_from(tmp_path, monkeypatch):
    monkeypatch.setattr(VisualizeSettings, "AUTO_CEILING", 96)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    args = ["visualize", "class", "volcano", "--model", "efficientnet-lite0", "--size", "48", "-q"]
    assert CliRunner().invoke(app, [*args, "-o", str(a)]).exit_code == 0
    assert CliRunner().invoke(app, ["visualize", "class", "--from", str(a), "-q", "-o", str(b)]).exit_code == 0
    assert Job.from_png(b).ran["steps_taken"] == Job.from_png(a).ran["steps_taken"]
    assert b.read_bytes() == a.read_bytes()


@pytest.mark.parametrize(
    "cls, steps, needle",
    [(DreamSettings, "auto", "--steps auto applies to style and visualize only"),
     (StyleSettings, "soon", "--steps 'soon' is not a number of steps"),
     (StyleSettings, "-3", "--steps -3 is out of range")],
)  # fmt: skip
def test_what_steps_cannot_be(cls, steps, needle):
    with pytest.raises(UserError) as info:
        build(cls, {"steps": steps})
    assert needle in str(info.value)
