"""One worker thread owns the device and runs the studio's Jobs one at a time, in order.

Each job keeps what the page shows of it (state, step, losses, the latest preview) and a log of
events that the page's event streams read from; the worker only appends, so a stream that joins
late replays the log and then follows it.
"""

from __future__ import annotations

import io
import logging
import secrets
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import Interrupted, UserError
from ..events import Event, ItemDone, Step
from ..core.job import Job

LOG = logging.getLogger("dreamstyle.studio")
PREVIEW_STEPS = 3  # a preview needs at least this many steps since the last one…
PREVIEW_SECONDS = 0.25  # …and at least this long: whichever is rarer, so previews never slow a run
FINAL = ("done", "stopped", "failed")


@dataclass
class Entry:
    id: str
    job: Job
    state: str = "queued"
    step: int = 0
    total: int = 0
    stage: str = ""
    losses: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    hint: str | None = None
    result: str | None = None  # the gallery id of the output (a partial one when stopped)
    preview: bytes | None = None
    preview_n: int = 0
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in FINAL

    def status(self, position: int | None = None) -> dict[str, Any]:
        return {
            "id": self.id, "engine": self.job.engine, "state": self.state, "step": self.step, "total": self.total,
            "stage": self.stage, "losses": self.losses, "error": self.error, "hint": self.hint,
            "position": position, "result": self.result, "created": self.created, "started": self.started,
            "ended": self.ended,
        }  # fmt: skip


class Worker:
    """The queue and its one thread. `runner(job, on_event, cancel)` runs a job and returns the
    gallery id of what it wrote; the app supplies it (it knows the output folder)."""

    def __init__(self, runner: Callable[..., str | None], keep: int = 50):
        self.runner = runner
        self.keep = keep  # finished jobs remembered for the page; their pictures stay in the gallery
        self.entries: dict[str, Entry] = {}
        self.pending: deque[str] = deque()
        self._cv = threading.Condition(threading.RLock())
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="dreamstyle-studio-worker", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Entry:
        entry = Entry(secrets.token_hex(8), job)
        with self._cv:
            self.entries[entry.id] = entry
            self.pending.append(entry.id)
            entry.events.append(("state", {"state": "queued"}))
            self._forget_old()
            self._cv.notify()
        return entry

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

    def stop(self, jid: str) -> str:
        """A queued job is dropped; a running one stops after its current step."""
        with self._cv:  # re-entrant from close()
            entry = self.entries[jid]
            if entry.state == "queued":
                self.pending.remove(jid)
                self._end(entry, "stopped")
            elif entry.state == "running":
                entry.cancel.set()
            return entry.state

    def _forget_old(self) -> None:
        done = [e for e in self.entries.values() if e.finished]
        for e in sorted(done, key=lambda e: e.created)[: max(0, len(done) - self.keep)]:
            del self.entries[e.id]

    def close(self, timeout: float = 30) -> None:
        """Stop the running job after its step, drop the queue and end the thread: a thread that
        has run torch must be gone before the interpreter exits, or torch's own threads abort it."""
        with self._cv:
            self._closing = True
            for jid in list(self.pending):
                self.stop(jid)
            for e in self.entries.values():
                if e.state == "running":
                    e.cancel.set()
            self._cv.notify_all()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self.pending and not self._closing:
                    self._cv.wait()
                if self._closing:
                    return
                entry = self.entries[self.pending.popleft()]
                entry.state, entry.started = "running", time.time()
                entry.events.append(("state", {"state": "running"}))
            self._run(entry)

    def _run(self, entry: Entry) -> None:
        try:
            entry.result = self.runner(entry.job, on_event=_Listener(entry), cancel=entry.cancel)
            self._end(entry, "done")
        except Interrupted as exc:
            entry.result = getattr(exc, "gallery_id", None)
            self._end(entry, "stopped")
        except UserError as exc:
            self._end(entry, "failed", exc.message, exc.hint)
        except Exception as exc:  # a bug: this job fails, the studio goes on
            LOG.error("job %s failed:\n%s", entry.id, traceback.format_exc())
            self._end(entry, "failed", f"internal error: {type(exc).__name__}: {exc}", "see the studio's terminal")

    def _end(self, entry: Entry, state: str, error: str | None = None, hint: str | None = None) -> None:
        entry.state, entry.error, entry.hint, entry.ended = state, error, hint, time.time()
        entry.events.append(("end", {"state": state, "error": error, "hint": hint, "result": entry.result}))


class _Listener:
    """Turns a run's events into what the page shows, taking a preview when it is due."""

    def __init__(self, entry: Entry):
        self.entry = entry
        self.last_step = 0
        self.last_time = 0.0

    def __call__(self, event: Event) -> None:
        e = self.entry
        if isinstance(event, ItemDone) and event.level == 0 and event.kind in ("octave", "scale"):
            e.events.append(("item", {"kind": event.kind, "index": event.index, "count": event.count}))
        if not isinstance(event, Step) or event.level != 0:
            return
        e.step, e.total, e.stage = event.step, event.total, event.stage
        now, wall = time.monotonic(), time.time()
        due = event.step - self.last_step >= PREVIEW_STEPS and now - self.last_time >= PREVIEW_SECONDS
        if due or event.step == event.total:
            # Reading the losses syncs the device; only as often as the picture is shown.
            e.losses = event.losses()
        e.events.append(("step", {"step": e.step, "total": e.total, "stage": e.stage, "losses": e.losses}))
        if due:
            picture = event.picture()
            if picture is not None:
                buf = io.BytesIO()
                picture.save(buf, format="PNG")
                e.preview, e.preview_n = buf.getvalue(), e.preview_n + 1
                # `t`: when the step ended (server clock), so a client can tell how late it shows it.
                e.events.append(("preview", {"n": e.preview_n, "step": e.step, "t": wall}))
            self.last_step, self.last_time = event.step, time.monotonic()
