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
from .runtime import DEVICES, PRECISIONS

MAX_SIZE = 16384  # beyond this an image is a tiling job, not a single pass


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(kw_only=True)
class CommonSettings:
    model: str = "vgg16"
    weights: str | None = None
    size: int | None = None
    steps: int = 10
    lr: float | None = None
    seed: int | None = 0
    device: str = "auto"
    precision: str = "auto"
    save_every: int = 0
    quiet: bool = False
    max_pixels: int | None = 178_956_970

    def validate(self) -> None:
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

    def validate(self) -> None:
        super().validate()
        _positive(self, "octaves", self.octaves, allow_zero=False, upper=20)
        if not 1.0 < self.octave_scale <= 4.0:
            raise UserError(f"--octave-scale {self.octave_scale} is out of range", "use a number above 1 and at most 4, e.g. 1.4")
        _positive(self, "jitter", self.jitter, allow_zero=True, upper=4096)
        _positive(self, "smooth", self.smooth, allow_zero=True, upper=64)
        if self.norm not in ("mean-abs", "std"):
            raise UserError(f"unknown --norm {self.norm!r}", "use mean-abs or std")
        if self.channels is not None and any(c < 0 for c in self.channels):
            raise UserError("--channels must be channel numbers from 0 up", "e.g. --channels 12,40")


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
    if "channels" in values:
        values["channels"] = parse_int_list(values["channels"])
    settings = cls(**values)
    settings.validate()
    return settings




def metadata(engine: str, settings: CommonSettings, weights: str) -> dict[str, Any]:
    """Everything needed to re-run an output, embedded in every PNG we write."""
    import torch

    from . import __version__

    return {
        "engine": engine,
        "settings": settings.to_dict(),
        "weights": weights,
        "dreamstyle": __version__,
        "torch": torch.__version__,
    }
