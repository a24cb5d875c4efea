"""The `dreamstyle` Typer app and its `visualize` group, which the command modules add to."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..version import __version__
from .common import examples


class _PlainFlags:
    """A flag takes no value, so `--help` shows no type after it (typer would print `<bool>`)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False) or param.name in ("install_completion", "show_completion"):
                param.metavar = ""
        return params


class _Command(_PlainFlags, typer.core.TyperCommand):
    def parse_args(self, ctx, args):
        """As click's, but extra arguments that look like a glob the shell expanded are refused
        in one line that says to quote it (cli/globs.py)."""
        strict, ctx.allow_extra_args = ctx.allow_extra_args, True
        try:
            rest = super().parse_args(ctx, args)
        finally:
            ctx.allow_extra_args = strict
        if rest and not strict and not ctx.resilient_parsing:
            from ..errors import UserError
            from .common import fail
            from .globs import check_extra_arguments

            last = [p for p in self.params if p.param_type_name == "argument"][-1:]
            try:
                check_extra_arguments(self.name, ctx.params.get(last[0].name) if last else None, rest)
            except UserError as exc:
                fail(exc.message, exc.hint)
            ctx.fail(f"Got unexpected extra argument{'s' if len(rest) > 1 else ''} ({' '.join(map(str, rest))})")
        return rest


class _Group(_PlainFlags, typer.core.TyperGroup):
    pass


class _Typer(typer.Typer):
    """Commands and groups whose flags show no `<bool>` in `--help`."""

    def __init__(self, **kwargs):
        super().__init__(cls=_Group, **kwargs)

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or _Command, **kwargs)


app = _Typer(
    help="Pictures from pretrained CNN features: DeepDream, style transfer, feature visualisation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

viz = _Typer(
    help="Show what a network has learned: filters, feature maps, channels, neurons, classes.",
    no_args_is_help=True,
    epilog=examples(
        "dreamstyle visualize filters --model efficientnet-lite0",
        "dreamstyle visualize channels --model efficientnet-lite0 --layer block6 --channels 0-7",
        "dreamstyle visualize class goldfish --model efficientnet-lite0",
        "dreamstyle visualize channels --from efficientnet-lite0-block6-channels.png --steps 512",
    ),
)
app.add_typer(viz, name="visualize")


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"dreamstyle {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    version: Annotated[Optional[bool], typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version and exit.")] = None,
) -> None:
    pass
