"""The one exception type for mistakes a user can fix.

The CLI turns it into a single ``error: … `` line plus a hint and exit code 2; anything else that
escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import sys
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
    """A problem with the user's input or environment, with a hint on how to fix it. `field`: the
    setting or input it is about, where it is about one ("style_weight", "inputs.content",
    "motion.frames"), so a form can point at it (the studio answers it beside error and hint)."""

    def __init__(self, message: str, hint: str | None = None, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.field = field

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class SettingError(UserError):
    """A setting the model cannot run with (an unknown layer, a channel it lacks): unlike a bad
    picture, it would fail every picture of a batch the same way, so a batch is refused at once."""


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
    if _is_gpu_out_of_memory(exc, text):
        return UserError("ran out of GPU memory", OUT_OF_MEMORY_HINT + ", or use --device cpu")
    return None


# What the GPU libraries say when they could not get memory: their handles and workspaces are
# allocated outside torch's allocator, so they fail with their own status codes, not
# torch.cuda.OutOfMemoryError. MPS says "MPS backend out of memory", or "Invalid buffer size"
# when one tensor is larger than Metal allows in one buffer.
_GPU_OUT_OF_MEMORY = (
    "out of memory",
    "cublas_status_alloc_failed",
    "cudnn_status_alloc_failed",
    "cudnn_status_not_enough_workspace",
    "cufft_alloc_failed",
    "invalid buffer size",
)


def _is_gpu_out_of_memory(exc: BaseException, text: str) -> bool:
    # torch only if already loaded: the CLI's torch-free commands use this module too, and an
    # exception from torch means torch is loaded.
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError):  # whatever its message
        return True
    return isinstance(exc, RuntimeError) and any(s in text for s in _GPU_OUT_OF_MEMORY)
