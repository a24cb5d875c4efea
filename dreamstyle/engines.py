"""Each kind of Job as a call into its engine: what it needs (checked before any model loads)
and how it is made with a loaded backbone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from .backbones import Backbone
from .errors import Interrupted, UserError
from .events import Reporter
from .job import Job
from .settings import parse_int_list

DEFAULT_CHANNELS = "0-15"


def need(job: Job, name: str, flag: str, hint: str) -> Any:
    value = job.inputs.get(name)
    if value is None or value == []:
        raise UserError(f"missing {flag}", hint)
    return value


def _dream(job: Job, backbone: Backbone, report: Reporter) -> list[Image.Image]:
    from .dream import dream_image
    from .images import as_picture

    picture = as_picture(need(job, "image", "IMAGE", "give the photo to dream on"), job.settings.max_pixels)
    return [dream_image(picture, job.settings, backbone, report)]


def _check_style(job: Job) -> None:
    need(job, "content", "CONTENT", "give the photo to paint and one or more style images")
    styles = need(job, "styles", "STYLE", "give one or more style images after the photo")
    if not isinstance(styles, list) or None in styles:
        raise UserError("a style image was never a file, so it cannot be read again", "give the style images on the command line")


def _style(job: Job, backbone: Backbone, report: Reporter) -> list[Image.Image]:
    from .style import style_images

    i = job.inputs
    return style_images(i["content"], i["styles"], job.settings, backbone, report, sweep=i.get("sweep"), start=i.get("start"),
                        temporal=i.get("temporal"))  # fmt: skip


def _check_maps(job: Job) -> None:
    need(job, "image", "IMAGE", "give the image to look at")
    need(job, "layer", "--layer", "e.g. --layer block3 (`dreamstyle layers MODEL` lists them)")
    top = job.inputs.get("top", 16)
    if not isinstance(top, int) or not 1 <= top <= 4096:
        raise UserError(f"--top {top} is out of range", "use 1 to 4096")


def _maps(job: Job, backbone: Backbone, report: Reporter) -> list[Image.Image]:
    from .runtime import resolve_device
    from .provenance import metadata
    from .visualize import feature_maps, load_for_maps

    s, i = job.settings, job.inputs
    device = resolve_device(s.device)
    img = feature_maps(backbone, load_for_maps(i["image"], s.size, s.max_pixels, device), i["layer"], i.get("top", 16))
    img.info["dreamstyle"] = metadata("visualize", s, backbone.weights, device=str(device), precision="fp32")
    return [img]


def _channels(job: Job) -> list[int]:
    return parse_int_list(job.inputs.get("channels") or DEFAULT_CHANNELS)


def _filters(job: Job, backbone: Backbone, report: Reporter) -> list[Image.Image]:
    from .provenance import metadata
    from .visualize import channel_sheet, filter_grid, first_conv

    s, layer = job.settings, job.inputs.get("layer")
    first, _ = first_conv(backbone)
    # At or before the first convolution there is nothing to optimise: the kernels are the picture.
    if layer is None or layer == first or (layer in backbone.layer_names and backbone.layer_names.index(layer) <= backbone.stage_names.index(first)):
        backbone.check_layers([layer] if layer else [])
        img = filter_grid(backbone)
        img.info["dreamstyle"] = metadata("visualize", s, backbone.weights)
        return [img]
    return [channel_sheet(layer, _channels(job), s, backbone=backbone, report=report)]


def _check_layer(job: Job) -> None:
    need(job, "layer", "--layer", "e.g. --layer block6 (`dreamstyle layers MODEL` lists them)")


def _channel_sheet(job: Job, backbone: Backbone, report: Reporter) -> list[Image.Image]:
    from .visualize import channel_sheet

    return [channel_sheet(job.inputs["layer"], _channels(job), job.settings, backbone=backbone, report=report)]


def _check_neuron(job: Job) -> None:
    need(job, "layer", "--layer", "e.g. --layer block9 (`dreamstyle layers MODEL` lists them)")
    need(job, "channel", "--channel", "e.g. --channel 12")
    for axis in ("x", "y"):
        at = job.inputs.get(axis)
        if at is not None and not (isinstance(at, int) and at >= 0):
            raise UserError(f"--{axis} {at} is out of range", f"use a position from 0 in the layer's map, or leave --{axis} out for the centre")


def _sheet(images: list[Image.Image], labels: list[str]) -> Image.Image:
    from .visualize import contact_sheet

    img = images[0] if len(images) == 1 else contact_sheet(images, labels[: len(images)])
    img.info["dreamstyle"] = images[0].info["dreamstyle"]
    return img


def _laid_out(make: Callable[[], list[Image.Image]], labels: Callable[[int], list[str]]) -> list[Image.Image]:
    """One sheet of a batch of pictures, also when Ctrl-C stops it: the partial is laid out and
    labelled as the output would have been."""
    try:
        images = make()
    except Interrupted as exc:
        raise Interrupted(_sheet(exc.image, labels(len(exc.image))) if exc.image else None) from None
    return [_sheet(images, labels(len(images)))]


def _neuron(job: Job, backbone: Backbone, report: Reporter) -> list[Image.Image]:
    from .objectives import neuron
    from .visualize import render

    from .taps import check_channels

    i = job.inputs
    check_channels(backbone, i["layer"], [i["channel"]], next(backbone.parameters()).device, flag="--channel")
    objective = neuron(i["layer"], i["channel"], i.get("x"), i.get("y"))
    return _laid_out(lambda: render(objective, job.settings, backbone=backbone, report=report),
                     lambda n: [f"{i['layer']} #{i['channel']} ({k})" for k in range(n)])  # fmt: skip


def _check_class(job: Job) -> None:
    from .visualize import class_index

    for c in need(job, "classes", "CLASSES", "name one or more ImageNet classes, e.g. goldfish"):
        class_index(c)


def _class(job: Job, backbone: Backbone, report: Reporter) -> list[Image.Image]:
    from .visualize import class_images, class_index, class_names

    names = [class_names()[class_index(c)] for c in job.inputs["classes"]]
    per = job.settings.batch
    return _laid_out(lambda: class_images(job.inputs["classes"], job.settings, backbone=backbone, report=report),
                     lambda n: [names[k // per] for k in range(n)])  # fmt: skip


def _check_image(job: Job) -> None:
    need(job, "image", "IMAGE", "give the photo to dream on")


def _check_shift(job: Job) -> None:
    need(job, "image", "IMAGE", "give the photo to move the window over")


def _shift(job: Job, backbone: Backbone, report: Reporter) -> list[Image.Image]:
    from pathlib import Path

    from .shift import shift_plot

    image = job.inputs["image"]
    return [shift_plot(image, backbone, job.settings, report, Path(image).name if isinstance(image, str) else "")]


def _check_top(job: Job) -> None:
    from .top import pictures

    need(job, "layer", "LAYER:CHANNEL", "e.g. block6:12 (`dreamstyle layers MODEL` lists the layers)")
    need(job, "channel", "LAYER:CHANNEL", "e.g. block6:12")
    pictures(need(job, "folder", "FOLDER", "give a folder of pictures"))  # an empty one is refused here, before a model loads


def _top(job: Job, backbone: Backbone, report: Reporter) -> list[Image.Image]:
    from .top import top_sheet

    i = job.inputs
    return [top_sheet(i["folder"], i["layer"], i["channel"], backbone, job.settings, report)]


@dataclass(frozen=True)
class Engine:
    make: Callable[[Job, Backbone, Reporter], list[Image.Image]]
    check: Callable[[Job], None] = lambda job: None
    stage: str = ""  # the progress label's first word; the engine's name by default
    steps: bool = True  # False: one pass, no optimisation steps to report


ENGINES: dict[str, Engine] = {
    "dream": Engine(_dream, _check_image),
    "zoom": Engine(_dream, _check_image),
    "style": Engine(_style, _check_style),
    "visualize.filters": Engine(_filters, stage="visualize"),
    "visualize.maps": Engine(_maps, _check_maps, stage="visualize", steps=False),
    "visualize.channels": Engine(_channel_sheet, _check_layer, stage="visualize"),
    "visualize.neuron": Engine(_neuron, _check_neuron, stage="visualize"),
    "visualize.class": Engine(_class, _check_class, stage="visualize"),
    "visualize.shift": Engine(_shift, _check_shift, stage="shift", steps=False),
    "visualize.top": Engine(_top, _check_top, stage="top"),
}
