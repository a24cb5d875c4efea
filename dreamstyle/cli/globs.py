"""Spotting a glob the shell expanded: `dream photos/*.jpg` hands the command every matching file
as its own argument, so what the user meant as one batch arrives as several pictures (extra
arguments for `dream`, more STYLE images for `style`). One line says so, with the glob quoted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UserError

# The commands whose picture argument takes a folder or glob (docs/batches.md).
BATCH_COMMANDS = ("dream", "style", "maps")


def expanded(paths: list[Any], *, one_extension: bool = True) -> list[Path]:
    """The leading paths that look like one glob the shell expanded: two or more files in one
    folder (with one extension), in name order (as the shell lists them); [] when they do not."""
    paths = [Path(str(p)) for p in paths if p is not None]
    run = paths[:1]
    for p in paths[1:]:
        if p.parent != run[0].parent or one_extension and (p.suffix.lower() != run[0].suffix.lower() or not p.suffix):
            break
        run.append(p)
    names = [p.name for p in run]
    in_order = names == sorted(names) or names == sorted(names, key=str.casefold)
    if len(run) < 2 or not in_order or not all(p.is_file() for p in run):
        return []
    return run


def pattern_of(run: list[Path]) -> str:
    """The glob that would have matched `run`: FOLDER/*.EXT (FOLDER/* for several extensions)."""
    folder, ext = str(run[0].parent), run[0].suffix if len({p.suffix for p in run}) == 1 else ""
    return f"*{ext}" if folder == "." else f"{folder}/*{ext}"


def glob_refusal(run: list[Path], also: str = "") -> UserError:
    glob = pattern_of(run)
    shown = " ".join(map(str, run[:2])) + (" …" if len(run) > 2 else "")
    return UserError(f"{shown} look like the glob {glob} expanded by the shell into {len(run)} pictures",
                     f"quote it, '{glob}', so dreamstyle reads it as one batch, and give -o a folder (docs/batches.md){also}")  # fmt: skip


def folder_like(output) -> bool:
    """An -o that names a folder: no extension, or an existing folder."""
    return output is not None and (not Path(str(output)).suffix or Path(str(output)).is_dir())


def check_style_arguments(content, styles: list[Any] | None, output, *, several_styles_meant: bool) -> None:
    """`style g/*.jpg painting.jpg` arrives as CONTENT g/a.jpg and STYLEs g/b.jpg … painting.jpg:
    refused when the photos look like an expanded glob, a last STYLE stands apart from them, no
    flag says several styles are meant (--style-blend, --mask, --regions, --style-mask), and
    either -o names a folder or there are three or more of them."""
    given = [content, *(styles or [])]
    run = expanded(given)
    if not run:
        return
    apart = len(run) < len(given)
    # Two pictures from one folder before a third are as likely a photo and two paintings to blend
    # (`style samples/rocket.jpg samples/swirls.jpg samples/stripes.png`, the README's blend): a
    # glob is only suspected from three on, unless -o names a folder.
    # Only with a painting after the run: `style cat.jpg swirls.jpg --sweep … -o out/` is a photo
    # and its painting from one folder, into a folder.
    if apart and not several_styles_meant and (folder_like(output) or len(run) >= 3):
        also = f"; to paint with {run[1]} as a second style, add --style-blend" if not folder_like(output) else ""
        raise glob_refusal(run, also)


def check_extra_arguments(command: str, last_argument, extra: list[str]) -> None:
    """Extra arguments after a batch command's picture: refused in one line when they and the
    picture look like an expanded glob (the caller fails as click would otherwise)."""
    if command not in BATCH_COMMANDS:
        return
    run = expanded([last_argument, *extra], one_extension=False)
    if run and len(run) == 1 + len(extra):
        raise glob_refusal(run)
