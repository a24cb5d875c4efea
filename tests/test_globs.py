"""An unquoted glob: the shell hands `dream photos/*.jpg` every photo as its own argument, and
`style photos/*.jpg painting.jpg` makes the second photo a style. Both are refused in one line
that says to quote the glob, before anything is written; arguments that do not look like an
expanded glob keep their usual meaning."""

from __future__ import annotations

import shutil

import pytest

from dreamstyle.cli.globs import check_style_arguments, expanded
from dreamstyle.errors import UserError
from helpers import LITE, SAMPLES, invoke

FAST = [*LITE, "--size", "32", "--steps", "1", "-q"]


@pytest.fixture
def photos(tmp_path, monkeypatch):
    """g/a.jpg and g/b.jpg, named from the test's folder, as the shell would hand them over."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g").mkdir()
    for name, src in (("a.jpg", "cat.jpg"), ("b.jpg", "coffee.jpg"), ("c.jpg", "rocket.jpg")):
        shutil.copy(SAMPLES / src, tmp_path / "g" / name)
    return ["g/a.jpg", "g/b.jpg"]  # g/c.jpg is there for the tests that need three


def refused_as_glob(res) -> None:
    assert res.exit_code == 2, res.output
    assert res.output.count("\n") == 1 and "Traceback" not in res.output, res.output
    assert res.output.startswith("error: g/a.jpg g/b.jpg "), res.output
    assert "look like the glob g/*.jpg expanded by the shell" in res.output
    assert "quote it, 'g/*.jpg'" in res.output


@pytest.mark.parametrize("out", ["painted/", "painted", "x.png"])
def test_style_with_an_expanded_glob_is_refused_and_writes_nothing(photos, tmp_path, out):
    # Into a picture, three photos before the painting: two could be a photo and a second painting.
    given = photos if out != "x.png" else [*photos, "g/c.jpg"]
    res = invoke("style", *given, SAMPLES / "swirls.jpg", "-o", out, *FAST)
    refused_as_glob(res)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]
    if out == "x.png":  # the photo that became a style: how to mean it
        assert "to paint with g/b.jpg as a second style, add --style-blend" in res.output


def test_dream_and_maps_with_an_expanded_glob_are_refused(photos, tmp_path):
    refused_as_glob(invoke("dream", *photos, "-o", "dreams/", *FAST))
    refused_as_glob(invoke("visualize", "maps", *photos, "--layer", "block3", "-o", "maps/", *LITE, "-q"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]


def test_other_extra_arguments_keep_clicks_message(photos):
    res = invoke("dream", "g/a.jpg", SAMPLES / "swirls.jpg", *FAST)
    assert res.exit_code == 2 and "unexpected extra argument" in res.output and "glob" not in res.output, res.output


def test_what_is_not_an_expanded_glob_is_not_refused(photos):
    check_style_arguments("g/a.jpg", ["g/b.jpg"], None, several_styles_meant=False)  # photo and painting side by side
    check_style_arguments("g/a.jpg", ["g/b.jpg", SAMPLES / "swirls.jpg"], "x.png", several_styles_meant=True)  # --style-blend
    assert expanded(["g/b.jpg", "g/a.jpg"]) == []  # not in name order, as the shell would list them
    # A photo and its painting from one folder into a folder (a sweep's, a grid's -o).
    check_style_arguments("g/a.jpg", ["g/b.jpg"], "out/", several_styles_meant=False)
    # A photo and two paintings to blend, two of them from one folder (the README's blend).
    check_style_arguments("g/a.jpg", ["g/b.jpg", SAMPLES / "swirls.jpg"], "x.png", several_styles_meant=False)
    with pytest.raises(UserError):
        check_style_arguments("g/a.jpg", ["g/b.jpg", "g/c.jpg", SAMPLES / "swirls.jpg"], "x.png", several_styles_meant=False)
