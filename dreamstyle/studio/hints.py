"""What the studio says where the command line's words would not do: a backbone whose weights are
not here (the page cannot pass --weights), and a job's picture asked for when there is none."""

from __future__ import annotations

from typing import Any

RUNS_ANYWHERE = "efficientnet-lite0"  # bundled: runs on any machine, offline


def weights_hint(model: str) -> str | None:
    """What to do in the studio when `model`'s weights are not on this machine: the command
    line's offline error says where the file goes (models/hub.py), but its `--weights FILE` is
    refused here, so the other way out is choosing a model that runs. None for the bundled one."""
    from ..models.hub import weights_place

    if model == RUNS_ANYWHERE:
        return None
    found = weights_place(model)
    if found is None:  # vgg19-caffe: a converted file, which only --weights can name
        return (f"the studio cannot load {model}'s converted Caffe weights: choose a model that runs here "
                f"({RUNS_ANYWHERE} always does), or run it from the command line with --weights FILE")  # fmt: skip
    cached, url = found
    return (f"put {cached.name} (from {url}) at {cached}, then make it again; or choose a model that runs here "
            f"({RUNS_ANYWHERE} always does)")  # fmt: skip


def for_the_studio(job: Any, hint: str | None) -> str | None:
    """A failed job's hint in the studio's terms: one that tells to pass --weights (the offline
    error of a backbone without its weights) says what to do in the studio instead."""
    model = getattr(getattr(job, "settings", None), "model", None)
    if hint and "--weights" in hint and isinstance(model, str):
        return weights_hint(model) or hint
    return hint


def no_picture(entry: Any) -> tuple[int, str, str | None]:
    """(status, error, hint) for GET /api/jobs/ID/result when the job has no picture to give:
    409 while it may still make one, 404 once it ended without one, saying why."""
    state = entry.state
    if not entry.finished:
        return 409, f"the job is {state}, with no picture yet", f"wait for it to end (GET /api/jobs/{entry.id}/events)"
    if entry.network is not None or (state == "done" and entry.job is not None and entry.job.output.endswith(".pt")):
        return 404, f"the job made a network, not a picture: {entry.network or 'its .pt file'}", "paint with it: GET /api/networks lists it"
    again = "Again queues it once more"
    if state == "failed":
        return 404, f"the job failed, so it has no picture: {entry.error}", entry.hint
    if entry.started is None:
        return 404, f"the job was {state} before it ran, so it has no picture", again
    seen = f"its last preview is at GET /api/jobs/{entry.id}/preview;" if entry.preview is not None else ""
    return 404, f"the job was {state} at step {entry.step} before a picture of it was kept", f"{seen} {again}".strip()
