"""Many Jobs, one model: run each one whose output is missing, report the bad ones, go on.

An engine run per picture is cheap next to loading a backbone, and `run` loads it once per
process. Outputs are named after their inputs and written atomically, so a batch stopped for
any reason resumes by running the same command again: finished outputs are skipped.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Interrupted, SettingError, UserError, as_user_error
from ..events import ItemDone, Listener, Reporter, Started
from .job import Job
from .runner import run


@dataclass
class BatchResult:
    done: list[Path] = field(default_factory=list)  # outputs written by this run
    skipped: list[Path] = field(default_factory=list)  # outputs that were already there
    failed: list[tuple[str, str]] = field(default_factory=list)  # (input, one-line reason)

    def summary(self) -> str:
        return f"{len(self.done)} written, {len(self.skipped)} already there, {len(self.failed)} failed"


def run_batch(jobs: list[Job], *, on_event: Listener | None = None, cancel: threading.Event | None = None,
              force: bool = False, stage: str = "batch") -> BatchResult:
    """`run` each job whose output is missing (every one with `force`). A bad item (a user error,
    or running out of memory) is reported as an ItemDone with status "failed" and the batch goes
    on; a setting the model cannot run (a `SettingError`) stops it, as it would fail every item; Ctrl-C or a cancel keeps the current item's picture so far as NAME.partial.png and raises
    `Interrupted` with `.path` set to it (or None) and `.result` the batch so far."""
    report = Reporter(on_event, cancel)
    inner = report.inner()
    result = BatchResult()
    report(Started(None, len(jobs), "item", stage))
    for k, job in enumerate(jobs):
        if cancel is not None and cancel.is_set():  # stopped between two items: nothing partial
            raise Interrupted(None, result=result)
        out = Path(job.output)
        source = str(job.source)
        if out.exists() and not force:
            result.skipped.append(out)
            report(ItemDone("item", k, len(jobs), path=out, status="skipped"))
            continue
        try:
            run(job, on_event=inner.on_event, cancel=cancel, force=force)
            result.done.append(out)
            report(ItemDone("item", k, len(jobs), path=out, status="written", message=source))
        except Interrupted as exc:
            exc.result = result
            raise
        except SettingError:
            raise  # every other item would fail the same way: the batch is refused, in one line
        except (UserError, MemoryError, RuntimeError) as exc:
            err = exc if isinstance(exc, UserError) else as_user_error(exc)
            if err is None:
                raise  # a RuntimeError that is not about memory is a bug: keep its traceback
            reason = err.message + (f" — {err.hint}" if err.hint else "")
            result.failed.append((source, reason))
            report(ItemDone("item", k, len(jobs), path=out, status="failed", message=said(source, reason)))
    return result


def said(source: str, reason: str) -> str:
    """The `error:` line's words for an item that failed with `reason` (its message, then " — "
    and its hint), here and on a cluster alike: most messages name the picture already ("x.jpg is
    not an image …"), so it is named only where they do not."""
    return reason if source in reason.partition(" — ")[0] else f"{source}: {reason}"
