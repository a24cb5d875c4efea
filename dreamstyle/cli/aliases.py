"""The other spelling of an option: `dream --layers` and `visualize … --layer` name the same
thing, so each command also takes the other spelling, hidden from --help, as the one it documents."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import UserError

# dream and zoom document --layers; visualize filters, maps, channels and neuron --layer.
LayerAlias = Annotated[Optional[str], typer.Option("--layer", hidden=True, help="Another spelling of --layers.")]
LayersAlias = Annotated[Optional[str], typer.Option("--layers", hidden=True, help="Another spelling of --layer.")]


def either(documented: str, value, alias: str, other):
    """The value typed under either spelling; both typed must agree."""
    if value is not None and other is not None and value != other:
        raise UserError(f"{documented} {value} and {alias} {other} are one option, given twice", f"give {documented} once")
    return value if value is not None else other
