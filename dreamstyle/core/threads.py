"""How many CPU threads torch computes with, which changes the bytes a run writes on the CPU.

A convolution's or a matrix product's sums are split over the threads, and another split adds
the same numbers in another order: a 256 px default dream of samples/cat.jpg made with one thread
and with two differs by 12 levels of 255 on average (docs/reproducing.md). So the count is a setting (`--threads`;
None: torch's own, one per core), `run` computes with it (`applied`), the record holds the count
that ran (`count`), and `--from` runs with the recorded one. What else decides the bytes on this
machine (the CPU's vector instructions, the torch version) is recorded beside it
(media/provenance.py), and `rerun_notes` says when a re-run differs in any of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any


def count(threads: int | None = None) -> int:
    """The thread count a run of `threads` computes with: the one it names, else torch's now."""
    import torch

    return threads if threads is not None else torch.get_num_threads()


@contextlib.contextmanager
def applied(threads: int | None) -> Iterator[int]:
    """torch computing with `threads` threads (None: as it is) for the `with` block; the count
    before is set again afterwards. torch's count is the process's, so runs that overlap in one
    process (the studio runs one at a time) share it."""
    import torch

    before = torch.get_num_threads()
    n = count(threads)
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def pinned(job):
    """`job` naming the thread count this process would run it with, for a run in another
    process (a cluster worker, whose own count Ray sets to its CPUs, often 1): so it makes the
    picture a run here makes. A job that names its count already is left as it is."""
    import dataclasses

    if job.settings.threads is not None:
        return job
    return job.replace(settings=dataclasses.replace(job.settings, threads=count()))


def rerun_notes(ran: Mapping[str, Any] | None, recorded: int | None, typed: int | None) -> list[str]:
    """What may keep a re-run (`--from`) of an output from writing its bytes again: a thread
    count typed over the recorded one, other vector instructions, another torch."""
    ran = ran or {}
    notes = []
    if typed is not None and recorded is not None and typed != recorded:
        notes.append(f"--threads {typed} instead of the {recorded} recorded: on the CPU the picture may differ")
    import torch

    made_on, here = ran.get("cpu_capability"), torch.backends.cpu.get_cpu_capability()
    if made_on is not None and made_on != here:
        notes.append(f"it was made on a CPU with {made_on}, this one runs {here}: on the CPU the picture may differ")
    if ran.get("torch"):
        if ran["torch"] != torch.__version__:
            notes.append(f"it was made with torch {ran['torch']}, this is torch {torch.__version__}: the picture may differ")
    return notes
