"""`dreamstyle info`: the Job an output carries, readably or as its JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .app import app
from .common import describe, examples, guarded


@app.command(epilog=examples("dreamstyle info photo-dream.png", "dreamstyle info photo-dream.png --json"))
@guarded
def info(
    image: Annotated[Path, typer.Argument(help="An image written by dreamstyle (.png keeps its settings most reliably), or a network (.pt) `dreamstyle train` wrote.", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the Job that made it, as JSON (what Job.from_json reads).")] = False,
) -> None:
    """What made IMAGE: engine, inputs, model and weights, every setting, versions; and how to re-run it."""
    from ..core.job import Job

    if image.suffix.lower() == ".pt":
        from ..media.network_file import load_network

        net = load_network(image)
        job = Job.from_json(net.record)
    else:
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
        "ran on": ", ".join([ran.get("device") or "?", ran.get("precision") or "?", *_cpu(job.settings.threads, ran.get("cpu_capability"))]),
    }
    if "frame" in ran:
        rows["frame"] = ran["frame"]
    if isinstance(ran.get("interrupted"), dict):
        rows["interrupted"] = interrupted(ran["interrupted"])
    if job.engine == "train":
        rows["network"] = f"{ran.get('iterations', '?')} iterations; paint with: dreamstyle style PHOTO --net {image}"
    for line in describe(rows, indent=""):
        typer.echo(line)
    sections = {"inputs": with_absolute(job.to_dict()["inputs"], ran.get("absolute") or {}), "settings": job.settings.to_dict()}
    if job.motion is not None:
        import dataclasses

        sections["motion"] = dataclasses.asdict(job.motion)
    for title, values in sections.items():
        typer.echo(f"{title}:")
        for line in describe(values):
            typer.echo(line)
    if isinstance(ran.get("grid"), dict):
        typer.echo("grid:")
        for line in grid_lines(ran["grid"]):
            typer.echo(line)
    # A clip's record in a GIF is the whole clip's; a video frame's PNG re-runs its clip into a video.
    if job.engine != "train" and (image.suffix.lower() == ".gif" or not (job.is_clip or job.engine == "zoom" and "frame" in ran)):
        whole = " (the whole run)" if "interrupted" in ran else ""
        typer.echo(f"re-run{whole}:\n  dreamstyle {job.command} --from {image}")


def grid_lines(grid: dict) -> list[str]:
    """A grid picture's axes and each cell: its place, the values it differs by, its picture."""
    x, y = grid.get("x") or {}, grid.get("y") or {}
    lines = [f"  x  {x.get('setting')} = {x.get('values')}"] + ([f"  y  {y.get('setting')} = {y.get('values')}"] if y else [])
    cols = max(len(x.get("values") or []), 1)
    for k, cell in enumerate(grid.get("cells") or []):
        s = cell.get("settings") or {}
        differs = ", ".join(f"{a['setting']}={json.dumps(s.get(a['setting']))}" for a in (x, y) if a)
        lines.append(f"  cell x{k % cols}-y{k // cols}  {differs}  {cell.get('output')}")
    lines.append("  (each cell's whole Job: `dreamstyle info GRID --json`, under ran.grid.cells; re-make the grid: --from GRID)")
    return lines


def interrupted(at: dict) -> str:
    """Where Ctrl-C (or a Stop) ended the run whose picture so far this is."""
    where = f"at step {at.get('step', '?')} of {at.get('of', '?')}"
    if at.get("part"):
        parts = at.get("parts")
        now = at.get("finished", 0) + 1 if not parts else min(at.get("finished", 0) + 1, parts)
        where += f", in {at['part']} {now}" + (f" of {parts}" if parts else "")
    return f"{where}: the picture so far, not a finished output"


def with_absolute(inputs: dict, absolute: dict) -> dict:
    """Each recorded input path as typed, with where it was beside it when that differs."""

    def both(typed, at):
        return f"{typed} ({at})" if isinstance(typed, str) and isinstance(at, str) and at != typed else typed

    shown = dict(inputs)
    for key, at in absolute.items():
        if key in shown:
            typed = shown[key]
            shown[key] = ", ".join(map(str, map(both, typed, at))) if isinstance(typed, list) and isinstance(at, list) else both(typed, at)
    return shown


def _cpu(threads: int | None, capability: str | None) -> list[str]:
    """What decided a CPU run's bytes besides the settings, as `ran on` words: "2 threads", "AVX512"
    (neither in an output made before they were recorded)."""
    return [f"{threads} thread{'s' if threads != 1 else ''}"] * (threads is not None) + [capability] * bool(capability)
