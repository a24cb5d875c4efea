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
