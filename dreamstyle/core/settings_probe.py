"""Settings of the probes that measure a network rather than make a picture of it: the translation
probe (`visualize shift`) and the strongest pictures of a folder (`visualize top`). Same conventions
as core/settings.py: typed, checked on construction, help texts in the fields."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError
from .settings import CommonSettings, VisualizeSettings, _positive, setting


@dataclass(kw_only=True)
class ShiftSettings(CommonSettings):
    """The translation probe: the picture seen through a window moved by 0…max_shift px (and
    turned, scaled), and how the top class and each layer's maps follow it."""

    model: str = "efficientnet-lite0"  # bundled: the probe runs offline
    size: int | None = 224  # the window's side in pixels
    steps: int = 1  # nothing is optimised: one forward pass per position
    layers: str | None = setting(None, "Layers whose maps to follow: block3,block8.", shown="the last layer at each stride")
    max_shift: int = setting(32, "Move the window right by 0 up to this many pixels.")
    rotate: float = setting(0.0, "Also turn it, reaching this many degrees at the end.")  # counter-clockwise
    scale: float = setting(1.0, "Also zoom in, reaching this factor at the end.")  # 2: twice as close
    points: int | None = setting(None, "Positions from start to end.", shown="one per pixel of shift")  # 25 without a shift

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
    top: int = setting(9, "How many pictures.")
    chunk: int = setting(16, "Pictures per forward pass.")  # while scanning the folder

    def validate(self) -> None:
        super().validate()
        _positive(self, "top", self.top, allow_zero=False, upper=256)
        _positive(self, "chunk", self.chunk, allow_zero=False, upper=1024)
