"""`dreamstyle info`: the Job an output carries, readably or as its JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app
from .common import describe, examples, guarded


@app.command(epilog=examples("dreamstyle info photo-dream.png", "dreamstyle info photo-dream.png --json"))
@guarded
def info(
    image: Annotated[Path, typer.Argument(help="An image written by dreamstyle (.png keeps its settings most reliably).", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the Job that made it, as JSON (what Job.from_json reads).")] = False,
) -> None:
    """What made IMAGE: engine, inputs, model and weights, every setting, versions; and how to re-run it."""
    from ..job import Job

    job = Job.from_png(image)
    if json_out:
        typer.echo(job.to_json(indent=2))
        return
    ran = dict(job.ran or {})
    weights = ran.get("weights") or "(none)"
    ident = ran.get("weights_file")
    if isinstance(ident, dict):
        weights += f" ({ident.get('bytes', 0):,} bytes, sha256 {ident.get('sha256')}…)"
    rows = {
        "made by": f"dreamstyle {job.command} (dreamstyle {ran.get('dreamstyle', '?')}, torch {ran.get('torch', '?')})",
        "weights": weights,
        "ran on": f"{ran.get('device') or '?'}, {ran.get('precision') or '?'}",
    }
    if "frame" in ran:
        rows["frame"] = ran["frame"]
    for line in describe(rows, indent=""):
        typer.echo(line)
    sections = {"inputs": job.to_dict()["inputs"], "settings": job.settings.to_dict()}
    if job.motion is not None:
        import dataclasses

        sections["motion"] = dataclasses.asdict(job.motion)
    for title, values in sections.items():
        typer.echo(f"{title}:")
        for line in describe(values):
            typer.echo(line)
    if job.engine != "zoom" and not job.is_clip:
        typer.echo(f"re-run:\n  dreamstyle {job.command} --from {image}")
