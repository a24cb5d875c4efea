"""Settings of the explorer (`dreamstyle explore`, engines/explore.py): a network's pages of
pictures, one per layer and per channel. Same conventions as core/settings.py: typed, checked on
construction, help texts in the fields."""

from __future__ import annotations

from dataclasses import dataclass

from .settings import VisualizeSettings, _positive, setting

# What each picture of a unit is: "channel" the grid's thumbnail, "large" a bigger one,
# "negative" the channel minimised, "diverse" a strip of pictures pushed apart, "top" the
# strongest crops of a folder's pictures.
KINDS = ("channel", "large", "negative", "diverse", "top")


@dataclass(kw_only=True)
class ExploreSettings(VisualizeSettings):
    """The explorer's pictures: thumbnails fast enough to fill a grid while one waits, then the
    unit's larger, negative and diverse pictures at the same settings."""

    model: str = "efficientnet-lite0"  # bundled: the explorer runs offline
    size: int | None = setting(96, "Side of a thumbnail (and of the negative and diverse pictures), in pixels.")
    # 32 steps at lr 0.1 rather than `visualize`'s auto (128+ at 0.05): 4x sooner, and each
    # thumbnail still excites its own channel most of a layer's 16 (docs/explore.md).
    steps: int | str = setting(32, "Optimisation steps of each picture (the large one: half as many again), or auto.")
    lr: float | None = 0.1
    batch: int = setting(1, "Diverse pictures per channel; 1: three.")
    diversity: float = setting(0.0, "How hard a channel's diverse pictures are pushed apart; 0: 30.")
    large: int = setting(160, "Side of a unit's large picture, in pixels.")
    top: int = setting(9, "Top pictures per unit from --top-folder.")
    chunk: int = setting(8, "Channels rendered together in one batch (the grid fills in batch by batch).")

    def validate(self) -> None:
        super().validate()
        _positive(self, "large", self.large, allow_zero=False, upper=2048)
        _positive(self, "top", self.top, allow_zero=False, upper=256)
        _positive(self, "chunk", self.chunk, allow_zero=False, upper=256)
