"""Dream or style over the frames of a clip, each frame one run, with temporal blending.

Frame t starts from `frame[t] + blend * (output[t-1] - frame[t-1])`: what the engine grew or
painted on the previous frame is carried on and grown again instead of appearing anew, which is
what a viewer sees as flicker. `blend=0` runs every frame on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from PIL import Image

from .events import ItemDone, Reporter
from .images import resize_longest, to_pil, to_tensor
from .inputs import SOURCE
from .job import Job, Result, record
from .video import FOLDER_FPS, Clip, open_clip

RunOne = Callable[[Job, Reporter], Result]


def source_of(job: Job) -> str:
    return SOURCE[job.engine]


def open_source(job: Job) -> Clip:
    """The clip a job names: a video or frame folder, an opened `Clip`, or (from the Python API)
    a list of PIL images."""
    source = job.inputs[source_of(job)]
    if isinstance(source, Clip):
        return source
    if isinstance(source, list) and source and all(isinstance(f, Image.Image) for f in source):
        return Clip(None, job.motion.fps or FOLDER_FPS, len(source), source[0].size, lambda: iter(source))
    return open_clip(source, fps=job.motion.fps, max_pixels=job.settings.max_pixels)


def start_of(frame: Image.Image, previous: tuple[Image.Image, Image.Image] | None, blend: float, size: int | None) -> tuple[Image.Image, Image.Image]:
    """(where frame t's optimisation starts, frame t at the output's size).

    The start is frame t plus `blend` times what the engine added to frame t-1 (its output minus
    its input). Mixing in the previous *output* itself would also mix in the previous frame's
    content, which ghosts and smears anything that moves; the difference carries only the strokes
    or dream patterns, over the new frame's own content. Where nothing moved the two are the same.
    """
    rgb = resize_longest(frame, size) if size else frame
    if previous is None or blend == 0:
        return rgb, rgb
    out, before = (to_tensor(im.convert("RGB").resize(rgb.size, Image.LANCZOS) if im.size != rgb.size else im) for im in previous)
    return to_pil(to_tensor(rgb) + blend * (out - before)), rgb


def clip_frames(job: Job, clip: Clip, report: Reporter, run_one: RunOne) -> Iterator[Image.Image]:
    """The finished frames of a clip job, each carrying the clip's Job with its frame number."""
    blend = job.motion.blend
    inner = report.inner()
    previous = None
    for t, frame in enumerate(clip.frames()):
        start, rgb = start_of(frame, previous, blend, job.settings.size)
        if job.engine == "dream":
            frame_job = Job("dream", {"image": start}, job.settings)
        else:
            # The frame is the content; the blended start replaces `init` from frame 1 on.
            started = {"start": start} if previous is not None and blend > 0 else {}
            frame_job = Job("style", {"content": frame, "styles": job.inputs["styles"], **started}, job.settings)
        out = run_one(frame_job, inner).image
        previous = (out, rgb)
        out.info["dreamstyle"] = record(job, out.info["dreamstyle"], frame=t)
        yield out
        # Reported once the frame has been taken (written), so a count shown is a count kept.
        report(ItemDone("frame", t, clip.count, image=out))
        report.check()

