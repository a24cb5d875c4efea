"""`python -m bench.timeto` end to end at a tiny size: both sides run, it writes its JSON, the scores are finite."""

import json
import math

from bench import timeto


def test_timeto_tiny_run(tmp_path, capsys):
    path = timeto.main(["--size", "64", "--steps", "5", "--ceiling", "10", "--out", str(tmp_path)])
    assert path.exists() and path.parent == tmp_path and path.name.startswith("timeto-")
    doc = json.loads(path.read_text())["runs"][-1]
    assert doc["size"] == 64 and doc["cpu_capability"]
    sides = [r["side"] for r in doc["rows"]]
    assert sides == ["dreamstyle", "naive fp32 Adam"]
    for row in doc["rows"]:
        assert row["seconds"] > 0
        for key in ("style", "content", "colour"):
            assert math.isfinite(row["score"][key]), (row["side"], key)
    naive = doc["rows"][1]
    assert 1 <= naive["steps"] <= 10
    assert math.isfinite(doc["ratio"]) and doc["ratio"] > 0
    out = capsys.readouterr().out
    assert "| dreamstyle |" in out and "naive / dreamstyle seconds" in out


def test_timeto_class_tiny_run(tmp_path, capsys):
    from bench import timeto_class

    path = timeto_class.main(["--classes", "goldfish", "--size", "64", "--steps", "6", "--compare-steps", "3",
                              "--ceiling", "20", "--out", str(tmp_path)])  # fmt: skip
    doc = json.loads(path.read_text())
    assert doc["cpu_capability"] and path.name.startswith("timeto-class-")
    rows = doc["runs"][0]["rows"]
    assert [r["side"] for r in rows] == ["dreamstyle", "dreamstyle", "naive fp32 Adam"]
    assert [r["steps"] for r in rows[:2]] == [6, 3]
    for row in rows:
        assert row["seconds"] > 0 and 0 <= row["confidence"] <= 1
    # The naive loop stops at the first check that reaches dreamstyle's confidence, or at the ceiling.
    naive = rows[2]
    assert naive["steps"] % 10 == 0 and naive["steps"] <= 20
    if naive["reached"]:
        assert naive["confidence"] >= rows[0]["confidence"] - 1e-4
    else:
        assert naive["steps"] == 20
    assert "| goldfish | naive fp32 Adam |" in capsys.readouterr().out


def test_curves_tiny_run(tmp_path):
    """bench.curves end to end at 96 px: each chosen way of spending steps gets a curve of scored
    points whose engine seconds only grow, the defaults' curve ends where auto stopped, and the plot is written."""
    from bench import curves

    plot = tmp_path / "curves.png"
    path = curves.main(["--size", "96", "--steps", "6", "--naive-steps", "6", "--every", "3",
                        "--only", "L-BFGS, 2 scales (half, full), content;defaults;naive", "--out", str(tmp_path), "--plot", str(plot)])  # fmt: skip
    doc = json.loads(path.read_text())
    assert set(doc["curves"]) == {"L-BFGS, 2 scales (half, full), content init", "defaults (--steps auto)", "naive fp32 Adam lr 0.02"}
    two = doc["curves"]["L-BFGS, 2 scales (half, full), content init"]["points"]
    assert [p["step"] for p in two] == [3, 6, 9, 12] and [p["scale"] for p in two] == [0, 0, 1, 1]
    for run in doc["curves"].values():
        secs = [p["seconds"] for p in run["points"]]
        assert secs == sorted(secs) and secs[0] > 0
        assert all(math.isfinite(p["style"]) and math.isfinite(p["content"]) for p in run["points"])
    assert plot.stat().st_size > 10_000


def test_the_judge_leaves_out_the_border_band():
    """The evaluator scores positions more than BORDER px from the picture's edge, at every
    layer's own stride, and a tiny picture keeps its centre."""
    import torch

    from bench.timeto import interior

    side = 384
    for stride, cut in ((1, 16), (4, 4), (16, 1), (32, 1)):
        f = torch.zeros(1, 8, side // stride, side // stride)
        assert interior(f, side, 16).shape[-1] == side // stride - 2 * cut, stride
    assert interior(torch.zeros(1, 8, 2, 2), 64, 16).shape[-2:] == (2, 2)
    assert interior(torch.zeros(1, 8, 3, 3), 64, 16).shape[-2:] == (1, 1)
