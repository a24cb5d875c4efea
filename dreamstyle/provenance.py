"""What an output records of where it was made: the engine's settings as run, the weights file's
identity, the device, precision and versions (completed into a Job's JSON by `run`)."""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .settings import CommonSettings


def metadata(engine: str, settings: "CommonSettings", weights: str, inputs: dict[str, Any] | None = None,
             device: str = "", precision: str = "") -> dict[str, Any]:
    """What an engine knows of the picture it made, in the shape of a Job's JSON (job.py): the
    settings as run (layers and model resolved) and where it ran; `run` completes the record
    with the job's own engine name, inputs, motion and output before it is embedded."""
    import torch

    from .version import __version__

    return {
        "engine": engine,
        "inputs": inputs or {},
        "settings": settings.to_dict(),
        "ran": {
            "weights": weights,
            "weights_file": weights_identity(weights),
            "device": device,
            "precision": precision,
            "dreamstyle": __version__,
            "torch": torch.__version__,
        },
    }


def weights_identity(path: str) -> dict[str, Any] | None:
    """Size and a SHA-256 prefix of the weights file: a path alone does not say which weights a
    file held when the output was made, and a re-run elsewhere has a different path anyway."""
    import os

    try:
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return None  # not a local file (no weights, or a name only)
    return {"bytes": st.st_size, "sha256": _sha256_prefix(path, st.st_size, st.st_mtime_ns)}


@functools.lru_cache(maxsize=8)
def _sha256_prefix(path: str, size: int, mtime_ns: int) -> str:
    # Keyed on size and mtime too, so snapshots of one run hash the file once but an edited
    # file is hashed again.
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
