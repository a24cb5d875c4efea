"""A clip cut into chunks that several workers can make at once, a worker's run of one chunk, and
the chunks joined again.

A clip's frames are not independent: frame t starts from what the engine made of frame t-1
(clip.py's temporal state, `--blend` today). A chunk that simply started at its first frame
would start without that state, and the seam shows as a jump: measured on a pan (docs/scale.md),
the change between the two frames across the seam is 1.35x (dream) to 1.5x (style) the change
between two frames inside a chunk. So each chunk starts `warmup` frames early (its lead-in).
Running those frames builds the temporal state up again, but not the same state: the patterns a
run grows depend on all its history, so two runs over the same frames stay apart (10-28 levels
a pixel, after 3 lead-in frames as after 8) and the jump stays. What hides the seam is what the lead-in frames
are then used for: they overlap the previous chunk's last frames, and the join cross-fades from
that chunk's frames into this one's over the overlap. Each step of the fade then changes the
picture no more than a step inside a chunk does (1.02-1.04x).

A chunk boundary is not a cut, but a real cut (engines/cuts.py, found once by the driver on the
whole clip) is kept by every chunk: a chunk restarts its temporal state at a cut inside it or
its lead-in, and a lead-in never reaches back across a cut (it is shortened to start at the
cut, or dropped when the chunk starts a shot). So the frames a lead-in overlaps all belong to
one shot, and the join never fades across a cut: at the cut, the picture switches.
"""

from __future__ import annotations

import itertools
import json
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..events import Listener, Reporter
from ..media.images import SETTINGS_KEY, save_image
from ..core.job import Job

WARMUP = 3  # frames each chunk starts early: its temporal state's run-in, and the cross-fade
CHUNKS_PER_WORKER = 2  # more chunks than workers: the fast ones take more, a lost chunk costs less


@dataclass(frozen=True)
class Chunk:
    first: int  # the chunk's own first frame
    last: int  # one past its last frame
    warmup: int  # frames before `first` it runs too (its lead-in), faded in over the chunk before
    cuts: tuple[int, ...] = ()  # the whole clip's shot starts (a frame records them all)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cuts", tuple(self.cuts))  # read back from JSON as a list

    @property
    def frames(self) -> range:
        return range(self.first, self.last)

    @property
    def lead(self) -> range:
        return range(self.first - self.warmup, self.first)

    def names(self) -> list[str]:
        """The files its run leaves in a chunk folder, in the order it makes them."""
        return [lead_name(n) for n in self.lead] + [frame_name(n) for n in self.frames]


def split_clip(count: int, workers: int, warmup: int = WARMUP, length: int | None = None, cuts=()) -> list[Chunk]:
    """`count` frames as chunks of about `length` frames (default: CHUNKS_PER_WORKER chunks a
    worker, but at least 4 warm-ups long, so warming up costs at most a quarter more work), of
    near-equal lengths, each warmed up by up to `warmup` frames before it, but never from
    before the last of `cuts` (the clip's shot starts) at or before its first frame."""
    if length is None:
        length = max(4 * warmup, math.ceil(count / (CHUNKS_PER_WORKER * workers)), 1)
    n = max(1, math.ceil(count / length))
    edges = [round(k * count / n) for k in range(n + 1)]
    cuts = tuple(sorted(cuts))
    return [Chunk(a, b, lead_in(a, warmup, cuts), cuts) for a, b in zip(edges, edges[1:])]


def lead_in(first: int, warmup: int, cuts: tuple[int, ...]) -> int:
    """How many frames a chunk starting at `first` runs before it: `warmup`, no further back
    than the clip's start or the shot's (0 when `first` starts a shot)."""
    shot = max((c for c in cuts if c <= first), default=0)
    return min(warmup, first - shot)


def frame_name(n: int) -> str:
    return f"frame_{n:05d}.png"  # as a clip written to a folder names its frames (video.py)


def lead_name(n: int) -> str:
    return f"lead_{n:05d}.png"


def run_chunk(job: Job, chunk: Chunk, folder: Path | None, on_event: Listener | None = None) -> list[bytes]:
    """Frames `chunk.first - chunk.warmup` … `chunk.last - 1` of the clip `job`, each carrying
    the clip's Job with its frame number in the clip, as in a local run: saved in FOLDER under
    `chunk.names()`, or, without a folder, returned as PNG bytes in that order."""
    from ..engines.clip import clip_frames, looks_for_cuts, open_source
    from ..core import registry
    from ..core.runner import frame_runner, load
    from ..media.video import Clip

    clip = open_source(job)
    begin = chunk.first - chunk.warmup
    part = Clip(clip.source, clip.fps, chunk.last - begin, clip.size, lambda: itertools.islice(clip.frames(), begin, chunk.last))
    made = []
    backbone = load(job.settings) if registry.engine(job.engine).backbone else None  # a network paints without one
    # The chunk restarts at the clip's cuts inside its frames (numbered in `part`).
    inside = [c - begin for c in chunk.cuts if begin < c < chunk.last]
    frames = clip_frames(job, part, Reporter(on_event), frame_runner(backbone), cuts=inside,
                         recorded_cuts=list(chunk.cuts) if looks_for_cuts(job) else None)  # fmt: skip
    for name, (t, img) in zip(chunk.names(), enumerate(frames)):
        img.info["dreamstyle"]["ran"]["frame"] = begin + t
        if folder is not None:  # force: what a worker that died in this chunk left is redone
            save_image(img, folder / name, settings=img.info["dreamstyle"], force=True)
        else:
            made.append(png_bytes(img))
    return made


def png_bytes(img: Image.Image) -> bytes:
    """The PNG a frame is saved as, with its Job embedded, as bytes."""
    with tempfile.TemporaryDirectory(prefix="dreamstyle-") as tmp:
        path = save_image(img, Path(tmp) / "frame.png", settings=img.info["dreamstyle"])
        return path.read_bytes()


def join_frames(chunks: list[Chunk], folder: Path) -> Iterator[Image.Image]:
    """The clip's frames from the chunks' files in FOLDER, in order, each chunk's lead-in
    cross-faded over the end of the chunk before: at lead-in frame i of w the picture is
    (i+1)/(w+1) the new chunk's. Each frame keeps its Job (as a dict, as the writer wants it)."""
    fade = {n: (lead_name(n), (i + 1) / (c.warmup + 1)) for c in chunks for i, n in enumerate(c.lead)}
    for c in chunks:
        for n in c.frames:
            img = _load(folder / frame_name(n))
            if n in fade:
                name, alpha = fade[n]
                info = img.info
                img = Image.blend(img, _load(folder / name), alpha)
                img.info = info
            yield img


def _load(path: Path) -> Image.Image:
    with Image.open(path) as f:
        img = f.convert("RGB")
        img.info = {"dreamstyle": json.loads(f.info[SETTINGS_KEY])}
    return img
