"""What every command shares: its options, written once; turning flags, a preset and `--from`
into settings; running the Jobs with the terminal listening; one line per user error.

Nothing here imports torch: a command imports what it needs when it runs, so `--help`,
`--version` and shell completion answer at once.
"""

from __future__ import annotations

import functools
import json
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import typer

from ..errors import Interrupted, UserError, as_user_error

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
# Set by the first Ctrl-C, checked by every run's steps; the studio and a cluster set their own.
CANCEL = threading.Event()
RUNNING = threading.Event()  # a run is under way: Ctrl-C can wait for the end of its step


def fail(message: str, hint: str | None = None) -> None:
    typer.echo(f"error: {message}" + (f" — {hint}" if hint else ""), err=True)
    raise typer.Exit(EXIT_USER_ERROR)


def guarded(fn):
    """Turn user errors into one line and exit 2; running out of memory is a user error too."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except UserError as exc:
            fail(exc.message, exc.hint)
        except (MemoryError, RuntimeError) as exc:
            err = as_user_error(exc)
            if err is None:
                raise
            fail(err.message, err.hint)

    return wrapper


def interrupt_once(signum, frame) -> None:
    # The first Ctrl-C cancels the run, which stops at the end of the step under way and saves
    # what it has: stopping mid-step could leave a frame half-written into a video. Outside a run
    # (loading, parsing) it stops at once. From then on the default action is back, so a second
    # Ctrl-C ends the process at once, even inside a long native call.
    CANCEL.set()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if RUNNING.is_set():
        sys.stderr.write("\nstopping after this step; Ctrl-C again to quit at once\n")
        return
    raise KeyboardInterrupt


def given(**flags: Any) -> dict[str, Any]:
    """Only the flags the user actually typed, so they override the preset and nothing else."""
    return {k: v for k, v in flags.items() if v is not None and v is not False}


def path_or_none(p: Path | None) -> str | None:
    return str(p) if p else None


# Shared options that are not settings: where the result goes and how the command talks.
NOT_SETTINGS = ("output", "from_", "force", "verbose", "preset", *("temporal", "blend", "temporal_weight", "long_term", "passes", "fps", "cuts", "debug_flow"),
                *("backend", "ray_address", "workers", "gpus_per_worker"), "grid", "grid_y")


def motion_flags(opts: dict[str, Any]) -> dict[str, Any]:
    """The clip flags typed (None where not), in MotionSettings' names."""
    from ..core.settings import LONG_TERM

    names = ("temporal", "blend", "temporal_weight", "passes", "fps", "cuts")
    flags = {k: opts.get(k) for k in names}
    flags["debug_flow"] = path_or_none(opts.get("debug_flow"))
    flags["long_term"] = list(LONG_TERM) if opts.get("long_term") else None
    return flags


def setting_flags(opts: dict[str, Any], **own: Any) -> dict[str, Any]:
    """The settings among a command's shared options and its own, as typed (see `given`)."""
    flags = {k: v for k, v in opts.items() if k not in NOT_SETTINGS}
    if flags.get("weights"):
        flags["weights"] = str(flags["weights"])
    return given(**flags, **own)


# Settings that name layers or channels of one backbone: meaningless after --model changes.
_PER_MODEL = ("layers", "content_layers", "style_layers", "channels")


def recorded(source: Path | None, command: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings and inputs of the Job embedded in an earlier output (--from), or nothing; the
    files they name are looked for where they are now (sources.refind)."""
    if source is None:
        return {}, {}
    from ..core.job import Job
    from ..core.locate import refind

    job = Job.from_png(source)
    if job.command != command:
        made = job.command
        raise UserError(f"{source} was made by `dreamstyle {made}`, not `dreamstyle {command}`", f"run `dreamstyle {made} --from {source}`")
    inputs, settings = refind(source, job.inputs, job.settings.to_dict(), job.ran)
    settings.ran = dict(job.ran or {})  # where it was made, for the notes of `settings_for`
    return settings, inputs


_PARTIAL = re.compile(r"(?P<stem>.+)\.partial(?:-\d+)?")


def from_output(source: Path | None, output, *typed_inputs: Any, force: bool = False):
    """Where a --from run writes: -o when given; when an input is typed too, the command's
    default beside it (None); else where the run it repeats wrote. An interrupted run's
    OUT.partial.EXT finishes as OUT.EXT in its folder (OUT-2.EXT … if taken, unless --force);
    a finished output is made again beside it as OUT-2.EXT …, never over it. A grid's picture
    or a clip's frame keeps the command's default (a grid's sheet, a video)."""
    if output is not None or source is None or any(v is not None for v in typed_inputs):
        return output
    from ..media.images import free_path

    made = _record_of(source)
    src = Path(source)
    if "grid" in (made.get("ran") or {}) or (made.get("motion") and src.suffix.lower() != ".gif"):
        return None
    partial = _PARTIAL.fullmatch(src.stem)
    if partial is None:
        return free_path(src)
    heading = src.with_name(partial["stem"] + src.suffix)
    return heading if force else free_path(heading)


def recorded_motion(source: Path | None) -> dict[str, Any] | None:
    """The motion settings of the clip an earlier output (--from) was a frame of, or None."""
    if source is None:
        return None
    import dataclasses

    from ..core.job import Job

    job = Job.from_png(source)
    return dataclasses.asdict(job.motion) if job.is_clip else None


def settings_for(cls: type, engine: str, preset: str | None, flags: dict[str, Any], earlier: dict[str, Any]):
    """defaults < an earlier output's settings (--from) < preset < the flags typed now."""
    from ..core.presets import merge
    from ..core.settings import build

    model = earlier.get("model", cls.model)
    values = merge(engine, preset, flags, model)
    for key, missing in getattr(earlier, "missing", {}).items():
        if key not in values:  # a recorded file that is gone, and nothing typed instead
            raise missing
    if earlier and not values.get("quiet"):
        from ..core.threads import rerun_notes

        for note in rerun_notes(getattr(earlier, "ran", None), earlier.get("threads"), values.get("threads")):
            typer.echo(f"note: {note}", err=True)
    if values.get("model", model) != model:
        earlier = {k: v for k, v in earlier.items() if k not in _PER_MODEL}
    return build(cls, {**earlier, **values})


def checked(engine: str, inputs: dict[str, Any], settings, motion=None):
    """The Job the command line asks for, its inputs as typed (a folder or glob still one path),
    refused in one line by its engine's own check (core/registry.py): the CLI has no checks of
    its own, so it refuses what the studio and the API refuse, in the same words, before a
    folder is expanded, an output named or a model loaded. `motion`: a zoom's frames, which its
    check counts masks against."""
    from ..core import registry
    from ..core.job import Job

    job = Job(engine, inputs, settings, motion=motion)
    registry.check(job)
    return job


def gridded(plan, opts: dict[str, Any]):
    """`plan` as an X/Y grid when --grid (--grid-y) asks for one, or when --from names a grid's
    picture and no axis is typed (it is made again); else `plan` as it is."""
    x, y = opts.get("grid"), opts.get("grid_y")
    if x is None and y is None and opts.get("from_") is not None:
        from ..media.images import read_settings

        made = (read_settings(opts["from_"]).get("ran") or {}).get("grid")
        if made:
            x, y = made["x"], made.get("y")
    if x is None and y is None:
        return plan
    if x is None:
        fail("--grid-y needs --grid", "give the columns' setting with --grid SETTING=VALUES")
    if plan.kind != "image":
        fail("--grid applies to one picture", "give one picture, not a folder, glob or video")
    from ..core.planning import grid_plan

    if isinstance(x, dict):
        from ..core.grid import Axis

        x, y = Axis(x["setting"], tuple(x["values"])), Axis(y["setting"], tuple(y["values"])) if y else None
    sheet = Path(str(opts.get("output") or plan.jobs[0].output))
    if sheet.exists() and not opts.get("force") and "grid" not in (_record_of(sheet).get("ran") or {}):
        fail(f"{sheet} exists and is not a grid's picture", "choose another -o, or add --force to overwrite it")
    return grid_plan(plan.jobs[0], x, y, output=sheet)


def _record_of(path) -> dict[str, Any]:
    from ..media.images import read_settings

    try:
        return read_settings(path)
    except UserError:
        return {}


def check_chatter(quiet: bool, verbose: bool) -> None:
    if quiet and verbose:
        fail("--quiet and --verbose contradict each other", "pick one")


def describe(values: dict[str, Any], indent: str = "  ") -> list[str]:
    """key value lines with aligned values, for --verbose and `info`."""
    width = max((len(k) for k in values), default=0)
    return [f"{indent}{k:<{width}}  {json.dumps(v) if isinstance(v, (list, dict)) or v is None else v}" for k, v in values.items()]


def show_settings(settings, source: Path | None, verbose: bool) -> None:
    if verbose:
        typer.echo("settings" + (f" (from {source}, with your flags on top)" if source else "") + ":", err=True)
        for line in describe(settings.to_dict()):
            typer.echo(line, err=True)


def cluster_of(opts: dict[str, Any]):
    """Where the command runs (--backend and its options), checked before anything else."""
    from ..core.settings import ClusterSettings

    return ClusterSettings(backend=opts.get("backend") or "local", address=opts.get("ray_address"),
                           workers=opts.get("workers"), gpus_per_worker=opts.get("gpus_per_worker"))  # fmt: skip


def _runner(plan, cluster, stage: str):
    """The function that runs `plan` where `cluster` says: f(on_event, cancel, force) -> result."""
    if cluster is not None and cluster.on_ray:
        from .. import cluster as ray_backend

        if plan.kind == "image":
            raise UserError("--backend ray runs batches, sweeps and clips", "give a folder or quoted glob of pictures, or drop --backend ray for one picture")
        if plan.kind == "clip":
            return lambda **kw: ray_backend.run_clip_on_ray(plan.jobs[0], cluster, **kw)
        return lambda **kw: ray_backend.run_batch_on_ray(plan.jobs, cluster, stage=stage, **kw)
    if plan.kind == "batch":
        from ..core.batch import run_batch

        return lambda **kw: run_batch(plan.jobs, stage=stage, **kw)
    from ..core.runner import run

    return lambda **kw: run(plan.jobs[0], **kw)


def execute(plan, *, force: bool, quiet: bool, verbose: bool, stage: str = "batch", cluster=None, said: bool = False):
    """Run a plan's Job (or a batch's Jobs), here or on the cluster `cluster` (ClusterSettings)
    names, with the terminal listening; say where the result went (with `said`, a --from run's
    whose name the user did not give, even with --quiet), or on Ctrl-C where what exists was
    kept, and exit 130. Returns the run's result."""
    from ..core.console import Console

    runner = _runner(plan, cluster, stage)
    console = Console(quiet=quiet, verbose=verbose)
    CANCEL.clear()  # a new command (in a test runner, the same process runs many)
    start = time.perf_counter()
    RUNNING.set()
    try:
        result = runner(on_event=console, cancel=CANCEL, force=force)
    except Interrupted as exc:
        console.close()
        typer.echo(_interrupted(plan.kind, exc), err=True)
        raise typer.Exit(EXIT_INTERRUPTED)
    finally:
        RUNNING.clear()
        console.close()
    took = f" after {time.perf_counter() - start:.1f} s" if verbose else ""
    if getattr(plan, "sheet", None) is not None and not result.failed:
        from ..engines.grid_sheet import write_grid

        write_grid(plan, force=True)  # the sheet of the cells there now: a rerun redraws it
        if not quiet:
            typer.echo(f"saved {plan.sheet} ({len(plan.jobs)} cells in {plan.outdir})", err=True)
    if plan.kind == "batch":
        if verbose or not quiet or result.failed:
            took = f" in {time.perf_counter() - start:.1f} s" if verbose else ""
            typer.echo(f"{plan.outdir}: {result.summary()}{took}", err=True)
        if verbose and hasattr(result, "where"):
            typer.echo(result.where(), err=True)
        if result.failed:
            raise typer.Exit(EXIT_USER_ERROR)
    elif verbose or not quiet or said:
        typer.echo(f"saved {result.output}{took}", err=True)
    return result


def _interrupted(kind: str, exc: Interrupted) -> str:
    if kind == "batch":
        where = f"; saved the current picture so far to {exc.path}" if exc.path else ""
        return f"interrupted{where}; run the same command again to resume"
    if kind == "clip" or exc.frames:
        if exc.path is not None:
            return f"interrupted: saved the {exc.frames} finished frames to {exc.path}"
        return "interrupted before any frame was finished"
    if exc.path is not None:
        return f"interrupted: saved the image so far to {exc.path}"
    return "interrupted before any image existed"


def examples(*lines: str) -> str:
    """A help epilog; a fenced block keeps one example per line under rich's markdown."""
    return "**Examples**\n\n```\n" + "\n".join(lines) + "\n```"
