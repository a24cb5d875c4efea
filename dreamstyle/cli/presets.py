"""`dreamstyle presets`: the built-in presets and the user's own, with where each comes from."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .app import app
from .common import examples, guarded


@app.command(epilog=examples("dreamstyle presets", "dreamstyle presets style"))
@guarded
def presets(
    engine: Annotated[Optional[str], typer.Argument(help="Only this engine's presets (dream, style, …).")] = None,
) -> None:
    """List the presets with one-line descriptions: the built-ins and your own
    ($XDG_CONFIG_HOME/dreamstyle/presets/*.toml), with where each comes from."""
    from ..core.presets import preset_lines

    for line in preset_lines(engine):
        typer.echo(line)
