"""The studio's queue on disk, so a crash or Ctrl-C loses no job: OUT/.dreamstyle/queue.sqlite.

One row per job (its id, its Job JSON, state, times, step, result, error and hint), written in
its own committed transaction before the page hears of it (a submit is on disk before its 201)
and again at every change of state. SQLite rather than a JSON file per job: a row changes in one
transaction with no temp-file-and-rename dance, the order of submission is the row's sequence
number, and the worker thread and the HTTP threads write through one lock-guarded connection. WAL
mode, so a commit appends to the log instead of rewriting pages; `synchronous=FULL`, so a
committed job survives a power cut too, not only a killed process (a few fsyncs per job).

Beside it: `studio.lock`, held (flock) by the one studio that owns this folder's queue, so two
studios on one folder never run the same job; and `snapshots/ID.png`, the latest picture of the
running job with its record, written atomically every few seconds, which a restart keeps as the
interrupted job's partial picture.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no lock; one studio per folder is then the user's to keep
    fcntl = None

LOG = logging.getLogger("dreamstyle.studio")
STATE_DIR = ".dreamstyle"
VERSION = 1
COLUMNS = ("id", "engine", "job", "state", "created", "started", "ended", "step", "total", "result",
           "partial", "error", "hint", "next", "dismissed")  # fmt: skip
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order jobs came in, and run in
    id        TEXT NOT NULL UNIQUE,
    engine    TEXT NOT NULL,
    job       TEXT NOT NULL,                      -- Job.to_json(), paths made absolute
    state     TEXT NOT NULL,                      -- queued running done stopped failed interrupted
    created   REAL NOT NULL,
    started   REAL,
    ended     REAL,
    step      INTEGER NOT NULL DEFAULT 0,
    total     INTEGER NOT NULL DEFAULT 0,
    result    TEXT,                               -- the gallery id of its picture (or partial)
    partial   TEXT,                               -- the path of its partial picture, if any
    error     TEXT,
    hint      TEXT,
    next      TEXT,                               -- the job Resume or Again made from it
    dismissed INTEGER NOT NULL DEFAULT 0,         -- an interrupted job the page was told to forget
    rank      REAL                                -- its place in line once moved (else its seq)
)
"""
# A queue kept before jobs could be moved has no `rank`: added on opening (an older studio reading
# the file again ignores it, and runs its waiting jobs in the order they came).
RANK = "ALTER TABLE jobs ADD COLUMN rank REAL"


class Busy(UserError):
    """Another studio holds this folder's queue."""


@dataclass
class Row:
    id: str
    engine: str
    job: str
    state: str
    created: float
    started: float | None
    ended: float | None
    step: int
    total: int
    result: str | None
    partial: str | None
    error: str | None
    hint: str | None
    next: str | None
    dismissed: bool


class Store:
    """The queue's rows in OUT/.dreamstyle/; raises Busy when another studio (in this process or
    another) holds them, and UserError when the folder cannot hold them."""

    def __init__(self, out: Path):
        self.folder = Path(out) / STATE_DIR
        self.snapshots = self.folder / "snapshots"
        self._lock = threading.Lock()
        try:
            self.snapshots.mkdir(parents=True, exist_ok=True)
            self._lockfile = _take_lock(self.folder / "studio.lock")
            self.db = sqlite3.connect(self.folder / "queue.sqlite", check_same_thread=False, isolation_level=None, timeout=10)
        except OSError as exc:
            self._release()
            raise UserError(f"cannot keep the queue in {self.folder}: {exc.strerror or exc}", "check the output folder's permissions and free space") from None
        except sqlite3.Error as exc:
            self._release()
            raise UserError(f"cannot open the queue {self.folder / 'queue.sqlite'}: {exc}",
                            "move it aside and start the studio again: it begins a new queue") from None  # fmt: skip
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            found = self.db.execute("PRAGMA user_version").fetchone()[0]
            if found > VERSION:
                raise UserError(f"the queue in {self.folder} was written by a newer dreamstyle", "upgrade dreamstyle, or use another --out")
            self.db.execute(SCHEMA)
            if "rank" not in {r[1] for r in self.db.execute("PRAGMA table_info(jobs)")}:
                self.db.execute(RANK)
            self.db.execute(f"PRAGMA user_version={VERSION}")
        except (sqlite3.Error, UserError) as exc:
            self.close()
            if isinstance(exc, UserError):
                raise
            raise UserError(f"cannot read the queue {self.folder / 'queue.sqlite'}: {exc}",
                            "move it aside and start the studio again: it begins a new queue") from None  # fmt: skip

    def rows(self) -> list[Row]:
        """Every job kept, in line: the order they came, as moved since (`reorder`)."""
        try:
            with self._lock:
                got = self._db().execute(f"SELECT {', '.join(COLUMNS)} FROM jobs ORDER BY COALESCE(rank, seq), seq").fetchall()
        except sqlite3.Error as exc:
            raise UserError(f"cannot read the queue {self.folder / 'queue.sqlite'}: {exc}",
                            "move it aside and start the studio again: it begins a new queue") from None  # fmt: skip
        return [Row(*r[:-1], bool(r[-1])) for r in got]

    def add(self, values: dict[str, Any]) -> None:
        """A new job, committed before this returns; a UserError if it could not be."""
        names = [c for c in COLUMNS if c in values]
        try:
            with self._lock:
                self._db().execute(f"INSERT INTO jobs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                                [values[c] for c in names])  # fmt: skip
        except sqlite3.Error as exc:
            raise UserError(f"could not keep the job on disk ({exc})", f"check free space in {self.folder.parent}") from None

    def update(self, jid: str, **values: Any) -> bool:
        """Change a job's row; False (and a line in the log) if the disk refused: the studio goes on."""
        unknown = set(values) - set(COLUMNS)
        if unknown:
            raise ValueError(f"no such columns: {sorted(unknown)}")
        try:
            with self._lock:
                self._db().execute(f"UPDATE jobs SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?", [*values.values(), jid])
            return True
        except sqlite3.Error as exc:
            LOG.error("could not record job %s in %s: %s", jid, self.folder, exc)
            return False

    def reorder(self, ids: list[str]) -> bool:
        """Put the jobs `ids` in this order among themselves, in one transaction: they take the
        places in line they held between them, so a job added later still goes last. False (and a
        line in the log) if the disk refused."""
        if not ids:
            return True
        try:
            with self._lock:
                db = self._db()
                marks = ", ".join("?" * len(ids))
                places = sorted(r[0] for r in db.execute(f"SELECT COALESCE(rank, seq) FROM jobs WHERE id IN ({marks})", ids))
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany("UPDATE jobs SET rank = ? WHERE id = ?", list(zip(places, ids)))
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            return True
        except sqlite3.Error as exc:
            LOG.error("could not keep the queue's order in %s: %s", self.folder, exc)
            return False

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        try:
            with self._lock:
                self._db().executemany("DELETE FROM jobs WHERE id = ?", [(i,) for i in ids])
        except sqlite3.Error as exc:
            LOG.error("could not forget jobs in %s: %s", self.folder, exc)
        for jid in ids:
            self.snapshot(jid).unlink(missing_ok=True)

    def _db(self) -> sqlite3.Connection:
        if self.db is None:
            raise sqlite3.ProgrammingError("the queue is closed")
        return self.db

    def snapshot(self, jid: str) -> Path:
        return self.snapshots / f"{jid}.png"

    def close(self) -> None:
        with self._lock:
            db, self.db = getattr(self, "db", None), None
        if db is not None:
            db.close()
        self._release()

    def _release(self) -> None:
        f, self._lockfile = getattr(self, "_lockfile", None), None
        if f is not None:
            f.close()  # closing the file releases its flock


def _take_lock(path: Path):
    f = open(path, "a+")
    if fcntl is None:
        return f
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip()
        f.close()
        raise Busy(f"another studio serves the queue of {path.parent.parent}" + (f" (process {holder})" if holder else ""),
                   "stop it, or give this one another --out") from None  # fmt: skip
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f


def open_store(out: Path) -> Store | None:
    """The folder's Store, or None (said on the terminal) when another studio holds it or the
    folder cannot keep it: this studio then works as before, its queue in memory only."""
    try:
        return Store(out)
    except UserError as exc:
        LOG.warning("this studio's queue is not kept on disk: %s (%s)", exc.message, exc.hint)
        return None
