"""`--from` writes where the run it repeats wrote, and says where even with --quiet: an
interrupted run's OUT.partial.png finishes as OUT.png in its folder, a finished output is made
again beside itself as OUT-2.png, and neither lands beside the input photo."""

from __future__ import annotations

import shutil

from helpers import LITE, SAMPLES, invoke

STYLE = [*LITE, "--size", "48", "--steps", "1", "-q"]


def test_from_a_partial_finishes_under_its_name_and_a_finished_one_beside_itself(tmp_path):
    photo = tmp_path / "photos" / "cat.jpg"
    photo.parent.mkdir()
    shutil.copy(SAMPLES / "cat.jpg", photo)
    out = tmp_path / "out"
    out.mkdir()
    res = invoke("style", photo, SAMPLES / "swirls.jpg", "-o", out / "cat-style.png", *STYLE)
    assert res.exit_code == 0, res.output
    (out / "cat-style.png").rename(out / "cat-style.partial.png")  # as Ctrl-C keeps it

    res = invoke("style", "--from", out / "cat-style.partial.png", "-q")
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"saved {out / 'cat-style.png'}"  # said, though --quiet
    assert (out / "cat-style.png").is_file() and sorted(p.name for p in photo.parent.iterdir()) == ["cat.jpg"]

    res = invoke("style", "--from", out / "cat-style.png", "-q")
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"saved {out / 'cat-style-2.png'}" and (out / "cat-style-2.png").is_file()

    res = invoke("style", "--from", out / "cat-style.png", "-q", "-o", tmp_path / "given.png")
    assert res.exit_code == 0 and res.output == "" and (tmp_path / "given.png").is_file(), res.output  # -o given: quiet is quiet
