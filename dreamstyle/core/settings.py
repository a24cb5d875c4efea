"""Typed settings shared by the Python API, the CLI and presets.

One dataclass per engine. Presets and CLI flags are plain dicts merged in order
(defaults < preset < explicit flags) and turned into a dataclass by `build`, which is also where
every number is checked, so the API refuses the same bad input the CLI does.

Each field carries its help text (`setting`): `--help` and the studio's form both read it here
(`help_of`), so the words that explain a setting are written once, next to its default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError, did_you_mean
from ..models.names import DEVICES, MODEL_NAMES, PRECISIONS  # noqa: F401  (read from here by the surfaces)
# Re-exported: the parsers lived here, and callers import them from here.
from .parsing import parse_cuts, parse_float_list, parse_int_list, parse_layers  # noqa: F401
from .validation import check_fields, flag, settings_from

MAX_SIZE = 16384  # beyond this an image is a tiling job, not a single pass
MIN_SIZE = 16  # the shallowest layers' floor; a deeper layer needs twice its stride
AUTO = "auto"


def setting(default: Any = None, help: str = "", *, shown: str | None = None) -> Any:
    """A field with the help text `--help` and the studio show; `shown`: what --help gives as
    the default of a field left None until run time ("auto, only when the image would not fit")."""
    return field(default=default, metadata={"help": help, "shown": shown})


def help_of(cls: type, name: str) -> str:
    """The help of `cls`'s field `name`: a subclass changing only a default keeps its base's words."""
    found = (k.__dataclass_fields__.get(name) for k in cls.__mro__ if dataclasses.is_dataclass(k))
    return next((f.metadata["help"] for f in found if f is not None and f.metadata.get("help")), "")


# The studio's label of a setting is its name in words ("style_weight": "Style weight"); these
# are the names that read wrong that way (an abbreviation, an American spelling, a bare word).
LABELS = {
    "lr": "Step size", "preserve_color": "Preserve colour", "tv_weight": "Smoothness weight (TV)",
    "max_pixels": "Largest input (pixels)", "net": "Network", "net_size": "Network size", "mix": "Mix of paintings",
    "norm": "Gradient normalisation", "param": "Parameterisation", "init": "Start from", "octave_scale": "Octave scale",
    "size": "Size (px)", "tile": "Tile size (px)", "jitter": "Jitter (px)", "smooth": "Gradient smoothing",
    "minutes": "Time limit (minutes)", "preview_minutes": "Preview every (minutes)", "seed": "Seed", "model": "Model", "threads": "CPU threads",
}  # fmt: skip


def label_of(name: str) -> str:
    """A setting's name in words, as the studio's form shows it: LABELS, else "style_weight" -> "Style weight"."""
    return LABELS.get(name) or name.replace("_", " ").capitalize()


def shown_default(cls: type, name: str) -> str | None:
    """What --help gives as the default of a field that is None until run time, if anything."""
    return cls.__dataclass_fields__[name].metadata.get("shown")


@dataclass(kw_only=True)
class CommonSettings:
    model: str = setting("vgg16", "Backbone: vgg16, vgg19, vgg19-caffe, googlenet, efficientnet-lite0 (bundled, offline).")
    weights: str | None = setting(None, "Load the backbone's weights from this local state dict instead of the torch hub cache.")
    size: int | None = setting(None, "Longest side of the output in pixels, 16 to 16384.")
    steps: int | str = setting(10, "Optimisation steps (per octave/scale), or auto (the default for style and visualize): stop each scale when the picture is done, at most 500 (style) or 512 (visualize) steps.")
    lr: float | None = setting(None, "Step size of the optimiser: how far each step moves the picture (larger: faster and coarser); a positive number.")
    seed: int | None = setting(0, "Random seed; on the CPU the same seed and --threads give identical files.")
    device: str = setting("auto", "auto (cuda, then mps, then cpu), cpu, cuda or mps.")
    precision: str = setting("auto", "auto (bf16 where the hardware multiplies it natively: CUDA GPUs of compute capability 8.0+, and CPUs with AVX512-BF16 or AMX for the VGG and GoogLeNet backbones; else fp32), fp32 or bf16; fp16 is refused.")
    deterministic: bool = setting(False, "The same seed gives the same bytes on a GPU too (no cuDNN autotuning, no TF32, deterministic kernels), at some speed; the CPU is repeatable already.")
    # None: torch's own count; the record holds the count that ran (core/threads.py), which --from applies.
    threads: int | None = setting(None, "CPU threads torch computes with. On the CPU the same seed gives the same bytes at the same count, and a different picture at another; --from uses the count recorded.", shown="torch's, one per core")
    save_every: int = setting(0, "Also save a snapshot OUT.stepNNNNN.png every N steps; 0: never.")
    quiet: bool = setting(False, "No progress bar or log lines (for scripts).")
    max_pixels: int | None = setting(178_956_970, "Refuse input images with more pixels than this (decompression-bomb guard).")

    def __post_init__(self) -> None:
        # Checked on construction too (types, then validate()), so DreamSettings(octaves=0) fails where it is written.
        check_fields(self)

    def validate(self) -> None:
        if isinstance(self.steps, str):
            if self.steps != AUTO:
                raise UserError(f"--steps {self.steps!r} is not a number of steps", f"give a whole number, e.g. --steps 200, or --steps {AUTO}")
            if not self.auto_steps:
                raise UserError(f"--steps {AUTO} applies to style and visualize only", "give a number of steps, e.g. --steps 10")
        else:
            _positive(self, "steps", self.steps, allow_zero=False, upper=100_000)
        if self.size is not None and not MIN_SIZE <= self.size <= MAX_SIZE:
            # The real floor is the layers': twice the deepest one's stride (dream.py, style.py say so when run).
            raise UserError(f"--size {self.size} is too small" if self.size < MIN_SIZE else f"--size {self.size} is out of range",
                            f"use at least {MIN_SIZE} pixels, up to {MAX_SIZE}, and twice the stride of the deepest layer (`dreamstyle layers MODEL` lists them)")  # fmt: skip
        if self.lr is not None:
            _positive(self, "lr", self.lr, allow_zero=False, upper=1e6)
        _positive(self, "save_every", self.save_every, allow_zero=True, upper=10**9)
        if self.max_pixels is not None:
            _positive(self, "max_pixels", self.max_pixels, allow_zero=False, upper=10**12)
        if self.threads is not None:
            _positive(self, "threads", self.threads, allow_zero=False, upper=1024)
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
    layers: str | None = setting(None, "Layers to amplify, optionally weighted: relu4_3 or relu4_3:1,relu5_1:0.5. Default: the model's.")
    channels: list[int] | None = setting(None, "Dream only these channels of the layers: 12,40 or 0-15.")
    guide: str | None = setting(None, "Guide image: grow what the network sees in it instead.")
    octaves: int = setting(4, "Octave pyramid levels: the picture is dreamt at this many sizes, smallest first; 1 to 20.")
    octave_scale: float = setting(1.4, "Size ratio between octaves; above 1, at most 4.")
    jitter: int = setting(32, "Random shift in pixels each step; stops grid artefacts.")
    norm: str = setting("mean-abs", "Gradient normalisation: mean-abs or std.")
    smooth: float = setting(1.0, "Gaussian sigma for smoothing the gradient; 0 for none.")
    # None: tiled when the device needs it (tiling.py decides).
    tile: int | None = setting(None, "Compute the gradient in tiles of this many pixels (bounded memory at any size); 0: never.", shown="auto, only when the image would not fit")

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
    # L-BFGS takes whole steps; None: the engine's Adam step size (style.ADAM_LR, less when tiling).
    lr: float | None = setting(None, "Adam step size.", shown="0.02; 0.005 when a --tile scale is refined")
    content_layers: str | None = setting(None, "Content layers, optionally weighted (relu4_2). Default: the model's.")
    style_layers: str | None = setting(None, "Style layers, optionally weighted (relu1_1,relu2_1:0.5,…). Default: the model's.")
    content_weight: float = setting(1.0, "Weight of the content loss: how much of the photo's shapes is kept; 0 or more.")
    style_weight: float = setting(100.0, "Weight of the style loss; 1 is a hint of the painting, 1000 the full texture, and each tenfold step takes visibly more of the photo away. By region, one per style: 100,300.")
    tv_weight: float = setting(5.0, "Weight of total-variation smoothing (less pixel noise); 0 or more.")
    optimizer: str = setting("lbfgs", "lbfgs or adam.")
    init: str = setting("palette", "Start from: palette (the photo in the painting's colours), content (the photo as it is), noise, style or an image FILE.")
    scales: list[int] | None = setting(None, "Coarse-to-fine sizes, e.g. 256,512; with --size the ladder is rescaled to end at --size. Default: halve down to no less than 192 px.")
    style_scale: float = setting(1.0, "Style image size relative to the output, 0.05 to 8; smaller = finer strokes.")
    style_blend: list[float] | None = setting(None, "Weights of several style images, e.g. 0.7,0.3.")
    preserve_color: str = setting("none", "none, luminance (keep the photo's colours) or histogram (recolour the style first).")
    regions_key: str | None = setting(None, "With --regions MAP: the map's colours in the order of the styles, e.g. red,blue or #e6194b,#3cb44b. Default: the order the colours first appear, reading the map row by row from the top-left.")
    region_weights: list[float] | None = setting(None, "With --mask or --regions: each region's style weight, in the styles' order, e.g. 100,300 (--style-weight 100,300 says the same). Default: --style-weight for every region.")
    pooling: str = setting("max", "max or avg pooling in VGG.")
    tile: int = setting(0, "Refine scales larger than this in tiles of it (Adam, global style targets); 0: never.")

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
        from ..optim.stopping import Converged

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
        if self.region_weights is not None and (not self.region_weights or any(not 0 <= w <= 1e12 for w in self.region_weights)):
            raise UserError("region weights must be from 0 up", "e.g. --style-weight 100,300: one per style")
        if self.style_blend is not None and (any(w < 0 for w in self.style_blend) or sum(self.style_blend) <= 0):
            raise UserError("--style-blend weights must be non-negative and not all zero", "e.g. --style-blend 0.7,0.3")


@dataclass(kw_only=True)
class VisualizeSettings(CommonSettings):
    """Feature visualisation: optimise an image (or a batch) to excite a unit, channel or class."""

    size: int | None = 224
    steps: int | str = AUTO  # stops when the objective's gains dwindle (at most AUTO_CEILING)
    lr: float | None = 0.05
    param: str = setting("fft", "Image parameterisation: fft (decorrelated colour) or pixel.")
    transforms: str = setting("standard", "Robustness transforms: none, standard (lucid's) or strong.")
    diversity: float = setting(0.0, "With --batch > 1, push the images apart by this weight.")
    batch: int = setting(1, "Images per objective (use with --diversity).")

    # Pixels never settle here (random transforms), so auto stops on diminishing returns of the
    # objective instead (converge.Plateau): class images on lite0 stop at 128 steps where
    # the fixed default was 256, at the same classifier confidence (docs/performance.md).
    auto_steps = True
    AUTO_CEILING = 512

    def auto_rule(self):
        from ..optim.stopping import Plateau

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
TEMPORAL_WEIGHT = 10.0
LONG_TERM = [1, 2, 4]  # --long-term: Ruder et al.'s J, nearest first



@dataclass(kw_only=True)
class MotionSettings:
    """The knobs of zoom and clip runs, on top of the engine's own settings."""

    # frames, zoom, rotate: the zoom's; the rest a clip's (the zoom's fps is engines/zoom.py's ZOOM_FPS).
    frames: int = setting(24, "How many frames; frame 0 is the first dream.")
    zoom: float = setting(1.05, "Scale per frame about the centre; below 1 zooms out.")
    rotate: float = setting(0.0, "Degrees per frame, counter-clockwise.")
    fps: float | None = setting(None, "Video: frames per second of the output.", shown="the input's; 24 for a frame folder")
    blend: float = setting(0.5, "Video: share of frame t-1's added detail carried onto frame t (--temporal blend, and dream's flow); alone it means --temporal blend.")
    # How frame t holds to the frames before it (temporal.py): "flow" warps them by optical flow
    # (Ruder et al. 2016), "blend" carries `blend` of them unwarped, "none" runs each alone.
    temporal: str = setting("flow", "Video: how frames hold together: flow (the earlier frames warped by optical flow), blend (carried unwarped), none (independent). Marks a frame folder as a clip.")
    temporal_weight: float = setting(TEMPORAL_WEIGHT, "Video, style, flow: how firmly each frame holds to the warped earlier ones (content weight is 1).")
    # Earlier frames held to, nearest first, e.g. [1, 2, 4]; None: t-1 only. The CLI's flag sets LONG_TERM.
    long_term: list[int] | None = setting(None, "Video, style, flow: hold each frame to frames t-1, t-2 and t-4 (Ruder et al.'s long-term consistency): what an object hid comes back as it was.")
    passes: int = setting(1, "Video, style, flow: alternating backward/forward passes over the clip, each of --steps per frame (final renders).")
    # Where a new shot starts: the frame takes nothing from the one before (engines/cuts.py's rule
    # for "auto"); kept as typed, normalised ("12,40"). The frames found are in the record.
    cuts: str = setting("auto", "Video: where the shots change, each new shot starting afresh: auto (found from the frames' colours), none, or the frames where a new shot starts, e.g. 48 or 12,40.")
    # A diagnostic, not part of the clip: the record leaves it out (core/job.py record).
    debug_flow: str | None = setting(None, "Video, flow: write each frame's optical flow from the frame before (flow_NNNNN.png, hue: direction, brightness: length) and where it is trusted (mask_NNNNN.png, white: trusted) into this folder, and the shot changes into cuts.txt.")
    field_prefix = "motion."  # how UserError.field names these

    def __post_init__(self) -> None:
        check_fields(self, self.field_prefix)

    def validate(self) -> None:
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
        self.cuts = parse_cuts(self.cuts)
        if self.debug_flow is not None and self.temporal != "flow":
            raise UserError(f"--debug-flow shows the optical flow, and --temporal {self.temporal} uses none", "add --temporal flow, or drop --debug-flow")
        if self.temporal != "flow" and (self.long_term is not None or self.passes > 1):
            raise UserError(f"--long-term and --passes need --temporal flow, not {self.temporal}", "drop them, or use --temporal flow")


BACKENDS = ("local", "ray")


@dataclass(kw_only=True)
class ClusterSettings:
    """Where a batch, a sweep or a clip runs: here, or spread over a Ray cluster's workers
    (cluster/). They change where the pictures are made, never what they are, so no output
    records them."""

    backend: str = setting("local", "local, or ray: a batch, sweep or clip spread over the workers of a Ray cluster (pip install 'dreamstyle[ray]').")
    address: str | None = setting(None, "With --backend ray: the cluster to join, its head node's HOST:PORT. Default: Ray's own rules (RAY_ADDRESS, a cluster `ray start` began here, else a new one on this machine).")
    workers: int | None = setting(None, "With --backend ray: how many workers, each loading the model once.", shown="one per GPU, else one per CPU")
    gpus_per_worker: float | None = setting(None, "With --backend ray: GPUs each worker takes (0.5: two share one; 0: CPU workers).", shown="1 where the cluster has GPUs, else 0")

    def __post_init__(self) -> None:
        check_fields(self)

    def validate(self) -> None:
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
    """A checked settings object (validation.py): unknown keys refused with a did-you-mean, the
    command line's text parsed, every field's type, range and choice checked, as `Job` does."""
    return settings_from(cls, values)
