"""Batches, sweeps and clips on a Ray cluster: the same Jobs a local batch runs, spread over
workers that each load the model once.

    session.py  joining a cluster by ray.init's own rules (Ray's C++ log kept off the terminal);
                how many workers it holds; Ray Data over the rows with bounded retries, streamed
                back as statuses
    worker.py   the callable class a worker is: a row (a Job, or a chunk of a clip) in, the output
                written (or returned as bytes) and a small status out
    probe.py    whether the workers see the driver's output folder, or hand their outputs back
    batch.py    a batch or sweep on the cluster: skip what exists, one bar, the local summary
    chunks.py   a clip cut into chunks with warm-up frames; a worker's run of one chunk
    clip.py     a clip on the cluster: its chunks on the workers, joined into the output

Nothing here imports Ray until a run needs it, and the error without it names the extra to
install: `pip install 'dreamstyle[ray]'`.
"""

from __future__ import annotations

from .batch import ClusterResult, run_batch_on_ray
from .clip import run_clip_on_ray

__all__ = ["ClusterResult", "run_batch_on_ray", "run_clip_on_ray"]
