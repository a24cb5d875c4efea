"""`dreamstyle regions`: a photo's regions found for you, written as a colour map to edit and
pass to `style --regions`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .app import app
from .common import check_chatter, checked, examples, execute, from_output, guarded, recorded, setting_flags, settings_for, show_settings
from ..core.settings_regions import RegionsSettings
from .options import input_help, shared


@app.command("regions", epilog=examples(
    "dreamstyle regions photo.jpg",
    "dreamstyle regions photo.jpg --k 2 -o map.png",
    "dreamstyle regions photo.jpg --k 4 --seed 3",
    "dreamstyle regions photos/ --k 3 -o maps/",
))  # fmt: skip
@guarded
@shared("output", "model", "weights", "size", "seed", "device", "precision", "max_pixels", "from_", "force", "quiet", "verbose",
        settings=RegionsSettings, defaults={"output": "IMAGE-regions.png beside IMAGE (-2, -3 … if taken); a folder: FOLDER-regions/"})  # fmt: skip
def regions_command(
    image: Annotated[Optional[Path], typer.Argument(help=input_help("regions", "image", recorded=True), show_default=False)] = None,
    # Settings: their help and defaults are RegionsSettings' fields' (see options.shared).
    k: Annotated[Optional[int], typer.Option("--k", "-k")] = None,
    layer: Optional[str] = None,
    **opts: Any,
) -> None:
    """The regions of IMAGE (sky, figure, ground …) found from the network's features, as a map of
    flat colours the size of IMAGE: region 1 red, 2 green, 3 blue …, numbered in the order they
    first appear reading the map row by row. Edit it in any paint program and pass it back with
    `dreamstyle style PHOTO A.jpg B.jpg --regions map.png`."""
    from ..core.planning import plan

    quiet, verbose, source = opts["quiet"], opts["verbose"], opts["from_"]
    check_chatter(quiet, verbose)
    earlier, inputs = recorded(source, "regions")
    output = from_output(source, opts["output"], image, force=opts["force"])
    image = image or inputs.get("image")
    settings = settings_for(RegionsSettings, "regions", None, setting_flags(opts, k=k, layer=layer), earlier)
    checked("regions", {"image": image}, settings)
    todo = plan("regions", image, settings, output=output)
    show_settings(settings, source, verbose)
    execute(todo, force=opts["force"], quiet=settings.quiet, verbose=verbose, stage="regions", said=source is not None and opts["output"] is None)
