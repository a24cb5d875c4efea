"""Many inputs, one model: expand a folder or glob, name the outputs, skip what is done.

An engine run per picture is cheap next to loading a backbone, so a batch loads it once and
hands it to every call. Outputs are named after their inputs and written atomically, so a batch
stopped for any reason resumes by running the same command again: finished outputs are skipped.
"""

from __future__ import annotations

import glob
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .errors import UserError, as_user_error
from .optimize import Interrupted, Progress

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")
_GLOB_CHARS = "*?["


def is_pattern(spec) -> bool:
    """A glob the shell did not expand (quoted), and not a file whose name merely contains `*`."""
    text = str(spec)
    return any(c in text for c in _GLOB_CHARS) and not Path(text).expanduser().exists()


def is_batch(spec) -> bool:
    return spec is not None and (Path(str(spec)).expanduser().is_dir() or is_pattern(spec))


def image_files(folder: Path) -> list[Path]:
    """The pictures directly in `folder`, in name order; hidden files (our temp files) are not."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)


def expand(spec) -> list[Path]:
    """A folder's pictures or a glob's files, sorted, so outputs and progress are in a stable order."""
    path = Path(str(spec)).expanduser()
    if path.is_dir():
        found = image_files(path)
        if not found:
            raise UserError(f"{path} holds no pictures", f"put {', '.join(IMAGE_SUFFIXES)} files in it")
        return found
    if is_pattern(spec):
        # Every file the glob names is an input: one that is not a picture is reported as a bad
        # item rather than silently left out.
        found = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        if not found:
            raise UserError(f"no files match {spec}", "check the pattern; quote it so the shell passes it on")
        return found
    return [path]


def output_names(inputs: list[Path], outdir: Path, ext: str = ".png") -> list[Path]:
    """outdir/STEM.png per input; inputs sharing a stem (a.jpg and a.png) get -2, -3 … in input
    order, which is stable, so a rerun maps each input to the same output again."""
    seen: dict[str, int] = {}
    out = []
    for p in inputs:
        n = seen.get(p.stem.lower(), 0) + 1
        seen[p.stem.lower()] = n
        out.append(outdir / (f"{p.stem}{ext}" if n == 1 else f"{p.stem}-{n}{ext}"))
    return out


def check_outdir(path) -> Path:
    """The output folder, made if missing (its parent must exist, so a typo is not a new tree)."""
    import os

    path = Path(str(path)).expanduser()
    if path.exists() and not path.is_dir():
        raise UserError(f"output {path} is a file, but a batch needs an output folder", "give a folder, e.g. -o outdir/")
    if not path.exists():
        if not path.parent.is_dir():
            raise UserError(f"output folder {path.parent} does not exist", f"create it first: mkdir -p {path.parent}")
        path.mkdir()
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"output folder {path} is not writable", "choose another folder")
    return path


@dataclass
class BatchResult:
    done: list[Path] = field(default_factory=list)  # outputs written by this run
    skipped: list[Path] = field(default_factory=list)  # outputs that were already there
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (input, one-line reason)

    def summary(self) -> str:
        return f"{len(self.done)} written, {len(self.skipped)} already there, {len(self.failed)} failed"


def _say(line: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(line, file=sys.stderr)  # above the bar instead of through it


def run_batch(
    inputs: list[Path],
    outdir: Path,
    render: Callable[[Path], Image.Image],
    *,
    force: bool = False,
    quiet: bool = False,
    desc: str = "batch",
    report: Callable[[str], None] = _say,
) -> BatchResult:
    """render(input) for each input whose output is missing (all of them with `force`), saved
    atomically with its settings under outdir. A bad item (a `UserError`, or running out of
    memory) is reported in one line and the batch goes on; Ctrl-C saves the current item's image
    so far as NAME.partial.png and raises `Interrupted` with `.path` set to it (or None)."""
    from .images import partial_path, save_image

    result = BatchResult()
    progress = Progress(len(inputs), desc, quiet=quiet)
    try:
        for src, out in zip(inputs, output_names(inputs, outdir)):
            if out.exists() and not force:
                result.skipped.append(out)
                progress.update(None)
                continue
            progress.bar.set_postfix_str(src.name, refresh=False)
            try:
                img = render(src)
                save_image(img, out, settings=img.info.get("dreamstyle"), force=force)
                result.done.append(out)
            except Interrupted as exc:
                exc.path = None
                if exc.image is not None:
                    exc.path = partial_path(out)
                    save_image(exc.image, exc.path, settings=exc.image.info.get("dreamstyle"))
                exc.result = result
                raise
            except (UserError, MemoryError, RuntimeError) as exc:
                reason = _reason(exc)
                if reason is None:
                    raise  # a RuntimeError that is not about memory is a bug: keep its traceback
                result.failed.append((src, reason))
                report(f"error: {src}: {reason}")
            progress.update(None)
    finally:
        progress.close()
    return result


def _reason(exc: Exception) -> str | None:
    err = exc if isinstance(exc, UserError) else as_user_error(exc)
    if err is None:
        return None
    return err.message + (f" — {err.hint}" if err.hint else "")

