"""Settings of the feed-forward style networks: training one (`dreamstyle train`) and painting with
one (`dreamstyle style PHOTO --net NAME.pt`). Same conventions as core/settings.py: typed, checked
on construction, help texts in the fields."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError
from .settings import CommonSettings, _positive, setting

NET_SIZES = ("small", "base")
MAX_MIX = 64  # paintings one network holds at most


def refuse_clip_flags(flags: list[str]) -> None:
    """A clip painted by a network runs every frame alone (`--temporal none`): the optimisation's
    ways of holding frames together (flow, blend, the temporal loss, long-term, passes) have
    nothing to act on in one forward pass. Said the same way by the CLI and by a Job's check."""
    if flags:
        raise UserError(f"{', '.join(flags)} {'does' if len(flags) == 1 else 'do'} not apply to painting with --net",
                        "a network holds frames together through its training (dreamstyle train --temporal-weight); "
                        f"drop {'it' if len(flags) == 1 else 'them'}, or paint by optimisation without --net")  # fmt: skip


@dataclass(kw_only=True)
class TrainSettings(CommonSettings):
    """Training a network that paints in one pass, with the style engine's own losses."""

    # The bundled backbone trains offline and is the judge the tests and benches use.
    model: str = "efficientnet-lite0"
    size: int | None = setting(256, "Side of the square crops of the photos the network trains on, in pixels.")
    steps: int = setting(1, "Not used by training (see --iterations and --minutes).")
    lr: float | None = setting(1e-3, "Adam's step size for the network's weights.")
    iterations: int = setting(4000, "Stop after this many training iterations (batches).")
    minutes: float | None = setting(15.0, "Stop after this many minutes, whichever comes first; 0 or none: no time limit.")
    batch: int = setting(4, "Photos per iteration.")
    net_size: str = setting("small", "Network size: small (16-32-64 channels, real time on a CPU) or base (32-64-128, Johnson et al.'s).")
    content_layers: str | None = setting(None, "Content layers, optionally weighted. Default: the model's, as `style` uses them.")
    style_layers: str | None = setting(None, "Style layers, optionally weighted. Default: the model's, as `style` uses them.")
    content_weight: float = setting(1.0, "Weight of the content loss.")
    style_weight: float = setting(100.0, "Weight of the style loss, as in `style`: 1 a hint of the painting, 1000 the full texture.")
    tv_weight: float = setting(5.0, "Weight of total-variation smoothing.")
    style_scale: float = setting(1.0, "Style image size relative to the training crops; smaller = finer strokes.")
    preserve_color: str = setting("none", "none, or luminance: train on luminance so the network keeps the photo's colours.")
    preview_minutes: float = setting(3.0, "Write the preview sheet (photos painted by the network so far) every this many minutes.")
    # bench/fast_video.py (docs/fast.md, "Video"): without it a network's clip flickered as much as
    # independent frames of the optimisation (warping error 10x that of --temporal flow); at 200, 6x
    # less, near flow's, for a style distance 6-14 % higher. Measured on 100-iteration networks only.
    temporal_weight: float = setting(200.0, "Weight of the temporal loss: the network paints a slightly moved photo as the moved painting, so a video's frames flicker less (Gupta et al. 2017); 0: off. For video, 2000: steadier than --temporal flow, for less style (docs/fast.md).")

    def validate(self) -> None:
        super().validate()
        _positive(self, "iterations", self.iterations, allow_zero=False, upper=10**7)
        if self.minutes is not None:
            _positive(self, "minutes", self.minutes, allow_zero=True, upper=10**6)
        _positive(self, "batch", self.batch, allow_zero=False, upper=256)
        for name in ("content_weight", "style_weight", "tv_weight", "temporal_weight"):
            _positive(self, name, getattr(self, name), allow_zero=True, upper=1e12)
        if not (self.content_weight or self.style_weight):
            raise UserError("--content-weight and --style-weight are both 0: nothing to learn", "give at least one a positive weight")
        if self.net_size not in NET_SIZES:
            raise UserError(f"unknown --net-size {self.net_size!r}", "use small or base")
        if self.preserve_color not in ("none", "luminance"):
            raise UserError(f"unknown --preserve-color {self.preserve_color!r} for training", "use none or luminance")
        if not 0.05 <= self.style_scale <= 8:
            raise UserError(f"--style-scale {self.style_scale} is out of range", "use a number from 0.05 to 8, e.g. 0.5 or 1.5")
        _positive(self, "preview_minutes", self.preview_minutes, allow_zero=False, upper=10**6)
        if self.size is not None and self.size < 32:
            raise UserError(f"--size {self.size} is too small to train on", "use at least 32 pixels, e.g. --size 256")


@dataclass(kw_only=True)
class FastSettings(CommonSettings):
    """Painting with a trained network: one forward pass per picture."""

    model: str = setting("efficientnet-lite0", "Not used when painting: the network was trained on its own backbone (`dreamstyle info NET.pt`).")
    size: int | None = setting(None, "Longest side of the output in pixels, 16 to 16384.")
    steps: int = setting(1, "Not used: a network paints in one pass.")
    net: str = setting("", "The trained network (.pt) that paints, in one pass, with the paintings it learnt: `dreamstyle train` makes one.")
    mix: list[float] | None = setting(None, "How much of each painting the network holds, e.g. 0.3,0.7 (normalised); none: the first, or an even mix.")

    def validate(self) -> None:
        super().validate()
        if self.mix is not None:
            if not self.mix or len(self.mix) > MAX_MIX or any(w < 0 for w in self.mix) or sum(self.mix) <= 0:
                raise UserError("--mix needs non-negative weights, not all zero", "e.g. --mix 0.3,0.7 (one weight per painting)")
