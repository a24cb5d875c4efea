"""Typed settings shared by the Python API, the CLI and presets.

One dataclass per engine. Presets and CLI flags are plain dicts merged in order
(defaults < preset < explicit flags) and turned into a dataclass by `build`, which is also where
every number is checked, so the API refuses the same bad input the CLI does.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from .errors import UserError, did_you_mean

MAX_SIZE = 16384  # beyond this an image is a tiling job, not a single pass
AUTO = "auto"
# The backbones' names, here so that reading settings and presets needs no torch;
# backbones.MODELS holds one entry for each (a test keeps the two equal).
MODEL_NAMES = ("vgg16", "vgg19", "vgg19-caffe", "googlenet", "efficientnet-lite0")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(kw_only=True)
class CommonSettings:
    model: str = "vgg16"
    weights: str | None = None
    size: int | None = None
    steps: int | str = 10  # or "auto" (style, visualize): stop when the picture stops changing
    lr: float | None = None
    seed: int | None = 0
    device: str = "auto"
    precision: str = "auto"
    deterministic: bool = False  # repeatable on a GPU too, at some speed (runtime.device_settings)
    save_every: int = 0
    quiet: bool = False
    max_pixels: int | None = 178_956_970

    def __post_init__(self) -> None:
        # Validate on construction too, so DreamSettings(octaves=0) fails where it is written.
        self.validate()

    def validate(self) -> None:
        if isinstance(self.steps, str):
            if self.steps != AUTO:
                raise UserError(f"--steps {self.steps!r} is not a number of steps", f"give a whole number, e.g. --steps 200, or --steps {AUTO}")
            if not self.auto_steps:
                raise UserError(f"--steps {AUTO} applies to style only so far", "give a number of steps, e.g. --steps 10")
        else:
            _positive(self, "steps", self.steps, allow_zero=False, upper=100_000)
        if self.size is not None:
            _positive(self, "size", self.size, allow_zero=False, upper=MAX_SIZE)
            if self.size < 16:
                raise UserError(f"--size {self.size} is too small", "use at least 16 pixels")
        if self.lr is not None:
            _positive(self, "lr", self.lr, allow_zero=False, upper=1e6)
        _positive(self, "save_every", self.save_every, allow_zero=True, upper=10**9)
        if self.max_pixels is not None:
            _positive(self, "max_pixels", self.max_pixels, allow_zero=False, upper=10**12)
        if self.seed is not None and not 0 <= self.seed < 2**63:
            raise UserError(f"--seed {self.seed} is out of range", "use a whole number from 0 to 2**63-1")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise UserError(f"unknown device {self.device!r}", did_you_mean(self.device, DEVICES))
        if self.precision not in PRECISIONS:
            raise UserError(f"unknown precision {self.precision!r}", did_you_mean(self.precision, PRECISIONS))

    # Whether `--steps auto` applies, and then: at most this many steps per scale, stopping once
    # the pixels change by less than AUTO_LEVELS (0-255) in 10 steps (converge.Converged).
    auto_steps = False
    AUTO_CEILING = 0
    AUTO_LEVELS = 0.0

    def step_plan(self):
        """(the most steps a scale takes, the stopping rule or None): `--steps N` runs exactly N."""
        if self.steps != AUTO:
            return self.steps, None
        from .converge import Converged

        return self.AUTO_CEILING, Converged(self.AUTO_LEVELS)

    def to_dict(self) -> dict[str, Any]:
        """The settings that shape the picture (`quiet` does not, so it is left out)."""
        d = dataclasses.asdict(self)
        d.pop("quiet")
        return d


def _positive(s, name: str, value, *, allow_zero: bool, upper: float) -> None:
    low_ok = value >= 0 if allow_zero else value > 0
    if not low_ok or value > upper:
        lowest = "0" if allow_zero else "a positive number"
        raise UserError(f"{flag(name)} {value} is out of range", f"use {lowest} up to {upper:g}")


def _check_tile(tile: int | None) -> None:
    # Below 64 px a tile is mostly margin and the deep layers see only a few cells of it.
    if tile and not 64 <= tile <= MAX_SIZE:
        raise UserError(f"--tile {tile} is out of range", f"use 0 (off) or 64 up to {MAX_SIZE}, e.g. --tile 512")


@dataclass(kw_only=True)
class DreamSettings(CommonSettings):
    """DeepDream: normalised gradient ascent on layer activations over an octave pyramid."""

    size: int | None = 512
    lr: float | None = 0.01
    layers: str | None = None  # "relu4_3" or "relu4_3:1,relu5_1:0.5"; None: the model's default
    channels: list[int] | None = None
    guide: str | None = None
    octaves: int = 4
    octave_scale: float = 1.4
    jitter: int = 32
    norm: str = "mean-abs"
    smooth: float = 1.0
    tile: int | None = None  # gradient tile size in pixels; 0: never tile; None: when the device needs it

    def validate(self) -> None:
        super().validate()
        _positive(self, "octaves", self.octaves, allow_zero=False, upper=20)
        if not 1.0 < self.octave_scale <= 4.0:
            raise UserError(f"--octave-scale {self.octave_scale} is out of range", "use a number above 1 and at most 4, e.g. 1.4")
        _positive(self, "jitter", self.jitter, allow_zero=True, upper=4096)
        _positive(self, "smooth", self.smooth, allow_zero=True, upper=64)
        _check_tile(self.tile)
        if self.norm not in ("mean-abs", "std"):
            raise UserError(f"unknown --norm {self.norm!r}", "use mean-abs or std")
        if self.channels is not None and any(c < 0 for c in self.channels):
            raise UserError("--channels must be channel numbers from 0 up", "e.g. --channels 12,40")


@dataclass(kw_only=True)
class StyleSettings(CommonSettings):
    """Gatys style transfer: content loss + Gram-matrix style losses + total variation."""

    model: str = "vgg19"
    size: int | None = 512
    steps: int = 300
    lr: float | None = None  # Adam's step size; L-BFGS takes whole steps
    content_layers: str | None = None  # None: the model's defaults
    style_layers: str | None = None
    content_weight: float = 1.0
    style_weight: float = 100.0
    tv_weight: float = 5.0
    optimizer: str = "lbfgs"
    init: str = "content"  # content | noise | style | a file
    scales: list[int] | None = None  # None: an automatic coarse-to-fine ladder
    style_scale: float = 1.0
    style_blend: list[float] | None = None
    preserve_color: str = "none"
    pooling: str = "max"
    tile: int = 0  # refine scales larger than this in tiles of it; 0: never

    auto_steps = True
    # Measured with lite0 at 384 px, Tübingen x Starry Night, L-BFGS (docs/performance.md): 10
    # steps moved the pixels by 3.6 levels at step 50, 1.3 at 100, 1.0 at 150, 0.8 at 200 and
    # 0.6 at 300, and side by side the pictures from step 150 on look the same.
    AUTO_CEILING = 500
    AUTO_LEVELS = 1.0

    def validate(self) -> None:
        super().validate()
        for name in ("content_weight", "style_weight", "tv_weight"):
            _positive(self, name, getattr(self, name), allow_zero=True, upper=1e12)
        if self.optimizer not in ("lbfgs", "adam"):
            raise UserError(f"unknown --optimizer {self.optimizer!r}", "use lbfgs or adam")
        if self.preserve_color not in ("none", "luminance", "histogram"):
            raise UserError(f"unknown --preserve-color {self.preserve_color!r}", did_you_mean(self.preserve_color, ["none", "luminance", "histogram"]))
        _check_tile(self.tile)
        if self.pooling not in ("max", "avg"):
            raise UserError(f"unknown --pooling {self.pooling!r}", "use max or avg")
        if not 0.05 <= self.style_scale <= 8:
            raise UserError(f"--style-scale {self.style_scale} is out of range", "use a number from 0.05 to 8, e.g. 0.5 or 1.5")
        if self.scales is not None:
            if not self.scales or any(not 16 <= s <= MAX_SIZE for s in self.scales) or sorted(self.scales) != self.scales:
                raise UserError(f"--scales {','.join(map(str, self.scales))} is not an increasing list of sizes", "e.g. --scales 256,512")
        if self.style_blend is not None and (any(w < 0 for w in self.style_blend) or sum(self.style_blend) <= 0):
            raise UserError("--style-blend weights must be non-negative and not all zero", "e.g. --style-blend 0.7,0.3")


@dataclass(kw_only=True)
class VisualizeSettings(CommonSettings):
    """Feature visualisation: optimise an image (or a batch) to excite a unit, channel or class."""

    size: int | None = 224
    steps: int = 256
    lr: float | None = 0.05
    param: str = "fft"
    transforms: str = "standard"
    diversity: float = 0.0
    batch: int = 1  # images per objective (with diversity, several different answers)

    # No --steps auto: with its random transforms the picture never stops moving in pixels
    # (3-4 levels per 10 steps from step 40 to 512 for a class on lite0); a rule on the objective
    # or the classifier's confidence is still to be measured.

    def validate(self) -> None:
        super().validate()
        if self.param not in ("fft", "pixel"):
            raise UserError(f"unknown --param {self.param!r}", "use fft or pixel")
        if self.transforms not in ("none", "standard", "strong"):
            raise UserError(f"unknown --transforms {self.transforms!r}", did_you_mean(self.transforms, ["none", "standard", "strong"]))
        _positive(self, "diversity", self.diversity, allow_zero=True, upper=1e6)
        _positive(self, "batch", self.batch, allow_zero=False, upper=256)


TEMPORAL_MODES = ("flow", "blend", "none")
# The temporal term's default weight, next to content_weight 1 and style_weight 100: how it was
# converted from Ruder et al.'s 1:20:200 is written out in temporal.py and docs/video.md.
TEMPORAL_WEIGHT = 50.0
LONG_TERM = [1, 2, 4]  # --long-term: Ruder et al.'s J, nearest first


@dataclass(kw_only=True)
class MotionSettings:
    """The knobs of zoom and clip runs, on top of the engine's own settings."""

    frames: int = 24  # zoom: how many frames, the first being the first dream
    zoom: float = 1.05  # zoom: scale per frame about the centre (<1 zooms out)
    rotate: float = 0.0  # zoom: degrees per frame, counter-clockwise
    fps: float | None = None  # output rate; None: the input's (a video), 24 (a frame folder), 12 (zoom)
    blend: float = 0.5  # clip: share of frame t-1's stylisation carried onto frame t; 0: independent
    # clip: how frame t holds to the frames before it (temporal.py): "flow" warps them by optical
    # flow (Ruder et al. 2016), "blend" carries `blend` of them unwarped, "none" runs each alone.
    temporal: str = "flow"
    temporal_weight: float = TEMPORAL_WEIGHT  # style, flow: weight of the temporal term (see temporal.py)
    long_term: list[int] | None = None  # style, flow: earlier frames held to, nearest first, e.g. [1, 2, 4]; None: t-1
    passes: int = 1  # style, flow: alternating forward/backward passes over the clip (final renders)

    def __post_init__(self) -> None:
        if not 1 <= self.frames <= 100_000:
            raise UserError(f"--frames {self.frames} is out of range", "use 1 up to 100000")
        if not 0.5 <= self.zoom <= 2.0:
            raise UserError(f"--zoom {self.zoom} is out of range", "use 0.5 to 2, e.g. 1.05 (1: no zoom)")
        if not -180 <= self.rotate <= 180:
            raise UserError(f"--rotate {self.rotate} is out of range", "use -180 to 180 degrees per frame, e.g. 1")
        if self.fps is not None and not 0.1 <= self.fps <= 240:
            raise UserError(f"--fps {self.fps} is out of range", "use 0.1 to 240")
        # 1 would ignore the video after its first frame.
        if not 0 <= self.blend <= 0.95:
            raise UserError(f"--blend {self.blend} is out of range", "use 0 (independent frames) to 0.95, e.g. 0.5")
        if self.temporal not in TEMPORAL_MODES:
            raise UserError(f"unknown --temporal {self.temporal!r}", did_you_mean(self.temporal, TEMPORAL_MODES))
        if not 0 <= self.temporal_weight <= 1e9:
            raise UserError(f"--temporal-weight {self.temporal_weight} is out of range", f"use 0 up to 1e9, e.g. {TEMPORAL_WEIGHT:g}")
        if not 1 <= self.passes <= 20:
            raise UserError(f"--passes {self.passes} is out of range", "use 1 (one forward pass) up to 20, e.g. 3")
        if self.long_term is not None:
            self.long_term = [int(k) for k in self.long_term]
            if not self.long_term or self.long_term != sorted(set(self.long_term)) or not 1 <= self.long_term[0] <= self.long_term[-1] <= 64:
                raise UserError(f"long-term frames {self.long_term} are not increasing distances from 1 to 64", "e.g. [1, 2, 4]")
        if self.temporal != "flow" and (self.long_term is not None or self.passes > 1):
            raise UserError(f"--long-term and --passes need --temporal flow, not {self.temporal}", "drop them, or use --temporal flow")


def parse_float_list(spec: str | list | None, what: str) -> list[float] | None:
    if spec is None or isinstance(spec, list):
        return spec
    try:
        return [float(p) for p in str(spec).split(",") if p.strip()]
    except ValueError:
        raise UserError(f"{what} {spec!r} is not a list of numbers", f"e.g. {what} 0.7,0.3") from None


def parse_layers(spec: str) -> dict[str, float]:
    """'relu4_3:1,relu5_1:0.5' -> {'relu4_3': 1.0, 'relu5_1': 0.5}."""
    out: dict[str, float] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, weight = part.partition(":")
        try:
            out[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise UserError(f"bad layer weight in {part!r}", "write layers as name or name:weight, e.g. relu4_3:1,relu5_1:0.5") from None
    if not out:
        raise UserError("no layers given", "e.g. --layers relu4_3")
    return out


def parse_int_list(spec: str | list[int] | None, what: str = "--channels") -> list[int] | None:
    """'12,40' or '0-15' or '3,7-9' -> a list of ints."""
    if spec is None or isinstance(spec, list):
        return spec
    out: list[int] = []
    try:
        for part in str(spec).split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                out.extend(range(int(lo), int(hi) + 1))
            elif part:
                out.append(int(part))
    except ValueError:
        raise UserError(f"{what} {spec!r} is not a list of numbers", f"e.g. {what} 12,40 or {what} 0-15") from None
    return out


def build(cls: type, values: dict[str, Any]) -> Any:
    """A validated settings object; unknown keys are refused with a did-you-mean."""
    names = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in names:
            raise UserError(f"unknown setting {key!r}", did_you_mean(key, names))
    values = dict(values)
    steps = values.get("steps")
    if isinstance(steps, str) and steps.strip().lstrip("-").isdigit():  # the CLI passes text: "200" or "auto"
        values["steps"] = int(steps)
    if "channels" in values:
        values["channels"] = parse_int_list(values["channels"])
    if "scales" in values:
        values["scales"] = parse_int_list(values["scales"], "--scales")
    if "style_blend" in values:
        values["style_blend"] = parse_float_list(values["style_blend"], "--style-blend")
    return cls(**values)


def metadata(engine: str, settings: CommonSettings, weights: str, inputs: dict[str, Any] | None = None,
             device: str = "", precision: str = "") -> dict[str, Any]:
    """What an engine knows of the picture it made, in the shape of a Job's JSON (job.py): the
    settings as run (layers and model resolved) and where it ran; `run` completes the record
    with the job's own engine name, inputs, motion and output before it is embedded."""
    import torch

    from .version import __version__

    return {
        "engine": engine,
        "inputs": inputs or {},
        "settings": settings.to_dict(),
        "ran": {
            "weights": weights,
            "weights_file": weights_identity(weights),
            "device": device,
            "precision": precision,
            "dreamstyle": __version__,
            "torch": torch.__version__,
        },
    }


def weights_identity(path: str) -> dict[str, Any] | None:
    """Size and a SHA-256 prefix of the weights file: a path alone does not say which weights a
    file held when the output was made, and a re-run elsewhere has a different path anyway."""
    import os

    try:
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return None  # not a local file (no weights, or a name only)
    return {"bytes": st.st_size, "sha256": _sha256_prefix(path, st.st_size, st.st_mtime_ns)}


@functools.lru_cache(maxsize=8)
def _sha256_prefix(path: str, size: int, mtime_ns: int) -> str:
    # Keyed on size and mtime too, so snapshots of one run hash the file once but an edited
    # file is hashed again.
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
