"""What an output records of where it was made: the weights file's identity, the device,
precision and versions. `run` alone asks for it, once per picture it finishes (core/runner.py)."""

from __future__ import annotations

from typing import Any

from .digests import sha256_prefix


def ran(weights: str, device: str = "", precision: str = "") -> dict[str, Any]:
    """The "ran" part of a record (core/job.py): the weights, their file's identity, the device,
    the precision and the versions."""
    import torch

    from ..version import __version__

    return {
        "weights": weights,
        "weights_file": weights_identity(weights),
        "device": device,
        "precision": precision,
        "dreamstyle": __version__,
        "torch": torch.__version__,
        # The vector instructions torch's CPU kernels use (AVX2, AVX512, …): other ones may group
        # a CPU run's sums otherwise (its thread count is a setting: core/threads.py).
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def weights_identity(path: str) -> dict[str, Any] | None:
    """Size and a SHA-256 prefix of the weights file: a path alone does not say which weights a
    file held when the output was made, and a re-run elsewhere has a different path anyway."""
    import os

    try:
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return None  # not a local file (no weights, or a name only)
    return {"bytes": st.st_size, "sha256": sha256_prefix(path)}
