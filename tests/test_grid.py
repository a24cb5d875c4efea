"""X/Y grids: the range syntax, `--grid`/`--grid-y` on the command line (cells, the labelled grid
and its Job listing every cell's, resumable, `--from` re-makes it), `--sweep` as before, and the
studio's POST /api/grids, from the API and from the page."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dreamstyle.cli import app
from dreamstyle.core.grid import MAX_CELLS, parse_axis
from dreamstyle.core.settings import DreamSettings, StyleSettings
from dreamstyle.engines.grid_sheet import cell_jobs
from dreamstyle.errors import UserError
from dreamstyle.media.images import read_settings

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CAT, SWIRLS = SAMPLES / "cat.jpg", SAMPLES / "swirls.jpg"
QUICK = ["--model", "efficientnet-lite0", "--size", "48", "--steps", "2", "--scales", "48", "-q"]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("spec, values", [
    ("style_weight=10,100,1000", (10.0, 100.0, 1000.0)),
    ("seed=1-5", (1, 2, 3, 4, 5)),
    ("seed=3-1", (3, 2, 1)),
    ("lr=0.5-2(0.5)", (0.5, 1.0, 1.5, 2.0)),
    ("style_weight=1-100[5]", (1.0, 25.75, 50.5, 75.25, 100.0)),
    ("size=64-128[3]", (64, 96, 128)),
    ("seed=0-1,7", (0, 1, 7)),
    ("style_layers=relu4_3,relu5_1|relu5_1", ("relu4_3,relu5_1", "relu5_1")),
    ('style_layers="relu4_3,relu5_1",relu5_1', ("relu4_3,relu5_1", "relu5_1")),
    ("preserve_color=none,luminance", ("none", "luminance")),
    ("steps=auto,10", ("auto", 10)),
    ("seed=none,0", (None, 0)),
    ("style-weight=1,2", (1.0, 2.0)),
])  # fmt: skip
def test_range_syntax(spec, values):
    assert parse_axis(StyleSettings, spec).values == values


@pytest.mark.parametrize("spec, words", [
    ("style_weight=1-", "--grid 'style_weight=1-' is not a range"),
    ("style_weight=", "is not a range"),
    ("style_weight", "is not a range"),
    ("style_weight=1-2(0)", "is not a range"),
    ("style_weight=1-2(-1)", "is not a range"),
    ("style_weight=a,b", "is not a range"),
    ("seed=0.5,1", "seed takes whole numbers"),
    ("seed=1-1000", "makes 1000 values"),
    ("seed=1-2[500]", "asks for 500 values"),
    ("style_wieght=1,2", "did you mean 'style_weight'"),
])  # fmt: skip
def test_range_errors_are_one_line(spec, words):
    with pytest.raises(UserError) as err:
        parse_axis(StyleSettings, spec)
    said = err.value.message + " — " + (err.value.hint or "")
    assert words in said and "\n" not in said


def test_a_range_error_from_the_command_line_is_one_line(tmp_path):
    res = invoke("style", CAT, SWIRLS, "--grid", "style_weight=1-", *QUICK, "-o", tmp_path / "g.png")
    assert res.exit_code == 2
    assert res.output.strip() == "error: --grid 'style_weight=1-' is not a range — e.g. 10,100,1000 or 1-5 or 0.5-2(0.5) or 1-100[5]"
    res = invoke("dream", CAT, "--grid", "octaves=1,2", "--grid-y", "octave=1,2", *QUICK[:6], "-o", tmp_path / "g.png")
    assert res.exit_code == 2 and "'octave' is not a setting" in res.output and "did you mean 'octaves'" in res.output
    # A value the setting refuses is refused as its flag would be, naming the setting.
    res = invoke("style", CAT, SWIRLS, "--grid", "optimizer=lbfgs,sgd", *QUICK, "-o", tmp_path / "g.png")
    assert res.exit_code == 2 and "optimizer=sgd" in res.output and len(res.output.strip().splitlines()) == 1
    res = invoke("style", CAT, SWIRLS, "--grid", f"seed=0-{MAX_CELLS}", "--grid-y", "style_weight=1,2", *QUICK, "-o", tmp_path / "g.png")
    assert res.exit_code == 2 and "values" in res.output
    assert not list(tmp_path.iterdir())  # nothing made, not even the cells' folder
    # A picture that is not a grid's is not overwritten by one.
    (tmp_path / "mine.png").write_bytes((SAMPLES / "stripes.png").read_bytes())
    res = invoke("style", CAT, SWIRLS, "--grid", "seed=0,1", *QUICK, "-o", tmp_path / "mine.png")
    assert res.exit_code == 2 and "is not a grid's picture" in res.output and not (tmp_path / "mine-cells").exists()


def test_a_2x2_grid_writes_the_grid_and_its_cells_and_resumes(tmp_path):
    sheet = tmp_path / "grid.png"
    args = ["style", CAT, SWIRLS, "--grid", "style_weight=1,1000", "--grid-y", "seed=0-1", *QUICK, "-o", sheet]
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    cells = sorted(p.name for p in (tmp_path / "grid-cells").iterdir())
    assert cells == ["x0-y0.png", "x0-y1.png", "x1-y0.png", "x1-y1.png"]
    made = read_settings(sheet)
    grid = made["ran"]["grid"]
    assert grid["x"] == {"setting": "style_weight", "values": [1.0, 1000.0]} and grid["y"] == {"setting": "seed", "values": [0, 1]}
    listed = grid["cells"]
    assert len(listed) == 4 and [c["output"] for c in listed] == [f"grid-cells/x{i}-y{j}.png" for j in (0, 1) for i in (0, 1)]
    # The cells' Jobs differ in exactly the grid's two settings, and each is its cell's own Job.
    base = made["settings"]
    for k, cell in enumerate(listed):
        differ = {n for n in base if cell["settings"].get(n) != base[n]}
        assert differ <= {"style_weight", "seed"}, differ
        assert (cell["settings"]["style_weight"], cell["settings"]["seed"]) == ([1.0, 1000.0][k % 2], [0, 1][k // 2])
        own = read_settings(tmp_path / cell["output"])
        assert own["settings"]["style_weight"] == cell["settings"]["style_weight"] and own["settings"]["seed"] == cell["settings"]["seed"]
        assert cell["ran"]["device"] == own["ran"]["device"]
    assert [j.settings.style_weight for j in cell_jobs(sheet)] == [1.0, 1000.0, 1.0, 1000.0]
    # The sheet: four cells and their labels, wider and taller than the cells together.
    from PIL import Image

    with Image.open(sheet) as img, Image.open(tmp_path / "grid-cells" / "x0-y0.png") as one:
        assert img.width > 2 * one.width and img.height > 2 * one.height
    info = invoke("info", sheet)
    assert info.exit_code == 0 and "cell x1-y1" in info.output and "style_weight=1000.0" in info.output
    # Resumable: a rerun remakes only the missing cell, and redraws the grid.
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "grid-cells").iterdir()}
    (tmp_path / "grid-cells" / "x1-y0.png").unlink()
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "grid-cells").iterdir()}
    assert set(after) == set(before) and after["x1-y0.png"] != before["x1-y0.png"]
    assert all(after[n] == before[n] for n in before if n != "x1-y0.png")
    # --from the grid's picture re-makes the grid (here: every cell there, so only the picture).
    again = tmp_path / "again.png"
    res = invoke("style", "--from", sheet, "-q", "-o", again)
    assert res.exit_code == 0, res.output
    assert read_settings(again)["ran"]["grid"]["x"]["values"] == [1.0, 1000.0]
    assert len(list((tmp_path / "again-cells").iterdir())) == 4


def test_a_one_axis_dream_grid(tmp_path):
    res = invoke("dream", CAT, "--grid", "octaves=1-2", "--model", "efficientnet-lite0", "--size", "48", "--steps", "1", "-q", "-o", tmp_path / "d.png")
    assert res.exit_code == 0, res.output
    assert [c["settings"]["octaves"] for c in read_settings(tmp_path / "d.png")["ran"]["grid"]["cells"]] == [1, 2]


def test_the_sweep_still_writes_its_names_and_takes_ranges(tmp_path):
    res = invoke("style", CAT, SWIRLS, "--sweep", "10,1000", *QUICK, "-o", tmp_path / "sweep")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "sweep").iterdir()) == ["cat-sw10.png", "cat-sw1000.png"]
    res = invoke("style", CAT, SWIRLS, "--sweep", "10-1000[3]", *QUICK, "-o", tmp_path / "sweep")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "sweep").iterdir()) == ["cat-sw10.png", "cat-sw1000.png", "cat-sw505.png"]
    res = invoke("style", CAT, SWIRLS, "--sweep", "10,1000", "--grid", "seed=0,1", *QUICK, "-o", tmp_path / "x.png")
    assert res.exit_code == 2 and "--sweep is a grid" in res.output


def test_the_dream_settings_axes():
    assert parse_axis(DreamSettings, "layers=relu4_3:1,relu5_1:0.5|relu5_1").values == ("relu4_3:1,relu5_1:0.5", "relu5_1")


# --- the studio ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from dreamstyle.studio.app import create_app

    with TestClient(create_app(tmp_path_factory.mktemp("grid-studio")), base_url="http://127.0.0.1:7860") as c:
        yield c


def test_the_studio_makes_a_2x2_grid(client):
    from studio_api import upload

    photo, painting = upload(client, "cat.jpg"), upload(client, "swirls.jpg")
    job = {"engine": "style", "inputs": {"content": f"upload:{photo}", "styles": [f"upload:{painting}"]},
           "settings": {"model": "efficientnet-lite0", "size": 48, "steps": 2, "scales": [48]}}  # fmt: skip
    bad = client.post("/api/grids", json={**job, "x": {"setting": "style_weight", "values": "1-"}})
    assert bad.status_code == 400 and bad.json()["field"] == "x.values" and "is not a range" in bad.json()["error"]
    bad = client.post("/api/grids", json={**job, "x": {"setting": "style_wieght", "values": "1,2"}})
    assert bad.status_code == 400 and bad.json()["field"] == "x.setting" and "style_weight" in bad.json()["hint"]
    res = client.post("/api/grids", json={**job, "x": {"setting": "style_weight", "values": "1,1000"}, "y": {"setting": "seed", "values": "0-1"}})
    assert res.status_code == 201, res.text
    made = res.json()
    assert len(made["jobs"]) == 4 and made["shape"] == [2, 2]
    deadline = time.time() + 120
    while time.time() < deadline:
        status = client.get(f"/api/grids/{made['id']}").json()
        if status["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert status["state"] == "done", status
    assert all(c["state"] == "done" and c["result"] for c in status["cells"])
    picture = client.get(status["image"])
    assert picture.status_code == 200
    items = {i["id"]: i for i in client.get("/api/gallery").json()["items"]}
    cells = items[status["result"]]["job"]["ran"]["grid"]["cells"]
    assert [(c["settings"]["style_weight"], c["settings"]["seed"]) for c in cells] == [(1.0, 0), (1000.0, 0), (1.0, 1), (1000.0, 1)]
    assert all(c["result"] in items for c in status["cells"])  # each cell is in the gallery, Again-able


def test_the_page_runs_a_2x2_grid_and_its_cells_appear(tmp_path, monkeypatch):
    """The issue's "Done when": a 2x2 grid made from the page, its cells seen as they end, the
    grid's picture offered, and a cell's click refilling the form with that cell's job."""
    pytest.importorskip("uvicorn")
    from studio_harness import browser, browser_or_skip, fill_style_form, open_page, serve_studio, tid

    exe = browser_or_skip()
    with serve_studio(tmp_path / "out") as url, browser(exe) as context:
        page = open_page(context, url)
        fill_style_form(page, 2, 48)
        page.click(f"{tid('grid')} summary")
        page.select_option(tid("grid-x-setting"), "style_weight")
        page.fill(tid("grid-x-values"), "1,1000")
        page.select_option(tid("grid-y-setting"), "seed")
        page.fill(tid("grid-y-values"), "0-1")
        with page.expect_response(lambda r: r.url.endswith("/api/grids") and r.request.method == "POST") as posted:
            page.click(tid("grid-make"))
        assert posted.value.status == 201, posted.value.text()
        assert posted.value.request.post_data_json["x"] == {"setting": "style_weight", "values": "1,1000"}
        page.wait_for_function("() => document.querySelectorAll(\"[data-testid='grid-cell'] img\").length === 4", timeout=120_000)
        page.wait_for_selector(tid("grid-picture"), timeout=60_000)
        # DREAMSTYLE_SHOTS=FOLDER keeps the page's screenshot (the closing note shows it).
        shots = Path(os.environ.get("DREAMSTYLE_SHOTS") or tmp_path)
        page.locator(tid("grid")).screenshot(path=str(shots / "studio-grid.png"))
        page.screenshot(path=str(shots / "studio-grid-page.png"), full_page=True)
        page.locator(tid("grid-cell")).nth(3).click()  # x1-y1: style weight 1000, seed 1
        page.wait_for_function("() => document.getElementById('set-style_weight').value === '1000'")
        assert page.input_value(tid("setting-seed")) == "1"
        assert not [p for p in page.problems if "favicon" not in p], page.problems


def test_a_grid_on_a_ray_cluster_spreads_its_cells_over_the_workers(tmp_path):
    from helpers import local_ray

    with local_ray():
        res = invoke("style", CAT, SWIRLS, "--grid", "style_weight=1,1000", *QUICK[:-1], "--backend", "ray", "--workers", "2", "-v", "-o", tmp_path / "g.png")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "g-cells").iterdir()) == ["x0-y0.png", "x1-y0.png"]
    assert [c["settings"]["style_weight"] for c in read_settings(tmp_path / "g.png")["ran"]["grid"]["cells"]] == [1.0, 1000.0]
    assert "2 workers" in res.output
