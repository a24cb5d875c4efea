"""What a path on the command line is (a picture, a clip or a batch), decided once, and the Job
or Jobs it becomes.

A video file or an animated GIF is a clip. A folder is a clip when the output is a video or a
clip flag (--temporal, --blend …) is given, otherwise a batch of independent pictures, as is a
quoted glob. Anything else is one picture.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..media.files import IMAGE_SUFFIXES, VIDEO_SUFFIXES, image_files, is_video  # noqa: F401  (the surfaces read them here)
from ..media.images import default_output_path
from . import registry
from .job import Job
from .settings import CommonSettings, MotionSettings, StyleSettings, flag, parse_float_list
from .settings_fast import refuse_clip_flags

# The motion settings a clip takes (the rest are the zoom's).
CLIP_MOTION = ("fps", "blend", "temporal", "temporal_weight", "long_term", "passes", "cuts", "debug_flow")

VIDEO_OUTPUTS = (".mp4", ".gif")
_GLOB_CHARS = "*?["


def is_pattern(spec) -> bool:
    """A glob the shell did not expand (quoted), and not a file whose name merely contains `*`."""
    text = str(spec)
    return any(c in text for c in _GLOB_CHARS) and not Path(text).expanduser().exists()


def is_batch(spec) -> bool:
    return spec is not None and (Path(str(spec)).expanduser().is_dir() or is_pattern(spec))


def is_animation(path) -> bool:
    """A GIF of more than one frame (a still GIF is a picture like any other)."""
    path = Path(str(path)).expanduser()
    if path.suffix.lower() != ".gif" or not path.is_file():
        return False
    from PIL import Image

    try:
        with Image.open(path) as img:
            return getattr(img, "n_frames", 1) > 1
    except OSError:
        return False  # loading it as a picture will say what is wrong


def kind_of(source, output=None, clip: bool = False) -> str:
    """"clip", "batch" or "image": the one place that decides. `clip`: a clip flag was given."""
    path = Path(str(source)).expanduser()
    if is_video(path) or is_animation(path):
        return "clip"
    if path.is_dir() and (clip or (output is not None and Path(str(output)).suffix.lower() in VIDEO_OUTPUTS)):
        return "clip"
    return "batch" if is_batch(source) else "image"


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
class Plan:
    """What one command line asks for: one Job (a picture or a clip), or one per picture of a
    batch, written into `outdir`."""

    kind: str  # "image" | "clip" | "batch"
    jobs: list[Job]
    outdir: Path | None = None


def clip_motion(engine: str, typed: dict[str, Any], earlier: dict[str, Any] | None = None) -> MotionSettings:
    """A clip's motion settings: an earlier output's (--from) < the flags typed now. `--blend`
    typed without `--temporal` means `--temporal blend`, as it did before flow existed."""
    typed = {k: v for k, v in typed.items() if v is not None}
    if engine == "fast":  # a network paints each frame alone: only the rate is the user's,
        # and the cuts, which change nothing there but are accepted and recorded (docs/video.md).
        refuse_clip_flags([f"--temporal {v}" if k == "temporal" else flag(k) for k, v in typed.items()
                           if k not in ("fps", "cuts") and (k, v) != ("temporal", "none")])  # fmt: skip
        kept = {k: typed.get(k, (earlier or {}).get(k)) for k in ("fps", "cuts")}
        return MotionSettings(temporal="none", **{k: v for k, v in kept.items() if v is not None})
    values = {k: v for k, v in (earlier or {}).items() if k in CLIP_MOTION}
    if "blend" in typed and "temporal" not in typed:
        values["temporal"] = "blend"
    values.update(typed)
    if values.get("temporal", "flow") != "flow":
        # Flow's own options recorded --from a flow clip mean nothing once another mode is asked for.
        for k in ("long_term", "passes"):
            if k not in typed:
                values.pop(k, None)
    m = MotionSettings(**values)
    if engine == "style" and m.temporal == "flow" and "blend" in typed:
        raise UserError("--blend does not apply to style with --temporal flow: each frame starts from the warped previous one",
                        "drop --blend (--temporal-weight sets how firmly frames hold together), or use --temporal blend")  # fmt: skip
    return m


def plan(engine: str, source, settings: CommonSettings, *, output=None, inputs: dict[str, Any] | None = None,
         motion: dict[str, Any] | None = None, earlier_motion: dict[str, Any] | None = None, name: str | None = None) -> Plan:
    """The Job(s) for `engine` run on `source` (a picture, clip, folder or glob) with `settings`.

    `inputs` are the engine's other inputs (a style's paintings, a map's layer); `motion` the clip
    flags typed (MotionSettings' names: temporal, blend, fps …; None where not given) and
    `earlier_motion` those of the output `--from` names; `name` is what default output names carry
    ("dream", "maps-block3"; the engine's name by default).
    """
    name = name or engine
    spec = registry.engine(engine)
    key = spec.source or "image"
    typed = {k: v for k, v in (motion or {}).items() if v is not None}
    # A frame folder re-run --from one of its frames is a clip again; --fps alone marks nothing.
    marked = any(k != "fps" for k in typed) or earlier_motion is not None
    kind = kind_of(source, output, marked) if spec.source else "image"
    if kind == "clip" and not spec.clips:
        kind = "batch" if Path(str(source)).is_dir() else "image"
    if kind != "image" and settings.save_every:
        raise UserError("--save-every does not apply to videos and batches", "drop it, or run one picture at a time")
    if kind != "clip" and typed:
        flags = ", ".join(flag(k) for k in typed)
        raise UserError(f"{flags} {'applies' if len(typed) == 1 else 'apply'} to a video input", "give an .mp4 or animated .gif file, or a folder of frames with -o out.mp4")
    inputs = dict(inputs or {})
    if kind == "image":
        missing = isinstance(source, (str, Path)) and not any(c in str(source) for c in "*?[")
        if missing and not Path(str(source)).expanduser().exists():
            # Said before the output is checked: a missing folder with `-o dreams/` was otherwise
            # refused as an output without an extension.
            what = "file" if Path(str(source)).suffix else "file or folder"
            raise UserError(f"no such {what}: {source}", "check the path and spelling")
        out = output or default_output_path(source, name)
        return Plan(kind, [Job(engine, {key: str(source), **inputs}, settings, output=str(out))])
    if kind == "clip":
        out = output or default_output_path(source, name, ".mp4")
        m = clip_motion(engine, typed, earlier_motion)
        return Plan(kind, [Job(engine, {key: str(source), **inputs}, settings, output=str(out), motion=m)])
    files = expand(source)
    spec = Path(str(source)).expanduser()
    if output is None and not spec.is_dir():
        raise UserError("a batch needs an output folder", "add -o outdir/")
    outdir = check_outdir(output or spec.with_name(f"{spec.name}-{name}"))
    jobs = [Job(engine, {key: str(f), **inputs}, settings, output=str(o)) for f, o in zip(files, output_names(files, outdir))]
    return Plan(kind, jobs, outdir)


def sweep_plan(source, settings: StyleSettings, weights, *, output=None, inputs: dict[str, Any] | None = None) -> Plan:
    """A style-weight sweep, the grid's one-axis case over style_weight (its values in the grid's
    range syntax) kept in its own names and spread over every photo of a folder: for each photo of `source` (a picture, folder or glob), one picture
    per weight, each its own Job with its weight in its settings (so `--from` re-runs it), named
    OUTDIR/STEM-swWEIGHT.png; a batch like any other, so it resumes and spreads over a cluster."""
    if isinstance(weights, str) and weights.strip():  # a one-axis grid's values: 10,100,1000 or 1-1000[4]
        from .grid import parse_values

        weights = [float(w) for w in parse_values(type(settings), "style_weight", weights, "--sweep")]
    weights = parse_float_list(weights, "--sweep")
    if not weights:
        raise UserError("--sweep needs style weights", "e.g. --sweep 10,100,1000")
    spec = Path(str(source)).expanduser()
    if kind_of(source, output) == "clip":
        raise UserError("--sweep applies to pictures, not to a video", "sweep on a frame of it first")
    if output is None and is_pattern(source):
        raise UserError("a sweep of a glob needs an output folder", "add -o outdir/")
    files = expand(source)
    outdir = check_outdir(output or spec.with_name(f"{spec.name if spec.is_dir() else spec.stem}-sweep"))
    jobs = [
        Job("style", {"content": str(f), **(inputs or {})}, dataclasses.replace(settings, style_weight=w), output=str(o.with_name(f"{o.stem}-sw{w:g}.png")))
        for f, o in zip(files, output_names(files, outdir))
        for w in weights
    ]
    return Plan("batch", jobs, outdir)


@dataclass
class GridPlan(Plan):
    """An X/Y grid: one Job per cell (a batch, so it resumes and spreads over a cluster), the
    cells in `outdir`, and the labelled sheet of them written to `sheet` once they are done."""

    sheet: Path | None = None
    base: Job | None = None
    x: Any = None  # grid.Axis
    y: Any = None
    shape: tuple[int, int] = (0, 0)  # (columns, rows)


def cells_folder(sheet) -> Path:
    """Where a grid's cells go: GRID-cells/ beside GRID.png."""
    sheet = Path(str(sheet))
    return sheet.with_name(f"{sheet.stem}-cells")


def grid_plan(job: Job, x, y=None, *, output=None) -> GridPlan:
    """The cells of a grid over `job` (one picture's Job): for each value of `y` (rows) and of `x`
    (columns) the job with those settings, written to GRID-cells/x{i}-y{j}.png; `output` is the
    sheet (default: the job's output). Axes are grid.Axis, or SETTING=VALUES text."""
    from .grid import Axis, cell_settings, parse_axis

    if job.is_clip:
        raise UserError("--grid applies to one picture, not to a video", "grid on a frame of it first")
    cls = type(job.settings)
    x = x if isinstance(x, Axis) else parse_axis(cls, x)
    y = y if y is None or isinstance(y, Axis) else parse_axis(cls, y, "--grid-y")
    rows = cell_settings(job.settings, x, y)
    sheet = Path(str(output or job.output))
    folder = cells_folder(sheet)
    if not folder.exists():
        if not folder.parent.is_dir():
            raise UserError(f"output folder {folder.parent} does not exist", f"create it first: mkdir -p {folder.parent}")
        folder.mkdir()
    jobs = [job.replace(settings=s, output=str(folder / f"x{i}-y{j}.png")) for j, row in enumerate(rows) for i, s in enumerate(row)]
    return GridPlan("batch", jobs, folder, sheet=sheet, base=job.replace(output=str(sheet)), x=x, y=y, shape=(len(x.values), len(rows)))
