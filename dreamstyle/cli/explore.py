"""`dreamstyle explore`: a network's layers and channels as a static site (-o FOLDER), or one of
its pictures (-o NAME.png, the line each unit page shows)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .app import app
from .common import CANCEL, EXIT_INTERRUPTED, RUNNING, check_chatter, cluster_of, examples, execute, fail, guarded, recorded, setting_flags, settings_for, show_settings
from ..core.settings_explore import ExploreSettings
from .options import CLUSTER, shared

PICTURE = (".png", ".jpg", ".jpeg", ".webp")


@app.command("explore", epilog=examples(
    "dreamstyle explore --layers block6 --channels 0-31 -o site/",
    "dreamstyle explore --model efficientnet-lite0 --layers stem,block3,block6 --top-folder photos/ -o site/",
    "dreamstyle explore --layers block6 --channels 12 --kind negative -o block6-12-negative.png",
    "dreamstyle explore --from site/block6/12-large.png -o again.png",
    "dreamstyle explore --layers block3,block6,block10 --channels all -o site/ --backend ray --workers 8",
))  # fmt: skip
@guarded
@shared("output", "model", "weights", "size", "steps", "lr", "seed", "param", "transforms", "diversity", "batch",
        "device", "precision", "deterministic", "from_", "force", "quiet", "verbose", *CLUSTER,
        settings=ExploreSettings, defaults={"output": "MODEL-explore/ (a site); NAME.png: one picture; with --from: the picture again, MODEL-LAYER-CHANNEL-KIND.png"})  # fmt: skip
def explore_command(
    layers: Annotated[Optional[str], typer.Option(help="Layers to show, e.g. block3,block6. [default: every layer with channels]")] = None,
    channels: Annotated[Optional[str], typer.Option(help="Channels of each layer: 0-31, 3,7,9 or all. [default: 0-15]")] = None,
    top_folder: Annotated[Optional[Path], typer.Option(help="A folder of pictures: each unit's page shows the ones that excite it most.", show_default=False)] = None,
    kind: Annotated[Optional[str], typer.Option(help="With -o NAME.png: the picture to make: channel, large, negative, diverse or top. [default: channel]")] = None,
    cache: Annotated[Optional[Path], typer.Option(help="Render cache folder, shared with the studio. [default: ~/.cache/dreamstyle/explore]", show_default=False)] = None,
    large: Optional[int] = None,  # ExploreSettings' fields: their help and defaults are the fields' (options.shared)
    top: Optional[int] = None,
    chunk: Optional[int] = None,
    **opts: Any,
) -> None:
    """Every layer and channel of a network, seen and linkable: an index of its layers (as `dreamstyle layers` prints them), a page per layer with its channels' pictures, and a page per channel with a larger one, diverse ones, the negative, its top pictures from --top-folder and the command that makes each. Pages open from disk or any static web server; a re-run makes only what is missing; every PNG carries its Job."""
    quiet, verbose, source = opts["quiet"], opts["verbose"], opts["from_"]
    cluster = cluster_of(opts)
    check_chatter(quiet, verbose)
    earlier, inputs = recorded(source, "explore")
    s = settings_for(ExploreSettings, "explore", None, setting_flags(opts, large=large, top=top, chunk=chunk), earlier)
    show_settings(s, source, verbose)
    if inputs:  # --from a picture: its layer, channel, kind and folder unless typed again
        layers = layers or inputs.get("layer")
        channels = channels or ",".join(map(str, inputs.get("channels") or []))
        kind = kind or inputs.get("kind")
        top_folder = top_folder or (Path(inputs["folder"]) if inputs.get("folder") else None)
    out = opts["output"]
    if out is None and inputs:  # --from a picture makes that picture again, beside the others of its name
        from ..media.images import free_path

        out = free_path(Path(f"{s.model}-{layers}-{channels}-{kind or 'channel'}.png"))
    if out is not None and out.suffix.lower() in PICTURE:
        _picture(s, layers, channels, kind, top_folder, out, opts, cluster)
        return
    if kind is not None:
        fail("--kind makes one picture", "give -o NAME.png, or drop --kind for a site")
    _site(s, layers, channels, top_folder, out or Path(f"{s.model}-explore"), cache, quiet, cluster)


def _picture(s: ExploreSettings, layers, channels, kind, folder, out: Path, opts, cluster) -> None:
    from ..core.planning import Plan
    from ..core.settings import parse_int_list
    from .common import checked

    if layers and "," in layers:
        fail("one picture is of one layer", "give one --layers, or -o FOLDER for a site")
    inputs = {"layer": layers, "channels": parse_int_list(channels or "0-15"), "kind": kind or "channel", "folder": str(folder) if folder else None}
    job = checked("explore", inputs, s)
    execute(Plan("image", [job.replace(output=str(out))]), force=opts["force"], quiet=s.quiet, verbose=opts["verbose"], cluster=cluster)


def _site(s: ExploreSettings, layers, channels, folder, out: Path, cache_dir, quiet: bool, cluster) -> None:
    from tqdm.auto import tqdm

    from ..engines.explore import RenderCache, default_cache, explore_context, network_index
    from ..engines.explore_site import plan_site, write_site

    if out.exists() and not out.is_dir():
        fail(f"{out} is a file", "give a folder for the site, or NAME.png for one picture")
    index = network_index(s.model, weights=s.weights)
    plan = plan_site(index, layers, channels, folder)  # every name and number checked before anything is written
    cache = RenderCache(cache_dir) if cache_dir else default_cache()
    ctx = explore_context(s.model, weights=s.weights, device=s.device)
    out.mkdir(parents=True, exist_ok=True)
    if cluster.on_ray:
        _site_on_ray(ctx, plan, out, s, cluster, quiet)
        return
    bar = tqdm(total=plan.pictures(), desc=f"explore {s.model}", unit="picture", disable=quiet, dynamic_ncols=True)
    added = _stoppable(lambda: write_site(ctx, plan, out, cache, s, on_picture=bar.update, cancel=CANCEL), out, bar.close)
    for note in [*cache.notes, *plan.notes]:
        typer.echo(note, err=True)
    if not quiet:
        typer.echo(f"saved {out / 'index.html'} ({added} new pictures, {plan.pictures()} in all)", err=True)


def _site_on_ray(ctx, plan, out: Path, s: ExploreSettings, cluster, quiet: bool) -> None:
    """The pages here; every missing picture a batch item on the cluster's workers (each loads
    the model once), written into the site with its Job. The render cache is not used there."""
    from ..cluster import run_batch_on_ray
    from ..core.console import Console
    from ..engines.explore_site import picture_jobs, write_pages

    write_pages(ctx, plan, out, s)
    console = Console(quiet=quiet)
    result = _stoppable(lambda: run_batch_on_ray(picture_jobs(plan, out, s), cluster, on_event=console, cancel=CANCEL, stage="explore"),
                        out, console.close)  # fmt: skip
    typer.echo(f"{out}: {result.summary()}", err=True)
    if result.failed:
        raise typer.Exit(2)


def _stoppable(work, out: Path, close):
    """`work()`, which the first Ctrl-C stops after its current step: the site keeps every
    finished picture and the command exits 130."""
    from ..errors import Interrupted

    CANCEL.clear()
    RUNNING.set()
    try:
        return work()
    except Interrupted:
        close()
        typer.echo(f"interrupted: {out} keeps the pictures made; run the same command again to go on", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        RUNNING.clear()
        close()
