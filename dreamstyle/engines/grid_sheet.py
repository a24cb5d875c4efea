"""The picture of an X/Y grid: its cells in rows and columns, each axis labelled with its setting
and every value, and the Job it embeds, which lists every cell's Job.

The labels sit outside the cells (values above the columns, beside the rows), so no cell is
painted over; a cell not made yet (a live grid forming, a failed run) is a dark square.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from ..core.grid import Axis, shown_value
from ..core.job import Job, record
from ..media.images import read_settings, save_image

BACKGROUND, INK, EMPTY = (24, 24, 24), (235, 235, 235), (48, 48, 48)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the bitmap font, one size
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """`text`, cut with "…" to fit `width` pixels: a long layer list stays one line."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def grid_picture(cells: list[list[Image.Image | None]], x: Axis, y: Axis | None, cell: tuple[int, int] | None = None) -> Image.Image:
    """The labelled grid of `cells` (rows of columns, None where a cell is missing): x's setting
    and values above the columns, y's beside the rows."""
    shown = [c for row in cells for c in row if c is not None]
    cw, ch = cell or (max((c.width for c in shown), default=128), max((c.height for c in shown), default=128))
    size = max(11, min(18, cw // 12))
    font, bold = _font(size), _font(size + 2)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    pad, line = 6, size + 6
    left = 0 if y is None else min(max(int(probe.textlength(shown_value(v), font=font)) for v in y.values) + 2 * pad, cw)
    left = max(left, int(probe.textlength(y.setting, font=bold)) + 2 * pad) if y is not None else 0
    top = 2 * line + pad
    cols, rows = len(cells[0]), len(cells)
    sheet = Image.new("RGB", (left + cols * (cw + pad) + pad, top + rows * (ch + pad) + pad), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((left + pad, 2), x.setting, fill=INK, font=bold)
    if y is not None:
        draw.text((pad, line + 2), _fit(draw, y.setting, bold, left - pad), fill=INK, font=bold)
    for i, v in enumerate(x.values):
        cx = left + pad + i * (cw + pad)
        text = _fit(draw, shown_value(v), font, cw - 4)
        draw.text((cx + (cw - draw.textlength(text, font=font)) // 2, line + 2), text, fill=INK, font=font)
    for j, row in enumerate(cells):
        cy = top + pad + j * (ch + pad)
        if y is not None:
            draw.text((pad, cy + ch // 2 - size // 2), _fit(draw, shown_value(y.values[j]), font, left - pad), fill=INK, font=font)
        for i, img in enumerate(row):
            cx = left + pad + i * (cw + pad)
            if img is None:
                draw.rectangle((cx, cy, cx + cw - 1, cy + ch - 1), fill=EMPTY)
            else:
                img = img.convert("RGB")
                sheet.paste(img, (cx + (cw - img.width) // 2, cy + (ch - img.height) // 2))
    return sheet


def grid_record(base: Job, x: Axis, y: Axis | None, cells: list[Job], beside: Path | None = None) -> dict[str, Any]:
    """The JSON a grid's picture embeds: the base Job (what every cell shares), its "ran" holding
    the axes and every cell's Job (as the cell's own picture records it, where it exists), each
    cell's output named from the folder `beside` (the grid picture's own)."""
    listed = []
    for job in cells:
        out = Path(job.output) if job.output else None
        # The settings as the grid asked (so the cells differ in the axes' settings only, the
        # model's default layers left to it as in the grid's own Job); how it ran from the cell's
        # picture, where it has one (the layers resolved are there too).
        made = record(job)
        try:
            made["ran"] = read_settings(out).get("ran") if out is not None and out.exists() else None
        except Exception:  # a cell's file written by something else
            made["ran"] = None
        made["output"] = out.relative_to(beside).as_posix() if out is not None and beside is not None and out.is_relative_to(beside) else job.output
        listed.append(made)
    return record(base, grid={"x": x.to_dict(), "y": y.to_dict() if y else None, "cells": listed})


def write_grid(plan, *, force: bool = False) -> Path:
    """Assemble a GridPlan's finished cells into its labelled picture, written to `plan.sheet`."""
    cols, rows = plan.shape
    cells: list[list[Image.Image | None]] = [[None] * cols for _ in range(rows)]
    for k, job in enumerate(plan.jobs):
        out = Path(job.output)
        if out.exists():
            with Image.open(out) as img:
                cells[k // cols][k % cols] = img.convert("RGB")
    picture = grid_picture(cells, plan.x, plan.y)
    return save_image(picture, plan.sheet, settings=grid_record(plan.base, plan.x, plan.y, plan.jobs, Path(plan.sheet).parent), force=force)


def cell_jobs(path) -> list[Job]:
    """The Jobs of a grid picture's cells, in row order (x fastest): each re-runs its cell."""
    data = read_settings(path)
    grid = (data.get("ran") or {}).get("grid") or {}
    return [Job.from_json({k: v for k, v in c.items()}) for c in grid.get("cells", [])]
