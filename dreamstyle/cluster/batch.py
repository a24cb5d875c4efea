"""A batch (or a sweep) on a Ray cluster: what a local batch does, with the items on workers.

Outputs that exist are skipped before the cluster is even joined, so a rerun does only what is
missing, also after workers died; then one bar, the same events and the same summary line as a
local batch, and bad items (or items whose worker kept dying) reported without stopping the rest.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..core.batch import BatchResult, said
from ..errors import Interrupted, UserError
from ..events import ItemDone, Listener, Reporter, Started
from ..media.images import write_atomically
from ..core.job import Job
from ..core.settings import ClusterSettings
from ..core.threads import pinned
from .reach import probes
from .session import RETRIES, Status, import_ray, joined


@dataclass
class ClusterResult(BatchResult):
    items: list[Status] = field(default_factory=list)  # what each worker said of each item it ran
    workers: int = 0  # the pool's size (0: nothing needed the cluster)

    def where(self) -> str:
        """Which processes ran the items, and how long an item took there: for --verbose."""
        ran = [s for s in self.items if s.pid]
        if not ran:
            return "no item ran on the cluster"
        per: dict[tuple[str, int], list[float]] = {}
        for s in ran:
            per.setdefault((s.node, s.pid), []).append(s.seconds)
        parts = ", ".join(f"{len(v)} on {node} pid {pid}" for (node, pid), v in per.items())
        mean = sum(s.seconds for s in ran) / len(ran)
        return f"{self.workers} workers: {parts}; {mean:.1f} s per item on a worker"


def run_batch_on_ray(jobs: list[Job], cluster: ClusterSettings, *, on_event: Listener | None = None,
                     cancel: threading.Event | None = None, force: bool = False, stage: str = "batch",
                     write_by: str = "auto", retries: int = RETRIES) -> ClusterResult:
    """`run_batch`, on the cluster `cluster` names: each job whose output is missing (every one
    with `force`) runs on a worker. `write_by="driver"` has the workers return every output as
    bytes, as when they cannot see the output folder; an item whose worker died is run again
    up to `retries` times, then reported lost. Ctrl-C (or `cancel`) raises `Interrupted`
    with `.result` the batch so far; items under way then are dropped and redone next time."""
    import_ray()  # said at once, also when a rerun finds nothing to do
    report = Reporter(on_event, cancel)
    result = ClusterResult()
    report(Started(None, len(jobs), "item", stage))
    todo: dict[int, Job] = {}
    for k, job in enumerate(jobs):
        out = Path(job.output)
        if out.exists() and not force:
            result.skipped.append(out)
            report(ItemDone("item", k, len(jobs), path=out, status="skipped"))
        else:
            todo[k] = job
    if not todo:
        return result  # nothing to do: no cluster joined, no worker started
    folders = sorted({str(Path(job.output).parent) for job in todo.values()})
    # Each job names this process's thread count, so a worker (one thread, as Ray sets a 1-CPU
    # actor) computes as a local run does and writes the same bytes.
    rows = [{"index": k, "job": pinned(job).to_json(), "chunk": ""} for k, job in todo.items()]
    try:
        with joined(cluster) as session, probes(folders, write_by) as token:
            result.workers = min(session.pool.workers, len(rows))
            for status in session.map(rows, {"folders": folders, "token": token, "force": force}, cancel, retries):
                _take(status, todo[status.index], len(jobs), force, result, report)
    except Interrupted as exc:
        exc.result = result
        raise
    return result


def _take(status: Status, job: Job, count: int, force: bool, result: ClusterResult, report: Reporter) -> None:
    out, source = Path(job.output), str(job.source)
    result.items.append(status)
    if status.status == "written" and status.data:
        try:
            write_atomically(out, status.data[0], force=force)
        except UserError as exc:  # the output appeared meanwhile, the disk is full …
            status.status, status.message = "failed", exc.message + (f" — {exc.hint}" if exc.hint else "")
        status.data = []  # written: a big batch's pictures are not kept in memory
    if status.status == "written":
        result.done.append(out)
        report(ItemDone("item", status.index, count, path=out, status="written", message=source))
    else:
        result.failed.append((source, status.message))
        report(ItemDone("item", status.index, count, path=out, status="failed", message=said(source, status.message)))
