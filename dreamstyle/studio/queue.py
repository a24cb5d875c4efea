"""One worker thread owns the device and runs the studio's Jobs one at a time, in order.

Each job keeps what the page shows of it (state, step, losses, the latest preview) and a log of
events that the page's event streams read from; the worker only appends, so a stream that joins
late replays the log and then follows it.

With a Store (store.py) the queue outlives the process: a job is on disk before `submit` returns,
every change of state is written as it happens, and the running job's picture is kept every few
seconds. A new Worker on the same folder takes the queue back: waiting jobs run in their order, a
job that was running when the studio died is `interrupted` (never run again on its own) with its
last kept picture as its partial, and a job that ended is never run again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import Interrupted, UserError
from ..core import registry
from ..core.job import Job
from ..core.locate import absolute
from ..media.images import partial_path, write_atomically
from .files import gallery_id
from .hints import for_the_studio
from .listener import Listener
from .naming import OutputNames
from .store import Store

LOG = logging.getLogger("dreamstyle.studio")
FINAL = ("done", "stopped", "failed", "interrupted")
CRASHED = "interrupted: the studio stopped while this job ran"


class NotWaiting(UserError):
    """Only a waiting job has a place in line to move."""


@dataclass
class Entry:
    id: str
    job: Job | None  # None only for a kept job this version cannot read back
    state: str = "queued"
    step: int = 0
    total: int = 0
    stage: str = ""
    losses: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    hint: str | None = None
    result: str | None = None  # the gallery id of the output (a partial one when stopped or interrupted)
    partial: str | None = None  # the path of the partial picture, which Resume starts from
    next: str | None = None  # the job that Resume or Again made from this one
    dismissed: bool = False  # an interrupted job the page no longer offers to resume
    engine: str = ""
    preview: bytes | None = None
    preview_n: int = 0
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    stopping: bool = False  # Stop was asked (else a cancel is the studio closing: interrupted)
    cancel: threading.Event = field(default_factory=threading.Event)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self):
        self.engine = self.engine or (self.job.engine if self.job is not None else "?")

    @property
    def finished(self) -> bool:
        return self.state in FINAL

    @property
    def network(self) -> str | None:
        """The file name of the network a training job wrote (its .partial.pt when it was stopped
        or interrupted), which the studio's network list knows it by; None for a picture."""
        if self.job is None or not makes_network(self.job) or not self.finished:
            return None
        out = Path(self.job.output)
        for path in (out, out.with_name(f"{out.stem}.partial{out.suffix}")):
            if path.is_file():
                return path.name
        return None

    @property
    def resumable(self) -> bool:
        """Resume starts from the partial picture (an engine with an `init` picture), not afresh."""
        return self.partial is not None and self.job is not None and hasattr(self.job.settings, "init")

    def status(self, position: int | None = None) -> dict[str, Any]:
        return {
            "id": self.id, "engine": self.engine, "state": self.state, "step": self.step, "total": self.total,
            "stage": self.stage, "losses": self.losses, "error": self.error, "hint": self.hint,
            "position": position, "result": self.result, "created": self.created, "started": self.started,
            "ended": self.ended, "next": self.next, "dismissed": self.dismissed, "resumable": self.resumable,
            "network": self.network,
        }  # fmt: skip

    def row(self) -> dict[str, Any]:
        """What the store keeps of it (all but the Job, which never changes)."""
        names = ("state", "started", "ended", "step", "total", "result", "partial", "error", "hint", "next", "dismissed")
        return {k: getattr(self, k) for k in names}


class Worker:
    """The queue and its one thread. `runner(job, on_event, cancel)` runs a job and returns the
    gallery id of what it wrote; the app supplies it (it knows the output folder). With a `store`
    the queue is kept on disk and taken back from it here."""

    def __init__(self, runner: Callable[..., str | None], keep: int = 50, store: Store | None = None, names: OutputNames | None = None):
        self.runner = runner
        # Again's copies are named here; no job's output is handed out twice while it is known.
        self.names = names or OutputNames()
        self.names.known = lambda: [e.job.output for e in list(self.entries.values()) if e.job is not None]
        self.keep = keep  # finished jobs remembered for the page; their pictures stay in the gallery
        self.store = store
        self.entries: dict[str, Entry] = {}
        self.pending: deque[str] = deque()
        self._cv = threading.Condition(threading.RLock())
        self._closing = False
        if store is not None:
            try:
                self._recover()
            except UserError as exc:  # a damaged queue: said, and this studio's queue is in memory only
                LOG.warning("this studio's queue is not kept on disk: %s (%s)", exc.message, exc.hint)
                self.entries.clear()
                self.pending.clear()
                store.close()
                self.store = None
        self._thread = threading.Thread(target=self._loop, name="dreamstyle-studio-worker", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Entry:
        """Queue `job`; with a store it is on disk when this returns (a UserError if it cannot be)."""
        entry = Entry(secrets.token_hex(8), job)
        with self._cv:
            if self.store is not None:
                self.store.add({"id": entry.id, "engine": job.engine, "job": _portable(job), "created": entry.created, **entry.row()})
            self.entries[entry.id] = entry
            self.pending.append(entry.id)
            entry.events.append(("state", {"state": "queued"}))
            self._forget_old()
            self._cv.notify()
        return entry

    def again(self, jid: str, resume: bool = False) -> tuple[Entry, bool]:
        """Queue a copy of an ended job under a new id and output; with `resume`, one that starts
        from its partial picture where its engine can (style's `init`), else the same as again.
        Returns the new entry and whether it starts from the partial."""
        old = self.entries[jid]
        if not old.finished:
            raise UserError(f"the job is {old.state}", "Again and Resume are for jobs that ended; stop it first")
        if old.job is None or not old.job.output:
            raise UserError("this job cannot be read back", "make it again from the form")
        job = self.names.claim(old.job, again=True)  # the same kind (.png, .pt), named afresh from its photo: cat-style-2.png
        from_partial = resume and old.resumable and Path(old.partial).is_file()
        if from_partial:
            job = job.replace(settings=dataclasses.replace(job.settings, init=old.partial))
        registry.check(job)  # its inputs are still there (an upload may have been removed since)
        with self._cv:
            entry = self.submit(job)
            old.next = entry.id
            self._keep(old, next=entry.id)
        return entry, from_partial

    def get(self, jid: str) -> Entry:
        return self.entries[jid]

    def position(self, jid: str) -> int | None:
        with self._cv:
            return list(self.pending).index(jid) if jid in self.pending else None

    def listing(self) -> list[dict[str, Any]]:
        with self._cv:
            order = {jid: k for k, jid in enumerate(self.pending)}
            entries = sorted(self.entries.values(), key=lambda e: (e.finished, order.get(e.id, -1), -e.created))
            return [e.status(order.get(e.id)) for e in entries]

    def move(self, jid: str, to: str | int) -> list[str]:
        """Move a waiting job "front", "up", "down", "back" or to index `to` of the line; returns
        the waiting jobs' ids in their new order (kept on disk with a store). KeyError: no such
        job; NotWaiting: it runs or ended; UserError: `to` is no place."""
        with self._cv:
            entry = self.entries[jid]
            if entry.state != "queued" or jid not in self.pending:
                raise NotWaiting(f"the job is {entry.state}", "only a waiting job can be moved")
            line = list(self.pending)
            at = line.index(jid)
            named = {"front": 0, "up": at - 1, "down": at + 1, "back": len(line) - 1}
            if isinstance(to, bool) or not (to in named or isinstance(to, int)):
                raise UserError(f"cannot move a job to {to!r}", 'give "front", "up", "down", "back" or a place in line (0 is next)')
            place = max(0, min(len(line) - 1, named.get(to, to)))
            line.insert(place, line.pop(at))
            self.pending.clear()
            self.pending.extend(line)
            if self.store is not None:
                self.store.reorder(line)
            return line

    def stop(self, jid: str) -> str:
        """A queued job is dropped; a running one stops after its current step; an interrupted
        one is dismissed (the page stops offering to resume it; its partial stays)."""
        with self._cv:  # re-entrant from close()
            entry = self.entries[jid]
            if entry.state == "queued":
                self.pending.remove(jid)
                self._end(entry, "stopped")
            elif entry.state == "running":
                entry.stopping = True
                entry.cancel.set()
            elif entry.state == "interrupted" and not entry.dismissed:
                entry.dismissed = True
                self._keep(entry, dismissed=True)
            return entry.state

    def _forget_old(self) -> None:
        done = [e for e in self.entries.values() if e.finished]
        gone = [e.id for e in sorted(done, key=lambda e: e.created)[: max(0, len(done) - self.keep)]]
        for jid in gone:
            del self.entries[jid]
        if self.store is not None:
            self.store.delete(gone)

    @property
    def closing(self) -> bool:
        return self._closing

    def begin_close(self) -> None:
        """What `close` does, without waiting: Ctrl-C calls it first, so the running job ends (and
        its event streams with it) instead of the server waiting for it to finish."""
        with self._cv:
            self._closing = True
            if self.store is None:
                for jid in list(self.pending):
                    self.stop(jid)
            for e in self.entries.values():
                if e.state == "running":
                    e.cancel.set()
            self._cv.notify_all()

    def close(self, timeout: float = 30) -> None:
        """Stop the running job after its step and end the thread: a thread that has run torch
        must be gone before the interpreter exits, or torch's own threads abort it. With a store
        the waiting jobs stay queued on disk and the running one ends `interrupted`, its picture
        kept; without one the queue is dropped."""
        self.begin_close()
        self._thread.join(timeout)
        if self.store is not None and not self._thread.is_alive():
            self.store.close()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self.pending and not self._closing:
                    self._cv.wait()
                if self._closing:
                    return
                entry = self.entries[self.pending.popleft()]
                entry.state, entry.started = "running", time.time()
                # On disk before it runs: a crash from here on leaves it `interrupted`, never re-run.
                self._keep(entry, state=entry.state, started=entry.started)
                entry.events.append(("state", {"state": "running"}))
            self._run(entry)

    def _run(self, entry: Entry) -> None:
        try:
            entry.result = self.runner(entry.job, on_event=Listener(entry, self.store), cancel=entry.cancel)
            self._end(entry, "done")
        except Interrupted as exc:
            entry.result = getattr(exc, "gallery_id", None)
            entry.partial = str(exc.path) if exc.path else None
            if entry.stopping or self.store is None:
                self._end(entry, "stopped")
            else:  # the studio is closing (Ctrl-C): kept as interrupted, for Resume or Again
                self._end(entry, "interrupted", "interrupted: the studio was closed while this job ran", _resume_hint(entry))
        except UserError as exc:  # its hint in the studio's terms (no --weights FILE here)
            self._end(entry, "failed", exc.message, for_the_studio(entry.job, exc.hint))
        except Exception as exc:  # a bug: this job fails, the studio goes on
            LOG.error("job %s failed:\n%s", entry.id, traceback.format_exc())
            self._end(entry, "failed", f"internal error: {type(exc).__name__}: {exc}", "see the studio's terminal")

    def _end(self, entry: Entry, state: str, error: str | None = None, hint: str | None = None) -> None:
        entry.state, entry.error, entry.hint, entry.ended = state, error, hint, time.time()
        self._keep(entry, **entry.row())
        if self.store is not None:
            self.store.snapshot(entry.id).unlink(missing_ok=True)
        entry.events.append(("end", {"state": state, "error": error, "hint": hint, "result": entry.result, "network": entry.network}))

    def _keep(self, entry: Entry, **values: Any) -> None:
        if self.store is not None:
            self.store.update(entry.id, **values)

    def _recover(self) -> None:
        """The kept queue, as the last studio on this folder left it."""
        for row in self.store.rows():
            try:
                job = Job.from_json(row.job)
            except Exception as exc:  # damaged, or a newer schema: shown as failed, never run
                job, msg = None, exc.message if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
                if row.state in ("queued", "running"):
                    row.state, row.error, row.hint = "failed", f"this job could not be read back: {msg}", "make it again from the form"
                    self.store.update(row.id, state=row.state, error=row.error, hint=row.hint)
            fields = {k: v for k, v in vars(row).items() if k != "job"}
            entry = Entry(job=job, **fields)
            self.entries[entry.id] = entry
            if entry.state == "running":
                self._crashed(entry)
            if entry.state == "queued":
                self.pending.append(entry.id)
                entry.events.append(("state", {"state": "queued"}))
            else:
                entry.events.append(("end", {"state": entry.state, "error": entry.error, "hint": entry.hint, "result": entry.result}))
        for snap in self.store.snapshots.iterdir():  # a kept picture of no running job: not needed
            if snap.stem not in self.entries or self.entries[snap.stem].state != "running":
                snap.unlink(missing_ok=True)
        self._forget_old()

    def _crashed(self, entry: Entry) -> None:
        """A job that was running when the studio died: done if its output was written (only the
        record of it was lost), else interrupted with the last picture kept of it."""
        snap = self.store.snapshot(entry.id)
        out = Path(entry.job.output) if entry.job is not None and entry.job.output else None
        entry.ended = snap.stat().st_mtime if snap.is_file() else (entry.started or time.time())
        network = entry.job is not None and makes_network(entry.job)
        if out is not None and out.is_file():
            entry.state, entry.result, entry.step = "done", None if network else gallery_id(out.name), entry.total
        else:
            kept = out.with_name(f"{out.stem}.partial{out.suffix}") if out is not None else None
            # A network's partial is its own last checkpoint (core/network_output.py); the kept
            # picture of a training job is only its preview sheet, never a .pt.
            if kept is not None and not kept.is_file() and snap.is_file() and not network:
                try:
                    kept = write_atomically(partial_path(out), snap.read_bytes())
                except (UserError, OSError) as exc:
                    LOG.error("could not keep the picture of job %s: %s", entry.id, exc)
            if kept is not None and kept.is_file():
                entry.partial, entry.result = str(kept), None if network else gallery_id(kept.name)
            at = f" (at step {entry.step} of {entry.total})" if entry.total else ""
            entry.state, entry.error, entry.hint = "interrupted", CRASHED + at, _resume_hint(entry)
        self.store.update(entry.id, **entry.row())
        snap.unlink(missing_ok=True)


def makes_network(job: Job) -> bool:
    """Whether `job` writes a trained network (a .pt the network list shows), not a picture."""
    return registry.engine(job.engine).output == "network"


def _resume_hint(entry: Entry) -> str:
    if entry.partial is None:
        return "no picture of it was kept; Again runs it from the start"
    if entry.resumable:
        return "its picture so far is in the gallery; Resume goes on from it, Again starts afresh"
    return "its picture so far is in the gallery; Again (or Resume, the same here) runs it once more"


def _portable(job: Job) -> str:
    """The Job's JSON to keep, with its files' paths made absolute: a studio started again from
    another folder still finds them."""
    d = job.to_dict()
    for key, path in absolute(d["inputs"], d["settings"]).items():
        (d["inputs"] if key in d["inputs"] else d["settings"])[key] = path
    if d["output"]:
        d["output"] = os.path.abspath(d["output"])
    return json.dumps(d, sort_keys=True)
