"""The `dreamstyle` command: one module per command, each turning its flags into Jobs for `run`.

Importing this package imports no torch (a test holds it to that): `--help`, `--version`,
`presets`, `info` and shell completion, which runs the program on every Tab, answer at once.
"""

from __future__ import annotations

import signal
import sys

import typer

from . import dream, explore, info, layers, presets, regions, studio, style, train, visualize, zoom  # noqa: F401  (each adds its command)
from .app import app
from .common import EXIT_INTERRUPTED, interrupt_once

_interrupt_once = interrupt_once  # the name tests and older scripts know

__all__ = ["app", "main"]


def main() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not if the caller ignores SIGINT
        signal.signal(signal.SIGINT, interrupt_once)
    try:
        app()
    except KeyboardInterrupt:
        # A Ctrl-C outside an engine loop (loading, saving): stop now, without a traceback.
        typer.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
