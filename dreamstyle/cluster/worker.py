"""A cluster worker: the callable class Ray Data runs in each actor process.

Each row is a Job's JSON (and, for a clip, the chunk of frames to make). The worker runs it with
`run`, whose model cache loads the backbone once per process, and writes the output atomically
into the driver's folder when it can see that folder (the driver's probe file is there: shared
storage), or else returns the PNG bytes for the driver to write. Either way the file carries the
same Job JSON and the same pixels a local run writes: `run` computes with the thread count the
Job names (the driver's, core/threads.py), not the one Ray started this process with. Every
error a user can fix comes back as a status; only the death of the process itself is left to
Ray's retries.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import UserError, as_user_error
from ..events import Listener, Step
from ..core.job import Job
from ..core.runner import loads, run
from .reach import sees

FIELDS = ("index", "status", "message", "node", "pid", "start", "seconds", "loads", "by", "data")


class Worker:
    """Runs rows one at a time. `folders` are where outputs go, `token` the driver's probe
    ("" to always return bytes), `force` whether an existing output may be replaced."""

    def __init__(self, folders: list[str], token: str, force: bool = False):
        self.writes = bool(token) and all(sees(Path(f), token) for f in folders)
        self.force = force
        self.node = socket.gethostname()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        done = [self.one(int(i), str(j), str(c)) for i, j, c in zip(batch["index"], batch["job"], batch["chunk"])]
        return {k: [d[k] for d in done] for k in FIELDS}

    def one(self, index: int, job_json: str, chunk_json: str) -> dict[str, Any]:
        began, start = time.time(), time.perf_counter()
        status, message, data = "written", "", []
        try:
            job = Job.from_json(job_json)
            listen = _kill_switch(job)
            if chunk_json:
                from .chunks import Chunk, run_chunk

                spec = json.loads(chunk_json)
                folder = Path(spec.pop("folder")) if self.writes else None
                data = run_chunk(job, Chunk(**spec), folder, listen)
            else:
                data = self.picture(job, listen)
        except UserError as exc:
            status, message = "failed", _line(exc)
        except Exception as exc:  # noqa: BLE001  reported, not retried: it would fail again
            err = as_user_error(exc) if isinstance(exc, (MemoryError, RuntimeError)) else None
            status, message = "failed", _line(err) if err else f"internal error (a bug: please report it): {type(exc).__name__}: {exc}"
        return {"index": index, "status": status, "message": message, "node": self.node, "pid": os.getpid(),
                "start": began, "seconds": time.perf_counter() - start, "loads": loads(), "by": "worker" if self.writes else "driver",
                "data": data}  # fmt: skip

    def picture(self, job: Job, listen: Listener | None) -> list[bytes]:
        if self.writes:
            if Path(job.output).exists() and not self.force:
                # The driver left out every output that existed when the run began, so an earlier
                # try of this item wrote it (atomically: it is whole) and died before saying so.
                return []
            run(job, on_event=listen, force=self.force)
            return []
        # The file `run` writes, read back: the same bytes a local run writes (the embedded Job
        # never names its output file).
        with tempfile.TemporaryDirectory(prefix="dreamstyle-") as tmp:
            out = Path(tmp) / Path(job.output).name
            run(job.replace(output=str(out)), on_event=listen)
            return [out.read_bytes()]


def _line(err: UserError) -> str:
    return err.message + (f" — {err.hint}" if err.hint else "")


# Test-only (tests/test_cluster.py): the name of a JSON file mapping input stems to "once",
# "always" or "count". A worker given such an item notes the attempt beside the file and, unless
# "count", ends its own process at the item's first step, as a crash in native code or the OOM
# killer would ("once": only the first time). Unset, as it always is for users, it does nothing.
TEST_KILL = "DREAMSTYLE_TEST_KILL"


def _kill_switch(job: Job) -> Listener | None:
    spec = os.environ.get(TEST_KILL)
    if not spec:
        return None
    stem = Path(str(next(iter(job.inputs.values())))).stem
    how = json.loads(Path(spec).read_text()).get(stem)
    if how is None:
        return None
    with open(f"{spec}.{stem}.tries", "a") as f:  # the test counts the attempts
        f.write(f"{os.getpid()}\n")
    if how == "count":
        return None
    if how == "once":
        try:
            os.close(os.open(f"{spec}.{stem}.died", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return None

    def die(event) -> None:
        if isinstance(event, Step):
            os._exit(1)

    return die
