"""Style by region: each part of the photo painted after its own painting, with the guided Gram
matrices of Gatys et al. 2017 ("Controlling Perceptual Factors in Neural Style Transfer").

A style job with `masks`, a `regions` map or `regions: "auto:K"` gives every style a region of
the photo (optim/masks.py reads them as soft weights, R x H x W). At each style layer the weights
are averaged down to the layer's map, and region r's Gram matrix, averaged over its own
positions, is matched to painting r's (or to the part of painting r its style mask marks, eroded
so only units that see nothing but that part count). Each region's loss counts by its share of the picture, so two half-picture regions weigh
what one whole-picture style does and the style weights keep their meaning.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image

from ..errors import UserError
from ..media.images import Picture, to_tensor
from ..optim import color, masks
from ..optim.objectives import Objective, guided_gram, guided_style_loss, weighted

AUTO = re.compile(r"auto(?::(\d+))?")


@dataclass
class Regions:
    """A style job's regions as its inputs and settings give them; `place` reads them at the
    output's size, and the rest is asked at each scale and layer."""

    masks: list[Any]
    regions: str | None
    style_masks: list[Any]
    key: str | None
    weights: list[float] | None
    styles: int
    full: torch.Tensor | None = None  # R x H x W at the output's size, once placed
    found: Image.Image | None = None  # the map found for `auto`, written beside the output
    notes: list[str] = field(default_factory=list)
    _cache: dict = field(default_factory=dict)

    @classmethod
    def of(cls, job) -> "Regions | None":
        """The regions of a style job, or None when it paints the whole photo in one style."""
        i, s = job.inputs, job.settings
        if not (i.get("masks") or i.get("regions") or i.get("style_masks")):
            for name, value in (("regions_key", s.regions_key), ("region_weights", s.region_weights)):
                if value is not None:
                    raise UserError(f"--{name.replace('_', '-')} applies with --regions or --mask", "add a region map (or a mask per style), or drop it",
                                    field=name)  # fmt: skip
            return None
        styles = len(i.get("styles") or [])
        return cls(list(i.get("masks") or []), i.get("regions") or None, list(i.get("style_masks") or []), s.regions_key,
                   s.region_weights, styles)  # fmt: skip

    def check(self, s, sweep: list[float] | None = None) -> None:
        """What can be refused before a model loads."""
        n = self.styles
        if self.masks and self.regions:
            raise UserError("--mask and --regions both say where each style goes", "give one of them")
        if len(self.masks) > n:
            raise UserError(f"{len(self.masks)} masks for {n} style{'s' if n != 1 else ''}",
                            "give one --mask per style, in the styles' order (the last may be left out)")  # fmt: skip
        if len(self.style_masks) > n:
            raise UserError(f"{len(self.style_masks)} style masks for {n} style{'s' if n != 1 else ''}", "give at most one --style-mask per style image")
        if self.regions is not None:
            auto = AUTO.fullmatch(self.regions)
            if auto and auto.group(1) is not None and int(auto.group(1)) != n:
                raise UserError(f"--regions {self.regions} finds {auto.group(1)} regions for {n} styles", f"use --regions auto:{n}, one region per style")
            if auto and self.key:
                raise UserError("--regions-key names the colours of a map you give, and auto finds its own", "drop --regions-key")
            if auto and not 2 <= n <= 8:
                raise UserError(f"--regions auto finds 2 to 8 regions, one per style, and {n} style{'s are' if n != 1 else ' is'} given",
                                "give 2 to 8 STYLE images")  # fmt: skip
        if self.weights is not None and len(self.weights) != n:
            raise UserError(f"{len(self.weights)} region weights for {n} styles", "give one style weight per style, e.g. --style-weight 100,300")
        if self.weights is not None and sweep:
            raise UserError("a sweep and region weights both set the style weight", "sweep the regions together, or drop --sweep")
        if not (self.masks or self.regions) and n > 1:
            raise UserError("style masks with several styles need to know where each goes", "add --regions MAP or a --mask per style")
        if s.style_blend is not None:
            raise UserError("--style-blend mixes the styles everywhere, and regions give each its own part", "drop --style-blend")
        if s.tile and self.style_masks:
            raise UserError("--style-mask cannot be tiled yet", "paint at a size that fits without --tile")

    def place(self, picture: Picture, hw: tuple[int, int], ctx, seed: int | None) -> None:
        """Read the masks or map at the output's size `hw` (finding the regions first for auto)."""
        n = self.styles
        if self.regions is not None and AUTO.fullmatch(self.regions):
            from .regions import find_regions

            self.found = find_regions(picture.rgb, n, ctx.backbone, ctx.device, dtype=ctx.dtype, seed=seed or 0)
            self.full = masks.map_weights(to_tensor(self.found.resize(hw[::-1], Image.NEAREST))[0] * 255, [tuple(map(float, c)) for c in masks.PALETTE[:n]])
        elif self.regions is not None:
            self.full = masks.read_map(self.regions, hw, n, self.key, self.notes)
        elif self.masks:
            self.full = masks.from_masks(self.masks, hw, n, self.notes)
        else:  # style masks alone: one painting's part, over the whole photo
            self.full = torch.ones(1, *hw)
        if self.full.flatten(1).sum(1).min() < 1e-6 and not self.masks:
            raise UserError("a region of the map is empty", "paint every style's colour somewhere")

    def at(self, hw: tuple[int, int], device) -> torch.Tensor:
        """The weights at a picture size, 1 x R x h x w."""
        return masks.at_size(self.full, hw)[None].to(device)

    def guide(self, device, crop: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Callable[[tuple[int, int]], torch.Tensor]:
        """The guidance channels at a layer's map size (on `device`), each size made once; `crop`:
        the part of the full weights a tile covers. Softened, not eroded: averaged down to the
        map, a position on the border belongs to both regions in proportion. Eroding each region
        by one position (Gatys et al.'s "inside" guidance) left a band along the border, 16 px
        wide at lite0's block8, that neither painting's deeper layers reached: it showed as a
        pale ring around the figure (astronaut, swirls inside an ellipse, mosaic outside), where
        the softened channels give a plain change of manner (docs/regions.md)."""
        full = crop(self.full) if crop else self.full
        cache: dict[tuple[int, int], torch.Tensor] = {}

        def at(hw: tuple[int, int]) -> torch.Tensor:
            if hw not in cache:
                cache[hw] = masks.at_size(full, hw).to(device)
            return cache[hw]

        return at

    def scale(self, s, sweep: list[float] | None) -> torch.Tensor:
        """Region r's weight: its share of the picture times its style weight (1 under a sweep,
        whose weights multiply each picture of the batch)."""
        share = self.full.flatten(1).mean(1)
        if sweep:
            return share
        return share * torch.tensor(self.weights or [s.style_weight] * self.styles)

    def targets(self, backbone, targets: list[torch.Tensor], style_w: dict[str, float]) -> dict[str, torch.Tensor]:
        """Each painting's Gram matrices (of the part its style mask marks), R x C x C per layer."""
        grams: dict[str, list[torch.Tensor]] = {l: [] for l in style_w}
        with torch.no_grad():
            for r, t in enumerate(targets):
                feats = backbone(t, list(style_w))
                sm = self._style_mask(r, tuple(t.shape[-2:]))
                for l in style_w:
                    f = feats[l]
                    w = masks.inside(sm, tuple(f.shape[-2:])).to(f.device) if sm is not None else torch.ones(1, *f.shape[-2:], device=f.device)
                    grams[l].append(guided_gram(f, w)[0, 0])
        return {l: torch.stack(g) for l, g in grams.items()}

    def _style_mask(self, r: int, hw: tuple[int, int]) -> torch.Tensor | None:
        if r >= len(self.style_masks) or self.style_masks[r] is None:
            return None
        key = (r, hw)
        if key not in self._cache:
            self._cache[key] = masks.read_mask(self.style_masks[r], hw, f"style mask {r + 1}", self.notes)[0]
        return self._cache[key]

    def objective(self, grams: dict[str, torch.Tensor], style_w: dict[str, float], s, sweep: list[float] | None, device,
                  crop: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Objective:  # fmt: skip
        per_image = torch.tensor(sweep, device=device) if sweep else None
        scale = self.scale(s, sweep).to(device)
        guide = self.guide(device, crop)
        return weighted(style_w, 1.0, lambda l: guided_style_loss(l, grams[l], guide, scale, per_image))

    def palette(self, content_t: torch.Tensor, targets: list[torch.Tensor], s, sweep: list[float] | None, half: float) -> torch.Tensor:
        """`--init palette` by region: each region recoloured toward its own painting's colours,
        as far as its style weight goes (style.PALETTE_HALF)."""
        w = self.at(tuple(content_t.shape[-2:]), content_t.device).to(content_t.dtype)  # 1 x R x h x w
        weights = torch.tensor(sweep, dtype=content_t.dtype).view(-1, 1) if sweep else torch.tensor([self.weights or [s.style_weight] * self.styles], dtype=content_t.dtype)
        share = (weights / (weights + half)).to(content_t.device)  # B x R (or B x 1)
        start = content_t.expand(share.shape[0], -1, -1, -1).clone()
        for r, t in enumerate(targets):
            # The region's own colours to the painting's: the photo's overall colours would
            # leave a grey backdrop grey when the whole picture is bright.
            moved = color.match_color(content_t, t, where=w[0, r]) - content_t
            k = share[:, r if share.shape[1] > 1 else 0].view(-1, 1, 1, 1)
            start = start + k * w[:, r : r + 1] * moved
        return start.clamp(0, 1)


def regions_at(inputs: dict[str, Any], t: int) -> dict[str, Any]:
    """A clip's region inputs for frame t: a mask or map folder gives each frame its own (in name
    order), a file serves every frame; `auto` finds each frame's regions anew."""
    out: dict[str, Any] = {}
    for name in ("masks", "style_masks"):
        if inputs.get(name):
            out[name] = [masks.for_frame(v, t) if name == "masks" else v for v in inputs[name]]
    if inputs.get("regions"):
        out["regions"] = inputs["regions"] if AUTO.fullmatch(inputs["regions"]) else masks.for_frame(inputs["regions"], t)
    return out


def auto_map_path(output) -> str:
    """Where the automatic map of `output` is written: beside it, as OUTPUT-STEM.regions.png."""
    from pathlib import Path

    out = Path(output)
    return str(out.with_name(out.stem + ".regions.png"))
