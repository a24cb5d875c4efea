"""Joining a Ray cluster, and running rows on its workers with Ray Data.

The pattern Ray documents for batch inference: `map_batches` over a callable class on a fixed
pool of actors (`ActorPoolStrategy`), one row per call (`batch_size=1`), so each actor, a
worker process, loads the model once and keeps it. Two departures from Ray Data's defaults,
both so that a run always ends:

- Ray Data retries a task whose worker died without end (`max_task_retries=-1`), so an item that
  kills every worker it lands on (a crash in native code, the OOM killer) would never finish.
  Here a task is retried RETRIES times and then given up, while the actor itself is restarted as
  often as needed (`max_restarts=-1`): with bounded restarts, a pool whose actors have used them
  up stops taking work and the run hangs (seen with Ray 2.60).
- Ray Data fails a whole run when one block fails. Here each row is a block of its own and failed
  blocks are tolerated (`max_errored_blocks=-1`); the driver sees which rows never came back and
  reports them lost.

Application errors (a bad picture, a bad setting, out of memory) never reach Ray: the worker
catches them and returns them in its status, so they are reported and not retried.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import Interrupted, UserError
from ..core.settings import ClusterSettings

INSTALL = "pip install 'dreamstyle[ray]'"
RETRIES = 2  # a row whose worker died is run again this many times, then reported lost
POLL_S = 0.2  # how often the driver looks at the cancel flag while it waits for rows


def import_ray():
    """Ray with Ray Data, or the one-line error saying what to install."""
    try:
        import ray
        import ray.data  # noqa: F401  (needs pandas and pyarrow, which plain `ray` lacks)
    except ImportError as exc:
        missing = f" ({exc.name} is missing)" if exc.name else ""
        raise UserError(f"--backend ray needs Ray Data{missing}", f"install it: {INSTALL}") from None
    return ray


@dataclass(frozen=True)
class Pool:
    """The workers a run asks for: how many, and what each one holds."""

    workers: int
    gpus: float  # per worker; 0: a CPU worker
    cpus: float = 1.0


def plan_pool(resources: dict[str, float], s: ClusterSettings) -> Pool:
    """One worker per GPU (`gpus_per_worker` each) where the cluster has GPUs, else one
    single-CPU worker per CPU; refused when the cluster cannot hold them, since Ray would
    otherwise wait for resources that never come."""
    gpus, cpus = float(resources.get("GPU", 0)), float(resources.get("CPU", 0))
    per = s.gpus_per_worker if s.gpus_per_worker is not None else (1.0 if gpus >= 1 else 0.0)
    n = s.workers or max(1, int(gpus // per) if per else int(cpus))
    if per and n * per > gpus:
        raise UserError(f"{n} workers x {per:g} GPU need {n * per:g} GPUs, and the cluster has {gpus:g}",
                        "use fewer --workers, a smaller --gpus-per-worker, or --gpus-per-worker 0 for CPU workers")  # fmt: skip
    if n > cpus:
        raise UserError(f"{n} workers need {n} CPUs, and the cluster has {cpus:g}", "use fewer --workers")
    return Pool(n, per)


@dataclass
class Status:
    """What a worker says of one row."""

    index: int
    status: str  # "written" | "failed" | "lost"
    message: str = ""
    node: str = ""
    pid: int = 0
    start: float = 0.0  # when the worker began the row (its clock, seconds since the epoch)
    seconds: float = 0.0  # the row's own time on the worker, model loading included the first time
    loads: int = 0  # backbones the worker's process had loaded by then
    by: str = ""  # who wrote the output: "worker", or "driver" (from the bytes in `data`)
    data: list[bytes] = field(default_factory=list, repr=False)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Status":
        return cls(int(row["index"]), str(row["status"]), str(row["message"]), str(row["node"]), int(row["pid"]),
                   float(row["start"]), float(row["seconds"]), int(row["loads"]), str(row["by"]),
                   [bytes(b) for b in row["data"]])  # fmt: skip


def lost(index: int, tries: int) -> Status:
    return Status(index, "lost", f"lost: the worker running it died {tries} times (a crash in native code, or "
                                 "killed for memory?); rerun to try again, the node's Ray logs say more")  # fmt: skip


class Session:
    """A joined cluster and the pool of workers a run will use there."""

    def __init__(self, ray, pool: Pool):
        self.ray, self.pool = ray, pool

    def map(self, rows: list[dict[str, Any]], worker_args: dict[str, Any], cancel: threading.Event | None,
            retries: int = RETRIES) -> Iterator[Status]:
        """Run `rows` ({"index", "job", "chunk"}) on the workers: each row's status as it comes
        back, in the order they finish, then a "lost" one for each row that never did (its
        worker died 1 + `retries` times). A set `cancel` stops the run with `Interrupted`."""
        from ray.data import ActorPoolStrategy, DataContext

        from .worker import Worker

        ctx = DataContext.get_current()
        saved = ctx.max_errored_blocks, ctx.enable_progress_bars
        ctx.max_errored_blocks, ctx.enable_progress_bars = -1, False  # our bar, our report of lost rows
        try:
            ds = self.ray.data.from_items(rows, override_num_blocks=len(rows))
            with warnings.catch_warnings():
                # Ray 2.60 deprecates passing actor options such as the retry bound here, with no
                # named replacement yet; pyproject's extra keeps Ray below 2.64, which drops it.
                warnings.simplefilter("ignore", DeprecationWarning)
                ds = ds.map_batches(
                    Worker, fn_constructor_kwargs=worker_args, batch_size=1,
                    compute=ActorPoolStrategy(size=min(self.pool.workers, len(rows)), max_tasks_in_flight_per_actor=1),
                    num_cpus=self.pool.cpus, **({"num_gpus": self.pool.gpus} if self.pool.gpus else {}),
                    max_restarts=-1, max_task_retries=retries,
                )  # fmt: skip
            seen = set()
            for row in _streamed(ds, cancel):
                status = Status.from_row(row)
                seen.add(status.index)
                yield status
        finally:
            ctx.max_errored_blocks, ctx.enable_progress_bars = saved
        for row in rows:
            if row["index"] not in seen:
                yield lost(row["index"], retries + 1)


def _streamed(ds, cancel: threading.Event | None) -> Iterator[dict[str, Any]]:
    """The dataset's rows, read in a thread so the driver can notice a cancel (Ctrl-C) while a
    long item runs; on cancel the thread stops reading, which ends the run and its workers."""
    rows: queue.Queue = queue.Queue()
    stop = threading.Event()
    end = object()

    def pump() -> None:
        try:
            for row in ds.iter_rows():
                rows.put(row)
                if stop.is_set():
                    break
            rows.put(end)
        except BaseException as exc:  # handed to the driver's thread, which raises it
            rows.put(exc)

    threading.Thread(target=pump, name="dreamstyle-ray-rows", daemon=True).start()
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise Interrupted(None)
            try:
                item = rows.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


# What Ray says, somewhere in the chain of a failed ray.init, when the cluster uses token
# authentication (Ray 2.60's default for a `ray start` cluster) and did not get the right token.
_TOKEN_REFUSED = ("InvalidAuthToken", "Unauthenticated", "authentication token is missing or incorrect")
_TOKEN_NOT_FOUND = "no authentication token was found"
_TOKEN_WHERE = "RAY_AUTH_TOKEN=TOKEN (or RAY_AUTH_TOKEN_PATH=FILE); `ray get-auth-token` on the head node prints it"


def join_error(exc: BaseException, address: str | None) -> UserError:
    """The one line for a ray.init that failed: a token problem says so and names the
    environment variables Ray reads; only anything else is blamed on the address."""
    where = address or "RAY_ADDRESS or this machine"
    chain, seen = [], exc
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = "\n".join(f"{type(e).__name__}: {e}" for e in chain)
    if _TOKEN_NOT_FOUND in text:
        return UserError(f"could not join the Ray cluster at {where}: RAY_AUTH_MODE=token, but no Ray token was found",
                         f"set {_TOKEN_WHERE}")  # fmt: skip
    if any(type(e).__name__ == "AuthenticationError" for e in chain) or any(w.lower() in text.lower() for w in _TOKEN_REFUSED):
        if os.environ.get("RAY_AUTH_MODE", "").strip().lower() == "token":
            return UserError(f"the Ray cluster at {where} refused this machine's token (token authentication)",
                             f"set the cluster's own token: {_TOKEN_WHERE}")  # fmt: skip
        return UserError(f"the Ray cluster at {where} needs a token (token authentication), and none was sent",
                         f"set RAY_AUTH_MODE=token and {_TOKEN_WHERE}")  # fmt: skip
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return UserError(f"could not join the Ray cluster at {where}: {first}",
                     "check the address (`ray status` on the head node shows it), or leave --ray-address out to start one here")  # fmt: skip


# Ray's C++ log level, read by each of its processes as it starts; when set, the process says so
# on stderr in a line of its own (LEVEL_SET).
BACKEND_LOG = "RAY_BACKEND_LOG_LEVEL"
LEVEL_SET = "Set ray log level from environment variable " + BACKEND_LOG


@contextlib.contextmanager
def quiet_backend() -> Iterator[None]:
    """Ray's C++ side of this process at level fatal, unless the user set a level. Its logger
    copies every error line to stderr, and Ray Data's actors (constructor arguments in the object
    store, `max_restarts=-1`) make the driver log one at every run (`E … core_worker.cc:2465 …
    max_restarts > 0`, https://github.com/ray-project/ray/issues/53727): noise between the bar and
    the `error:` lines. The level is read as ray.init starts the driver's core and, for a cluster
    started here, its processes; the line that says it was set is dropped from what ray.init wrote
    on stderr, the rest written there as it came."""
    if BACKEND_LOG in os.environ:
        yield
        return
    sys.stderr.flush()
    os.environ[BACKEND_LOG] = "fatal"
    stderr = os.dup(2)
    try:
        with tempfile.TemporaryFile() as said:
            os.dup2(said.fileno(), 2)  # C++ writes to the descriptor, not to sys.stderr
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(stderr, 2)
                os.environ.pop(BACKEND_LOG, None)
                said.seek(0)
                lines = said.read().decode(errors="replace").splitlines(keepends=True)
                sys.stderr.write("".join(line for line in lines if LEVEL_SET not in line))
    finally:
        os.close(stderr)


@contextlib.contextmanager
def joined(s: ClusterSettings) -> Iterator[Session]:
    """The cluster `s` names, joined by ray.init's own rules when `s.address` is None
    (RAY_ADDRESS, which `ray job submit` sets; a cluster `ray start` began on this machine; else
    a new local one), and left again afterwards. A Ray this process had already initialised is
    used as it is and left running."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        try:
            with quiet_backend():
                ray.init(address=s.address, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as exc:  # RayError: AuthenticationError
            raise join_error(exc, s.address) from None
    # Ray Data logs each tolerated failure with a traceback (the run reports those rows itself),
    # and, when a Ctrl-C has stopped a run under way, its threads' surprise at the shutdown.
    log = logging.getLogger("ray.data")
    level, stopped = log.level, False
    log.setLevel(logging.CRITICAL)
    try:
        yield Session(ray, plan_pool(ray.cluster_resources(), s))
    except BaseException:
        stopped = True
        raise
    finally:
        if not stopped:
            log.setLevel(level)
        if started:
            hook = getattr(getattr(ray, "_private", None), "auto_init_hook", None)
            if stopped and hook is not None:
                # The thread reading rows may still be inside Ray Data; its next call after the
                # shutdown would start a new local Ray (Ray's auto-init) behind the user's back.
                hook.enable_auto_connect = False
            ray.shutdown()
