"""What `run` decided for a job before its engine starts, and what an engine tells `run` back.

`Context`: the loaded backbone, where it runs, in which precision, and the reporter its progress
goes to. Decided once, in core/runner.py (`context_for`); an engine reads it and resolves none of
it again.

`made(img, ...)`: what only the engine knows of a picture it made (the settings as it ran them,
steps taken, the objective, measured numbers). `run` turns that into the picture's record, with the
Job and where it ran; an engine writes no record of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

    from ..events import Reporter

# Where a picture carries what its engine told, until `run` replaces it with the record.
KEY = "dreamstyle"


@dataclass(frozen=True)
class Context:
    backbone: Any  # models.backbones.Backbone, placed on `device`
    device: Any  # torch.device
    dtype: Any  # torch.dtype the network runs in (fp32, or bf16/fp16 autocast)
    report: "Reporter"
    # Where an engine hands what it has made so far, to be kept while it runs (a training run's
    # network every minute, so a killed run leaves one that loads); None: nothing is kept.
    keep: Callable[[Any], None] | None = None


@dataclass(frozen=True)
class Made:
    """What an engine told of a picture: `settings` as it ran them (None: the job's), and `facts`
    for the record's "ran" (a fact named like a provenance field, e.g. `precision`, says the
    engine ran otherwise than the context)."""

    settings: Any = None
    facts: Mapping[str, Any] = field(default_factory=dict)


def made(img: "Image.Image", settings: Any = None, **facts: Any) -> "Image.Image":
    """`img`, carrying what its engine knows of it (facts that are None are left out)."""
    img.info[KEY] = Made(settings, {k: v for k, v in facts.items() if v is not None})
    return img


def told(img: "Image.Image") -> Made:
    """What the engine told of `img` (nothing, for a picture it returned bare)."""
    got = img.info.get(KEY)
    return got if isinstance(got, Made) else Made()


def same_as(img: "Image.Image", source: "Image.Image") -> "Image.Image":
    """`img` (a sheet of pictures, say), telling what `source` told."""
    img.info[KEY] = told(source)
    return img


def record_for(job, ctx: Context, settings: Any, facts: Mapping[str, Any], **ran: Any) -> dict[str, Any]:
    """The record `run` embeds in what a job made (a picture, a trained network): the Job, the
    settings as the engine ran them naming the backbone that ran, where and how it ran, and the
    engine's facts. One writer for every kind of output."""
    from ..media import provenance
    from ..models.runtime import precision_name
    from . import threads
    from .job import record

    settings = dict(settings)
    settings["threads"] = threads.count(settings.get("threads"))  # the count it ran with: --from runs with it
    weights = None
    if ctx.backbone is not None:
        settings["model"], weights = ctx.backbone.name, ctx.backbone.weights
    where = provenance.ran(weights, str(ctx.device), precision_name(ctx.dtype))
    return record(job, {"settings": settings, "ran": {**where, **facts}}, **ran)
