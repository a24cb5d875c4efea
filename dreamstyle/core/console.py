"""The terminal's view of a run: the line saying what runs where, one tqdm bar, --verbose lines.

A listener like any other (events.py): the CLI attaches it to every run, and the Python API
attaches it when no listener of the caller's is given and the settings are not quiet.
"""

from __future__ import annotations

import sys
import time

from ..events import Event, Failed, Finished, ItemDone, Started, Step

POSTFIX_EVERY = 10  # reading a loss syncs the device: show it every few steps, and at the end
STEP_EVERY_S = 0.2  # a frame's step count is redrawn at most this often: each redraw writes a line
LOG_LINES = 20  # --verbose logs the loss parts about this often a run: enough to see it converge or stall


def say(line: str) -> None:
    """A line on stderr above the bar instead of through it."""
    from tqdm.auto import tqdm

    tqdm.write(line, file=sys.stderr)


class Console:
    def __init__(self, quiet: bool = False, verbose: bool = False):
        self.quiet, self.verbose = quiet, verbose
        self.bar = None
        self.unit = "step"
        self.announced = False
        self.pending: str | None = None
        self.frames_bar: tuple[int, str] | None = None  # a clip's, zoom's or batch's bar, not yet shown
        self.item = ""
        self.shown = 0.0  # when a frame's step count was last drawn
        self.noted: set[str] = set()

    def __call__(self, event: Event) -> None:
        if isinstance(event, Started):
            self._started(event)
        elif isinstance(event, Step):
            self._going()
            self._step(event)
        elif isinstance(event, ItemDone):
            self._going()
            self._item(event)
        elif isinstance(event, (Finished, Failed)) and event.level == 0:
            self.close()

    def _started(self, e: Started) -> None:
        if e.model and self.pending is None and not self.announced:
            engine = e.stage.split(" ")[0]
            self.pending = f"dreamstyle {engine}: model {e.model}, weights {e.weights}, device {e.device}, precision {e.precision}"
        if e.level == 0:
            self.unit = e.unit
            if e.unit != "step":
                self.frames_bar = (e.total, e.stage)
        elif e.job is not None and self.unit == "item":
            first = e.job.source
            if isinstance(first, str):
                self.item = first.rsplit("/", 1)[-1]
                if self.bar is not None:
                    self.bar.set_postfix_str(self.item, refresh=False)

    def _going(self) -> None:
        """The run is under way: say what runs where and show the bar. Not before the first step
        or finished part, so a refusal before that (a missing file, a bad layer or channel, a
        frame that cannot be dreamed) stays the one line on stderr."""
        self._announce()
        if self.frames_bar is not None:
            self._open(*self.frames_bar)
            self.frames_bar = None
            if self.item:
                self.bar.set_postfix_str(self.item, refresh=False)

    def _open(self, total: int, desc: str) -> None:
        from tqdm.auto import tqdm

        self.close()
        self.bar = tqdm(total=total, desc=desc, disable=self.quiet, file=sys.stderr, dynamic_ncols=True, leave=False)

    def _announce(self) -> None:
        if self.pending is not None and not self.announced and not self.quiet:
            say(self.pending)
        self.announced = True

    def _step(self, e: Step) -> None:
        # _going() has announced the run and opened the frames' bar before this step.
        if e.level == 1 and self.unit == "frame" and self.bar is not None:
            self._frame_step(e)
        if e.level != 0 or self.unit != "step":
            return
        if self.bar is None:
            self._open(e.total, e.stage)
        if e.total != self.bar.total:  # --steps auto: a converged scale gave back its remaining steps
            self.bar.total = e.total
        self.bar.update(1)
        last = e.step == e.total
        show = not self.quiet and (e.step % POSTFIX_EVERY == 1 or last)
        log = self.verbose and (e.step % max(1, e.total // LOG_LINES) == 0 or last)
        if not (show or log):
            return
        losses = e.losses()
        if not losses:
            return
        shown = {k: f"{v:.4g}" for k, v in losses.items()}
        if show:
            self.bar.set_postfix(shown, refresh=False)
        if log:
            say(f"{e.stage} step {e.step}/{e.total}: " + ", ".join(f"{k} {v}" for k, v in shown.items()))

    def _frame_step(self, e: Step) -> None:
        """A clip's or zoom's bar counts frames; the current frame's steps ride along after it."""
        now = time.monotonic()
        if e.step != e.total and now - self.shown < STEP_EVERY_S:
            return
        self.shown = now
        self.bar.set_postfix_str(f"step {e.step}/{e.total}")

    def _item(self, e: ItemDone) -> None:
        # A note from inside a clip or batch (a frame's stretched mask) is said too, once: the
        # same words for every frame would bury the bar.
        if e.kind == "note" and not self.quiet and e.message not in self.noted:
            self.noted.add(e.message)
            say(f"note: {e.message}")
        if e.level == 0 and e.kind == "preview" and e.path is not None and self.verbose:
            say(f"{self.bar.desc if self.bar is not None else 'train'}: preview {e.message} in {e.path}")
        if e.level == 0 and e.kind == "scale" and e.message and self.bar is not None and not self.quiet:
            say(f"{self.bar.desc}: {'scale ' + str(e.index + 1) + ' ' if e.count and e.count > 1 else ''}{e.message}")
        if e.level != 0 or e.kind not in ("frame", "item", "pass"):
            return
        if e.status == "failed":
            say(f"error: {e.message}")
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
