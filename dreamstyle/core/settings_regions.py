"""Settings of finding a photo's regions (`dreamstyle regions`): how many, and which layer's
features they are found in. Same conventions as core/settings.py: typed, checked on construction,
help texts in the fields."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError
from .settings import CommonSettings, setting

# The palette a map is drawn in has 8 colours (engines/regions.py: PALETTE).
MAX_REGIONS = 8


def check_region_count(k) -> None:
    """Refuse a number of regions the palette cannot draw (the API's callers pass k directly)."""
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= MAX_REGIONS:
        raise UserError(f"--k {k} is out of range", f"use 2 to {MAX_REGIONS} regions (one colour of the palette each)")


@dataclass(kw_only=True)
class RegionsSettings(CommonSettings):
    """The photo's regions: k-means over the backbone's features, refined along the photo's colours."""

    model: str = "efficientnet-lite0"  # bundled: regions are found offline
    size: int | None = setting(512, "Longest side the features are computed at, in pixels; the map is written at the photo's full size.")
    steps: int = 1  # nothing is optimised: one forward pass
    k: int = setting(3, f"How many regions, 2 to {MAX_REGIONS}.")
    layer: str | None = setting(None, "Find the regions in this layer's features, e.g. block4.", shown="the last layers at strides 8 and 16")

    def validate(self) -> None:
        super().validate()
        check_region_count(self.k)
        if self.size is not None and self.size < 32:
            raise UserError(f"--size {self.size} is too small to find regions at", "use at least 32 pixels, e.g. --size 512")
