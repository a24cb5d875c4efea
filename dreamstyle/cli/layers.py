"""`dreamstyle layers`: every layer of a backbone, with shapes, parameters, MACs, stride and receptive field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app
from .common import examples, fail, guarded
from .options import Weights


@app.command(epilog=examples("dreamstyle layers vgg19", "dreamstyle layers efficientnet-lite0 --size 320 --json"))
@guarded
def layers(
    model: Annotated[str, typer.Argument(help="Backbone name.")],
    size: Annotated[int, typer.Option(help="Input size (square) for shapes and FLOPs.")] = 224,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
    weights: Weights = None,
) -> None:
    """Every layer of MODEL: output shape, parameters, MACs/FLOPs, stride and receptive field."""
    from ..backbones import MODELS
    from ..errors import did_you_mean
    from ..layers import report

    if model not in MODELS:
        fail(f"unknown model {model!r}", did_you_mean(model, MODELS))
    if not 16 <= size <= 4096:
        fail(f"--size {size} is out of range", "use 16 to 4096")
    backbone = _architecture(model, weights)
    typer.echo(report(backbone, size, as_json=json_out))


def _architecture(model: str, weights: Path | None):
    """The network with its weights if they are at hand, else with random ones: shapes, FLOPs and
    receptive fields do not depend on weight values, so the table never needs a download."""
    import os

    from ..backbones import load_backbone
    from ..errors import UserError

    try:
        old = os.environ.get("DREAMSTYLE_OFFLINE")
        os.environ["DREAMSTYLE_OFFLINE"] = "1"
        return load_backbone(model, weights=weights, progress=False)
    except UserError:
        if weights:
            raise
        return _random_backbone(model)
    finally:
        if old is None:
            os.environ.pop("DREAMSTYLE_OFFLINE", None)
        else:
            os.environ["DREAMSTYLE_OFFLINE"] = old


def _random_backbone(model: str):
    import tempfile

    import torch
    import torchvision

    from ..backbones import load_backbone

    arch = {"vgg16": "vgg16", "vgg19": "vgg19", "vgg19-caffe": "vgg19", "googlenet": "googlenet"}[model]
    kw = {"aux_logits": False, "init_weights": False} if arch == "googlenet" else {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.pth"
        torch.save(getattr(torchvision.models, arch)(**kw).state_dict(), path)
        return load_backbone(model, weights=path, progress=False)
