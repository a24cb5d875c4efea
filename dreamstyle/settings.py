"""Typed settings shared by the Python API, the CLI and presets.

One dataclass per engine. Presets and CLI flags are plain dicts merged in order
(defaults < preset < explicit flags) and turned into a dataclass by `build`, which is also where
every number is checked, so the API refuses the same bad input the CLI does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .errors import UserError, did_you_mean
# Re-exported: the parsers lived here, and callers import them from here.
from .parsing import parse_float_list, parse_int_list, parse_layers  # noqa: F401

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
                raise UserError(f"--steps {AUTO} applies to style and visualize only", "give a number of steps, e.g. --steps 10")
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

    # Whether `--steps auto` applies, and then: at most AUTO_CEILING steps per scale, stopped by
    # the engine's rule (`auto_rule`).
    auto_steps = False
    AUTO_CEILING = 0

    def step_plan(self):
        """(the most steps a scale takes, the stopping rule or None): `--steps N` runs exactly N."""
        if self.steps != AUTO:
            return self.steps, None
        return self.AUTO_CEILING, self.auto_rule()

    def auto_rule(self):
        raise NotImplementedError

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
        if self.guide and self.channels is not None:
            raise UserError("--channels and --guide cannot be combined", "a guided dream matches all channels to the guide; drop one of them")


# The --init values that name a way to start rather than an image file.
INIT_WORDS = ("palette", "content", "noise", "style")


@dataclass(kw_only=True)
class StyleSettings(CommonSettings):
    """Gatys style transfer: content loss + Gram-matrix style losses + total variation."""

    model: str = "vgg19"
    size: int | None = 512
    steps: int | str = AUTO  # each scale stops when its pixels stop changing visibly (at most AUTO_CEILING)
    lr: float | None = None  # Adam's step size; L-BFGS takes whole steps
    content_layers: str | None = None  # None: the model's defaults
    style_layers: str | None = None
    content_weight: float = 1.0
    style_weight: float = 100.0
    tv_weight: float = 5.0
    optimizer: str = "lbfgs"
    init: str = "palette"  # palette (the photo in the painting's colours) | content | noise | style | a file
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
    # A coarse scale only lays out what the finer one repaints. Measured at 384 px from the palette
    # start (docs/performance.md): stopped at 60 steps instead of by the pixel rule (120-190), cat x
    # swirls, astronaut x mosaic and Tübingen x Starry Night took 6.3, 11.7 and 12.5 s of engine
    # time instead of 10.6, 12.1 and 16.5, at the same judge's scores and side by side the same.
    AUTO_COARSE_CEILING = 60

    def auto_rule(self):
        from .converge import Converged

        return Converged(self.AUTO_LEVELS)

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
    steps: int | str = AUTO  # stops when the objective's gains dwindle (at most AUTO_CEILING)
    lr: float | None = 0.05
    param: str = "fft"
    transforms: str = "standard"
    diversity: float = 0.0
    batch: int = 1  # images per objective (with diversity, several different answers)

    # Pixels never settle here (random transforms), so auto stops on diminishing returns of the
    # objective instead (converge.Plateau): class images on lite0 stop at 128 steps where
    # the fixed default was 256, at the same classifier confidence (docs/performance.md).
    auto_steps = True
    AUTO_CEILING = 512

    def auto_rule(self):
        from .converge import Plateau

        return Plateau()

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
class ShiftSettings(CommonSettings):
    """The translation probe: the picture seen through a window moved by 0…max_shift px (and
    turned, scaled), and how the top class and each layer's maps follow it."""

    model: str = "efficientnet-lite0"  # bundled: the probe runs offline
    size: int | None = 224  # the window's side in pixels
    steps: int = 1  # nothing is optimised: one forward pass per position
    layers: str | None = None  # "block3,block8"; None: the last layer at each stride
    max_shift: int = 32  # pixels, to the right
    rotate: float = 0.0  # degrees reached at the last position, counter-clockwise
    scale: float = 1.0  # zoom reached at the last position (2: twice as close)
    points: int | None = None  # positions from start to end; None: one per pixel of shift (25 without a shift)

    def validate(self) -> None:
        super().validate()
        _positive(self, "max_shift", self.max_shift, allow_zero=True, upper=4096)
        if not -180 <= self.rotate <= 180:
            raise UserError(f"--rotate {self.rotate} is out of range", "use -180 to 180 degrees, e.g. 30")
        if not 0.25 <= self.scale <= 4:
            raise UserError(f"--scale {self.scale} is out of range", "use 0.25 to 4, e.g. 1.5 (1: no zoom)")
        if self.points is not None and not 2 <= self.points <= 1024:
            raise UserError(f"--points {self.points} is out of range", "use 2 to 1024")
        if self.max_shift == 0 and self.rotate == 0 and self.scale == 1:
            raise UserError("nothing moves: --max-shift 0 with no --rotate or --scale", "e.g. --max-shift 32, or --rotate 30")

    @property
    def positions(self) -> int:
        return self.points or (self.max_shift + 1 if self.max_shift else 25)


@dataclass(kw_only=True)
class TopSettings(VisualizeSettings):
    """The pictures of a folder that excite one channel most, beside what excites it most."""

    model: str = "efficientnet-lite0"  # bundled: works offline
    size: int | None = 224  # each picture is seen as its central size x size square
    steps: int = 128  # of the channel's activation-maximisation image
    top: int = 9  # how many pictures
    chunk: int = 16  # pictures per forward pass while scanning the folder

    def validate(self) -> None:
        super().validate()
        _positive(self, "top", self.top, allow_zero=False, upper=256)
        _positive(self, "chunk", self.chunk, allow_zero=False, upper=1024)


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


BACKENDS = ("local", "ray")


@dataclass(kw_only=True)
class ClusterSettings:
    """Where a batch, a sweep or a clip runs: here, or spread over a Ray cluster's workers
    (cluster/). They change where the pictures are made, never what they are, so no output
    records them."""

    backend: str = "local"
    address: str | None = None  # None: ray.init's own rules (RAY_ADDRESS, a `ray start` here, else a new local one)
    workers: int | None = None  # None: one per GPU (gpus_per_worker each), else one per CPU
    gpus_per_worker: float | None = None  # None: 1 where the cluster has GPUs, else 0 (CPU workers)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UserError(f"unknown backend {self.backend!r}", did_you_mean(self.backend, BACKENDS))
        given = [flag(k) for k in ("address", "workers", "gpus_per_worker") if getattr(self, k) is not None]
        if self.backend == "local" and given:
            raise UserError(f"{given[0].replace('--address', '--ray-address')} applies to --backend ray", "add --backend ray, or drop it")
        if self.workers is not None and not 1 <= self.workers <= 100_000:
            raise UserError(f"--workers {self.workers} is out of range", "use 1 up to 100000")
        # Fractions are Ray's way to pack several workers onto one GPU.
        if self.gpus_per_worker is not None and not 0 <= self.gpus_per_worker <= 64:
            raise UserError(f"--gpus-per-worker {self.gpus_per_worker} is out of range", "use 0 (CPU workers) up to 64, e.g. 1 or 0.5")

    @property
    def on_ray(self) -> bool:
        return self.backend == "ray"


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
