"""`dreamstyle layers`: every layer of a network, with shapes, parameters, MACs, stride and
receptive field; or several networks side by side (`--compare`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app
from .common import examples, fail, guarded
from .options import Weights


@app.command(epilog=examples(
    "dreamstyle layers vgg19",
    "dreamstyle layers efficientnet-lite0 --size 320 --json",
    "dreamstyle layers lenet",
    "dreamstyle layers resnet50",
    "dreamstyle layers --compare lenet,alexnet,vgg16,nin,googlenet",
))  # fmt: skip
@guarded
def layers(
    model: Annotated[Optional[str], typer.Argument(help="A backbone, lenet, nin or any torchvision classification model (alexnet, resnet50, …; --list names them).", show_default=False)] = None,
    size: Annotated[Optional[int], typer.Option(help="Input size (square) for shapes and MACs. [default: the network's own: 224; lenet 28, inception_v3 299]")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    weights: Weights = None,
    compare: Annotated[Optional[str], typer.Option(help="Several networks, one row each: parameters, MACs, depth, output stride, largest receptive field. E.g. lenet,alexnet,vgg16,nin,googlenet.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List every network name this command takes.")] = False,
) -> None:
    """Every layer of MODEL: output shape, parameters, MACs/FLOPs, stride and receptive field. Architecture only: no weights are needed or downloaded."""
    from ..errors import did_you_mean
    from ..models.zoo import model_names

    known = model_names()
    if list_:
        typer.echo("\n".join(known))
        return
    wanted = ([model] if model else []) + [m.strip() for m in (compare or "").split(",") if m.strip()]
    if not wanted:
        fail("missing MODEL", "e.g. dreamstyle layers vgg19, or --compare lenet,alexnet,vgg16,nin,googlenet")
    for name in wanted:  # every name is checked before any network is built
        if name not in known:
            fail(f"unknown model {name!r}", did_you_mean(name, known) + " (`dreamstyle layers --list` names them all)")
    if size is not None and not 16 <= size <= 4096:
        fail(f"--size {size} is out of range", "use 16 to 4096")
    if compare is not None:
        typer.echo(_compare(wanted, size, weights, json_out))
        return
    from ..models.inspector import report
    from ..models.zoo import network

    net = network(model, size, str(weights) if weights else None)
    typer.echo(report(net, size or getattr(net, "native", 224), as_json=json_out))


def _compare(models: list[str], size: int | None, weights: Path | None, as_json: bool) -> str:
    """Each network at its own input size unless --size says one for all."""
    import json

    from ..models.inspector import format_compare, summary
    from ..models.zoo import network

    if weights:
        fail("--weights applies to one model", "drop it: the comparison needs no weights")
    rows = []
    for name in models:
        net = network(name, size)
        rows.append(summary(net, size or getattr(net, "native", 224)))
    return json.dumps({"size": size, "models": rows}, indent=2) if as_json else format_compare(rows)
