"""How `run` finishes a job whose output is a trained network (engine "train"): the engine hands
back the network and what only it knows (losses, notes, the settings as run); `run` writes the file
with the Job and its provenance embedded, as it embeds them in every picture, and on Ctrl-C keeps
the network so far as NAME.partial.pt, which paints and resumes like a finished one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..errors import Interrupted
from ..media import provenance
from ..media.network_file import NetworkFile, partial_network_path, save_network
from ..models.runtime import precision_name
from . import registry
from .context import Context
from .job import Job, Result, record


def _recorded(job: Job, ctx: Context, net: NetworkFile, **ran) -> NetworkFile:
    told = net.record or {}
    settings = dict(told.get("settings") or job.settings.to_dict())
    settings["model"] = ctx.backbone.name
    where = provenance.ran(ctx.backbone.weights, str(ctx.device), precision_name(ctx.dtype))
    facts = {k: v for k, v in told.items() if k != "settings"}
    return dataclasses.replace(net, record=record(job, {"settings": settings, "ran": {**where, **facts, "iterations": net.iterations}}, **ran))


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
