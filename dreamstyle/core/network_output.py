"""How `run` finishes a job whose output is a trained network (engine "train"): the engine hands
back the network and what only it knows (losses, notes, the settings as run); `run` writes the file
with the Job and its provenance embedded, as it embeds them in every picture, and on Ctrl-C keeps
the network so far as NAME.partial.pt, which paints and resumes like a finished one."""

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
    return Result(job, [net], out)
