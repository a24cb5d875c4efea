"""Whether the workers see the driver's output folder: a probe file the driver writes there.

Shared storage (NFS, a cluster file system, the same disk on a one-machine cluster) lets each
worker write its outputs itself, atomically, in parallel. A worker on a node without it (or
with a different disk mounted under the same path) does not find the file holding this run's
token, so it returns its outputs as bytes and the driver writes them: slower for big batches,
never wrong. Each worker decides once, when it starts.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from ..errors import UserError

PROBE = ".dreamstyle-probe-"  # + the run's token; hidden, so no batch takes it for a picture


@contextlib.contextmanager
def probes(folders: list[Path], write_by: str = "auto") -> Iterator[str]:
    """A token for the workers, written into each output folder as PROBE+token: a worker that
    finds the files there sees the driver's folders (shared storage) and writes its outputs
    itself; one that does not returns them as bytes for the driver to write. `write_by="driver"`
    makes every worker return bytes (the token is then empty). The files go when the run ends."""
    if write_by not in ("auto", "driver"):
        raise UserError(f"unknown write_by {write_by!r}", "use 'auto' (workers write where they can) or 'driver'")
    if write_by == "driver":
        yield ""
        return
    token = secrets.token_hex(8)
    made = []
    try:
        for folder in folders:
            path = Path(folder) / f"{PROBE}{token}"
            path.write_text(token)
            made.append(path)
        yield token
    finally:
        for path in made:
            path.unlink(missing_ok=True)


def sees(folder: Path, token: str) -> bool:
    """Whether this process sees the driver's `folder` (the probe file holds `token`) and may write there."""
    try:
        return (folder / f"{PROBE}{token}").read_text() == token and os.access(folder, os.W_OK | os.X_OK)
    except OSError:
        return False
