"""How `run` finishes a job whose output is a trained network (engine "train"): the engine hands
back the network and what only it knows (losses, notes, the settings as run); `run` writes the file
with the Job and its provenance embedded, as it embeds them in every picture. While it trains,
and on Ctrl-C, the network so far is kept as NAME.partial.pt, which paints and resumes like a
finished one; the finished file replaces it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..errors import Interrupted
from ..media.network_file import NetworkFile, partial_network_path, save_network
from . import registry
from .context import Context, record_for
from .job import Job, Result


def _recorded(job: Job, ctx: Context, net: NetworkFile, **ran) -> NetworkFile:
    told = net.record or {}
    facts = {k: v for k, v in told.items() if k != "settings"}
    recorded = record_for(job, ctx, told.get("settings") or job.settings.to_dict(), {**facts, "iterations": net.iterations}, **ran)
    return dataclasses.replace(net, record=recorded)


def run_network(job: Job, ctx: Context, out: Path | None, force: bool) -> Result:
    partial = partial_network_path(out) if out is not None else None
    if partial is not None:
        # Checkpoints as the run goes: a run killed outright (no Ctrl-C) still leaves a network.
        def keep(net: NetworkFile, ran: Context = ctx) -> None:
            save_network(partial, _recorded(job, ran, net, interrupted={"iterations": net.iterations}))

        ctx = dataclasses.replace(ctx, keep=keep)
    try:
        [net] = registry.engine(job.engine).make()(job, ctx)
    except Interrupted as exc:
        if isinstance(exc.image, NetworkFile):
            kept = _recorded(job, ctx, exc.image, interrupted={"iterations": exc.image.iterations})
            exc.image = kept
            if out is not None:
                exc.path = save_network(partial_network_path(out), kept)
        raise
    net = _recorded(job, ctx, net)
    if out is not None:
        save_network(out, net)
        partial.unlink(missing_ok=True)  # the finished network supersedes its checkpoints
    return Result(job, [net], out)
