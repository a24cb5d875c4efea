"""The studio's X/Y grids: one checked job and one or two axes in, a queued job per cell out, and
once every cell has ended, the labelled grid picture (its Job listing every cell's) in the gallery.

    POST /api/grids  {engine, inputs, settings, preset, "x": {"setting", "values"}, "y": …}
         -> 201 {"id", "jobs": [cell job ids, rows of columns], "x", "y", "shape": [columns, rows]}
    GET  /api/grids/{id} -> each cell's job id, place, state and picture; the grid's picture once made

The cells are ordinary jobs: the page follows them by their own event streams, and each lands in
the gallery as it finishes. A bad axis is a 400 naming "x.setting", "x.values" (or y's).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.grid import Axis, cell_settings, parse_axis
from ..errors import UserError
from .errors import JSON, LOG, Refused, error, read_json, with_field
from .files import gallery_id
from .jobs import check_with_fields, checked_job, keep_painted
from .naming import OutputNames

POLL_S = 0.25  # how often a grid looks whether its cells have all ended
KEPT = 20  # grids remembered for the page


@dataclass
class Grid:
    id: str
    base: Any  # the Job every cell varies
    x: Axis
    y: Axis | None
    entries: list = field(default_factory=list)  # the cells' queue entries, rows of columns
    sheet: Path | None = None
    result: str | None = None  # the gallery id of the grid's picture, once written
    error: str | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.x.values), len(self.y.values) if self.y else 1

    def status(self) -> dict[str, Any]:
        cols = self.shape[0]
        cells = [{"id": e.id, "x": k % cols, "y": k // cols, "state": e.state, "result": e.result} for k, e in enumerate(self.entries)]
        ended = all(e.finished for e in self.entries)
        return {"id": self.id, "x": self.x.to_dict(), "y": self.y.to_dict() if self.y else None, "shape": list(self.shape), "cells": cells,
                "state": ("done" if self.result else "failed" if self.error else "ending") if ended else "running",
                "result": self.result, "image": f"/api/gallery/{self.result}/image" if self.result else None, "error": self.error}  # fmt: skip


def axes_of(data: dict[str, Any], cls: type) -> tuple[Axis, Axis | None]:
    """The grid's axes from the page's JSON, a refusal naming "x.setting" or "x.values" (y's)."""
    found = []
    for name in ("x", "y"):
        spec = data.get(name)
        if spec is None:
            if name == "x":
                raise with_field(UserError("a grid needs its x axis", 'e.g. "x": {"setting": "style_weight", "values": "10,100,1000"}'), "x")
            found.append(None)
            continue
        if not isinstance(spec, dict) or not isinstance(spec.get("setting"), str) or not isinstance(spec.get("values"), (str, list)):
            raise with_field(UserError(f"the grid's {name} is {{\"setting\", \"values\"}}", 'e.g. {"setting": "seed", "values": "0-2"}'), name)
        try:
            found.append(parse_axis(cls, spec, "--grid" if name == "x" else "--grid-y"))
        except UserError as exc:
            exc.field = f"{name}.setting" if "not a setting" in exc.message else f"{name}.values"
            raise
    return found[0], found[1]


def grid_routes(worker, uploads, out: Path, networks=None, photos=None, max_queued: int = 100, names: OutputNames | None = None) -> list[Route]:
    grids: dict[str, Grid] = {}
    names = names or OutputNames()

    def plan(data: Any) -> tuple[Grid, list]:
        if not isinstance(data, dict):
            raise with_field(UserError("a grid is a JSON object", "send a job's engine, inputs and settings, with x (and y)"), "x")
        job = checked_job({k: v for k, v in data.items() if k not in ("x", "y")}, uploads, out, networks, photos)
        x, y = axes_of(data, type(job.settings))
        try:
            rows = cell_settings(job.settings, x, y)
        except UserError as exc:
            exc.field = "y.values" if y is not None and exc.field == y.setting else "x.values"
            raise
        gid = secrets.token_hex(4)
        cells = [job.replace(settings=s) for row in rows for s in row]
        for cell in cells:
            check_with_fields(cell)
        # Named from the photo as its pictures are (cat-style-grid.png, its cells
        # cat-style-grid-x0-y0.png …), -2 when taken.
        sheet = names.free(out, f"{Path(job.output).stem}-grid", ".png", cells=True)
        cols = len(rows[0])
        cells = [c.replace(output=str(out / f"{sheet.stem}-x{k % cols}-y{k // cols}.png")) for k, c in enumerate(cells)]
        return Grid(gid, job.replace(output=str(sheet)), x, y, sheet=sheet), cells

    def submit_all(grid: Grid, cells: list) -> None:
        grid.entries = [worker.submit(c) for c in cells]
        for c in cells:
            keep_painted(c)
        threading.Thread(target=finish, args=(grid,), name=f"dreamstyle-grid-{grid.id}", daemon=True).start()

    def finish(grid: Grid) -> None:
        """Once every cell has ended: the grid's picture of the cells made, into the gallery."""
        while not all(e.finished for e in grid.entries):
            if worker.closing:
                return
            time.sleep(POLL_S)
        from ..engines.grid_sheet import write_grid
        from ..core.planning import GridPlan

        jobs = [e.job for e in grid.entries]
        todo = GridPlan("batch", jobs, out, sheet=grid.sheet, base=grid.base, x=grid.x, y=grid.y, shape=grid.shape)
        try:
            write_grid(todo, force=True)
            grid.result = gallery_id(grid.sheet.name)
        except Exception as exc:  # a full disk …: the cells are in the gallery all the same
            LOG.warning("grid %s: its picture was not written: %s", grid.id, exc)
            grid.error = f"the grid's picture was not written: {exc}"

    async def create(request: Request) -> Response:
        data = await read_json(request)
        grid, cells = await asyncio.to_thread(plan, data)
        if len(worker.pending) + len(cells) > max_queued:
            raise Refused(429, f"the grid's {len(cells)} cells do not fit in the queue ({len(worker.pending)} of {max_queued} waiting)",
                          "wait for some jobs to end, or give fewer values", headers={"Retry-After": "10"})  # fmt: skip
        try:
            await asyncio.to_thread(submit_all, grid, cells)
        except UserError as exc:
            return error(507, exc.message, exc.hint)
        grids[grid.id] = grid
        for old in list(grids)[:-KEPT]:
            grids.pop(old)
        return JSON({"id": grid.id, "jobs": [e.id for e in grid.entries], "x": grid.x.to_dict(), "y": grid.y.to_dict() if grid.y else None,
                     "shape": list(grid.shape)}, status_code=201)  # fmt: skip

    async def status(request: Request) -> Response:
        grid = grids.get(request.path_params["id"])
        if grid is None:
            return error(404, "no such grid", "grids are remembered until the studio stops")
        return JSON(grid.status())

    return [Route("/api/grids", create, methods=["POST"]), Route("/api/grids/{id}", status)]
