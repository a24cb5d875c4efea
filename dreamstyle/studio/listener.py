"""What the page shows of a running job: its events turned into the entry's state, step, losses
and latest preview, and into the log of events its event streams read (queue.py owns the entry;
this only appends). With a store, the picture on show is also kept on disk every few seconds, so
a crash leaves the picture as it stood."""

from __future__ import annotations

import io
import logging
import time

from ..errors import UserError
from ..events import Event, ItemDone, Step
from ..media.images import save_image
from .store import Store

LOG = logging.getLogger("dreamstyle.studio")
PREVIEW_STEPS = 3  # a preview needs at least this many steps since the last one…
PREVIEW_SECONDS = 0.25  # …and at least this long: whichever is rarer, so previews never slow a run
SNAPSHOT_SECONDS = 2.0  # how often the running job's picture is kept on disk, for a crash


class Listener:
    """Turns a run's events into what the page shows, taking a preview when it is due, and with
    a store keeping the picture on disk every SNAPSHOT_SECONDS."""

    def __init__(self, entry, store: Store | None = None):
        self.entry, self.store = entry, store
        self.last_step = 0
        self.last_time = self.last_kept = 0.0
        self.last_picture = None  # what was last shown: a training job's Step shows the same sheet until the next one

    def __call__(self, event: Event) -> None:
        e = self.entry
        if isinstance(event, ItemDone) and event.level == 0 and event.kind in ("octave", "scale"):
            e.events.append(("item", {"kind": event.kind, "index": event.index, "count": event.count}))
        if isinstance(event, ItemDone) and event.level == 0 and event.kind == "note" and event.message:
            e.events.append(("note", {"message": event.message}))  # a skipped photo, a time limit: said on the page
        if isinstance(event, ItemDone) and event.level == 0 and event.kind == "preview" and event.image is not None:
            # A training job's preview sheet, shown the moment it is drawn, not at the next due step.
            self._show(event.image, e.step, time.time(), time.monotonic())
        if not isinstance(event, Step) or event.level != 0:
            return
        e.step, e.total, e.stage = event.step, event.total, event.stage
        now, wall = time.monotonic(), time.time()
        due = event.step - self.last_step >= PREVIEW_STEPS and now - self.last_time >= PREVIEW_SECONDS
        if due or event.step == event.total:
            # Reading the losses syncs the device; only as often as the picture is shown.
            e.losses = event.losses()
        e.events.append(("step", {"step": e.step, "total": e.total, "stage": e.stage, "losses": e.losses}))
        if due:
            picture = event.picture()
            if picture is not None:
                self._show(picture, e.step, wall, now)
            self.last_step, self.last_time = event.step, time.monotonic()

    def _show(self, picture, step: int, wall: float, now: float) -> None:
        """`picture` as the job's preview (once: the same picture again is not sent again)."""
        if picture is self.last_picture:
            return
        self.last_picture = picture
        e = self.entry
        if self.store is not None and now - self.last_kept >= SNAPSHOT_SECONDS:
            self._keep(picture)  # before the preview shows: a shown picture is a kept one
            self.last_kept = now
        buf = io.BytesIO()
        picture.save(buf, format="PNG")
        e.preview, e.preview_n = buf.getvalue(), e.preview_n + 1
        # `t`: when the step ended (server clock), so a client can tell how late it shows it.
        e.events.append(("preview", {"n": e.preview_n, "step": step, "t": wall}))

    def _keep(self, picture) -> None:
        """The picture with its record, saying where it stood, atomically in the state folder."""
        e = self.entry
        record = picture.info.get("dreamstyle")
        if isinstance(record, dict):
            record = {**record, "ran": {**(record.get("ran") or {}), "interrupted": {"step": e.step, "of": e.total}}}
        try:
            save_image(picture, self.store.snapshot(e.id), settings=record, force=True)
        except UserError as exc:
            LOG.error("could not keep the picture of job %s: %s", e.id, exc.message)
            return
        self.store.update(e.id, step=e.step, total=e.total)
