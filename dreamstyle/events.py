"""Progress as values: what a run reports, and the object engines report it through.

Engines never print. Each step they hand a `Tracker` the loss; it turns that into a `Step` event
for whoever listens (the terminal's bar, `--verbose` lines, the studio's live stream, a cluster's
status) and checks the run's cancel flag, so Ctrl-C, a Stop button and a cluster's cancel all
stop a run the same way: at the end of a step, with the picture as it stood.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: this module must stay importable without torch
    import threading

    from PIL import Image

    from .core.job import Job, Result


@dataclass(frozen=True)
class Started:
    """A run began. `total` counts `unit`s: steps for one picture, frames for a clip, items for a
    batch. Model, device and precision are what `auto` resolved to ("" before a model is loaded)."""

    job: "Job | None"
    total: int
    unit: str = "step"
    stage: str = ""
    model: str = ""
    weights: str = ""
    device: str = ""
    precision: str = ""
    level: int = 0  # 0 for the outermost run; a frame's or a batch item's own run is 1


@dataclass(frozen=True)
class Step:
    """One optimiser step. `losses()` and `picture()` cost a device sync and a render, so a
    listener calls them only when it shows them."""

    step: int  # 1-based, counted over every octave or scale of the run
    total: int
    stage: str
    losses: Callable[[], dict[str, float]]
    picture: Callable[[], "Image.Image | None"]
    level: int = 0


@dataclass(frozen=True)
class ItemDone:
    """A part of a run is finished: an octave or scale of one picture, a frame of a clip, an
    item of a batch (status written, skipped or failed, with the reason)."""

    kind: str  # "octave" | "scale" | "frame" | "item"
    index: int  # 0-based
    count: int | None
    image: "Image.Image | None" = None  # a frame as it was written
    path: Path | None = None  # a batch item's output
    status: str = "done"
    message: str = ""
    level: int = 0


@dataclass(frozen=True)
class Finished:
    result: "Result"
    seconds: float
    level: int = 0


@dataclass(frozen=True)
class Failed:
    """A run ended without its output: a user error (message — hint) or a cancel, in which case
    `partial` is where the picture so far was kept (None if nothing existed yet)."""

    message: str
    hint: str | None = None
    cancelled: bool = False
    partial: Path | None = None
    level: int = 0


Event = Started | Step | ItemDone | Finished | Failed
Listener = Callable[[Event], None]


class Reporter:
    """Where a run sends its events, and the cancel flag it obeys."""

    def __init__(self, on_event: Listener | None = None, cancel: "threading.Event | None" = None):
        self.on_event = on_event
        self.cancel = cancel

    def __call__(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def check(self) -> None:
        """Stop here if the run was cancelled: the engines already turn a KeyboardInterrupt into
        `Interrupted` with the picture so far, so a cancel is handled exactly like Ctrl-C."""
        if self.cancel is not None and self.cancel.is_set():
            raise KeyboardInterrupt

    def inner(self) -> "Reporter":
        """For a run inside this one (a frame, a batch item): its events one level deeper."""
        return Reporter(deeper(self.on_event) if self.on_event else None, self.cancel)

    def tracker(self, total: int, stage: str) -> "Tracker":
        return Tracker(self, total, stage)


def deeper(listener: Listener) -> Listener:
    def forward(event: Event) -> None:
        listener(dataclasses.replace(event, level=event.level + 1))

    return forward


def _nothing() -> None:
    return None


class Tracker:
    """Counts one run's steps over all its stages (octaves, scales) and reports each one.

    An engine sets `terms` (its loss parts, as tensors) and `picture` (a function that renders
    the picture as it stands, finished like an output) as it goes.
    """

    def __init__(self, report: Reporter, total: int, stage: str):
        self.report, self.total, self.stage = report, total, stage
        self.done = 0
        self.terms: dict[str, Any] = {}
        self.picture: Callable[[], "Image.Image | None"] = _nothing

    def update(self, loss: Any = None) -> None:
        self.done += 1
        terms = {"loss": loss, **self.terms} if loss is not None else {}
        self.report(Step(self.done, self.total, self.stage, lambda: _floats(terms), self.picture))
        self.report.check()

    def part_done(self, kind: str, index: int, count: int, message: str = "") -> None:
        self.report(ItemDone(kind, index, count, message=message))


def _floats(terms: dict[str, Any]) -> dict[str, float]:
    return {k: float(v.item() if hasattr(v, "item") else v) for k, v in terms.items()}


def snapshots(every: int, save: Callable[[int, "Image.Image"], None]) -> Listener:
    """A listener for --save-every: `save(step, picture)` every `every` steps of the outermost
    run (a frame's or item's own steps are not counted)."""

    def listen(event: Event) -> None:
        if isinstance(event, Step) and event.level == 0 and every and event.step % every == 0:
            img = event.picture()
            if img is not None:
                save(event.step, img)

    return listen


def fan_out(*listeners: Listener | None) -> Listener | None:
    """One listener calling several in order (None ones are left out)."""
    live = [l for l in listeners if l is not None]
    if not live:
        return None
    if len(live) == 1:
        return live[0]

    def listen(event: Event) -> None:
        for l in live:
            l(event)

    return listen
