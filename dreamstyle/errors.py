"""The one exception type for mistakes a user can fix.

The CLI turns it into a single ``error: … `` line plus a hint and exit code 2; anything else that
escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class Interrupted(Exception):
    """A run stopped by Ctrl-C or a cancel; carries the picture as it stood (a PIL image, or a
    list of them for a batch of objectives) so nothing is lost. `path` is where the picture so far
    was kept, when the run had an output; `frames` how many frames a clip had finished."""

    def __init__(self, image=None, path=None, frames: int = 0, result=None):
        super().__init__("interrupted")
        self.image = image
        self.path = path
        self.frames = frames
        self.result = result  # a batch's results so far


class UserError(Exception):
    """A problem with the user's input or environment, with a hint on how to fix it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A short hint naming the closest valid choices, or listing a few when nothing is close."""
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    shown = ", ".join(choices[:12]) + (", …" if len(choices) > 12 else "")
    return f"choose from: {shown}"


OUT_OF_MEMORY_HINT = "lower --size or render in tiles"


def as_user_error(exc: BaseException) -> UserError | None:
    """Running out of memory is something the user can fix too: the UserError for it, or None
    when `exc` is anything else (a bug, which keeps its traceback)."""
    text = str(exc).lower()
    # torch's CPU allocator says "can't allocate memory"; CUDA's and MPS's say "out of memory".
    if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "can't allocate memory" in text):
        return UserError("ran out of host memory", OUT_OF_MEMORY_HINT)
    if isinstance(exc, RuntimeError) and "out of memory" in text:
        return UserError("ran out of GPU memory", OUT_OF_MEMORY_HINT + ", or use --device cpu")
    return None
