"""Masks and region maps: which part of a picture each style (or the dream) owns, as soft weights.

A mask is a greyscale picture (white: this style, or the dream; grey: partly; black: not). A region
map is one picture with a flat colour per region; its colours are matched to the styles in the
order given by a key ("red,blue" or "#e6194b,#3cb44b"), else in the order they first appear
reading the map row by row from the top-left. Both become a tensor of weights R x H x W at the
picture's size, each pixel's weights summing to at most 1 (docs/regions.md).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import UserError
from ..media.files import image_files
from ..media.images import as_picture, to_tensor
from .loop import blur

# The colours the automatic regions (engines/regions.py) and the studio's brush paint region i in,
# in this order; a --regions-key may name them, or the plain ones.
PALETTE = ((230, 25, 75), (60, 180, 75), (67, 99, 216), (255, 225, 25), (145, 30, 180), (66, 212, 244), (245, 130, 49), (240, 50, 230))
NAMED = {
    **dict(zip(("red", "green", "blue", "yellow", "purple", "cyan", "orange", "magenta"), PALETTE)),
    "white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128), "gray": (128, 128, 128),
}  # fmt: skip
# A map's colour is one of its regions when it covers this share of the picture; colours within
# MERGE of one such are that colour (JPEG noise, a slightly different brush); the rest are blends.
MAJOR_SHARE = 0.002
MERGE = 40.0
# A colour between two region colours is their blend (a soft edge) unless it covers this much.
BLEND_SHARE = 0.02
# A named key colour matches the map colour nearest to it within this distance (a "red" drawn as
# pure 255,0,0 in an image editor is still red); a hex one must be within MERGE.
NAMED_REACH = 110.0
ASPECT_TOLERANCE = 0.02  # a mask whose aspect differs more is resized with a note


def open_mask_picture(source: Any, what: str, max_pixels: int | None = None) -> Image.Image:
    """A mask or map as an RGB picture; its alpha, where it has one, counts as black."""
    picture = as_picture(source, max_pixels) if max_pixels else as_picture(source)
    rgb = picture.rgb
    if picture.alpha is not None:
        rgb = Image.composite(rgb, Image.new("RGB", rgb.size), picture.alpha)
    return rgb


def fitted(img: Image.Image, hw: tuple[int, int], what: str, notes: list[str] | None = None) -> torch.Tensor:
    """`img` (RGB) as a 1 x 3 x H x W tensor at `hw`; a different aspect is stretched to fit, with a note."""
    h, w = hw
    if abs(math.log((img.width / img.height) / (w / h))) > ASPECT_TOLERANCE and notes is not None:
        notes.append(f"{what} is {img.width}x{img.height}, not the picture's shape ({w}x{h}): stretched to fit")
    x = to_tensor(img)
    if x.shape[-2:] != (h, w):
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=img.height > h)
    return x


def read_mask(source: Any, hw: tuple[int, int], what: str = "the mask", notes: list[str] | None = None) -> torch.Tensor:
    """A mask as 1 x 1 x H x W weights in 0…1 (its grey level); an all-black mask is refused."""
    x = fitted(open_mask_picture(source, what), hw, what, notes).mean(1, keepdim=True)
    if x.max() < 1 / 255:
        raise UserError(f"{what} is all black, so it marks nothing", "paint the part to change white (grey: partly)")
    return x


def feather(mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """`mask` (N x 1 x H x W) softened by a Gaussian of `sigma` pixels: a hard edge becomes a ramp."""
    if sigma <= 0:
        return mask
    return blur(mask, sigma).clamp(0, 1)


def parse_key(text: str) -> list[tuple[tuple[int, int, int], bool]]:
    """A --regions-key as (colour, named) pairs: names (red, blue …) or hex (#e6194b), comma-separated."""
    out = []
    for item in (t.strip().lower() for t in text.split(",")):
        if item in NAMED:
            out.append((NAMED[item], True))
            continue
        digits = item.removeprefix("#")
        if len(digits) == 6 and all(c in "0123456789abcdef" for c in digits):
            out.append((tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4)), False))
            continue
        raise UserError(f"--regions-key {item!r} is not a colour", "give names (" + ", ".join(list(NAMED)[:8]) + ") or hex like #e6194b, one per style")
    return out


def major_colours(rgb: torch.Tensor) -> list[tuple[float, float, float]]:
    """The flat colours of a map (3 x H x W, 0…255), in the order they first appear row by row."""
    flat = rgb.flatten(1).t().round()
    colours, first, counts = torch.unique(flat, dim=0, return_inverse=True, return_counts=True)
    # Where each distinct colour first appears, reading row by row.
    order = torch.full((len(colours),), flat.shape[0], dtype=torch.long).scatter_reduce(0, first, torch.arange(flat.shape[0]), "amin")
    kept: list[torch.Tensor] = []
    share = counts.float() / flat.shape[0]
    # Biggest first picks each region's true colour over its noisy neighbours; then reading order.
    for i in torch.argsort(share, descending=True).tolist():
        if share[i] < MAJOR_SHARE:
            break
        c = colours[i]
        if all((c - k).norm() > MERGE for k in kept) and not (share[i] < BLEND_SHARE and _between(c, kept)):
            kept.append(c)
    kept.sort(key=lambda c: order[(colours == c).all(1)].min().item())
    return [tuple(c.tolist()) for c in kept]


def _between(c: torch.Tensor, kept: list[torch.Tensor]) -> bool:
    """Whether colour `c` lies on the line between two region colours (a blend along their border)."""
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            t = float(((c - a) * (b - a)).sum() / (b - a).pow(2).sum().clamp_min(1e-6))
            if 0 < t < 1 and (c - (a + t * (b - a))).norm() < MERGE / 2:
                return True
    return False


def map_weights(rgb: torch.Tensor, palette: list[tuple[float, float, float]]) -> torch.Tensor:
    """Soft weights R x H x W of a map (3 x H x W, 0…255) over its region colours: a pixel takes
    the region of its nearest colour, and a blend of two region colours (a soft brush's edge, an
    antialiased line) is shared between them in proportion, by projecting onto the line between them."""
    cols = torch.tensor(palette, dtype=torch.float32)  # R x 3
    px = rgb.flatten(1).t()  # N x 3
    d = torch.cdist(px, cols)  # N x R
    r = len(palette)
    weights = torch.zeros(px.shape[0], r)
    if r == 1:
        return torch.ones(1, *rgb.shape[-2:])
    two = d.topk(2, largest=False).indices  # N x 2, nearest first
    a, b = cols[two[:, 0]], cols[two[:, 1]]
    t = ((px - a) * (b - a)).sum(1) / (b - a).pow(2).sum(1).clamp_min(1e-6)
    t = t.clamp(0, 0.5)  # past halfway the nearest colour would be the other one
    weights.scatter_(1, two[:, :1], (1 - t)[:, None])
    weights.scatter_add_(1, two[:, 1:], t[:, None])
    return weights.t().reshape(r, *rgb.shape[-2:])


def read_map(source: Any, hw: tuple[int, int], styles: int, key: str | None = None, notes: list[str] | None = None,
             what: str = "the --regions map") -> torch.Tensor:  # fmt: skip
    """A colour-coded map as weights `styles` x H x W (region i: the i-th key colour, else the
    i-th colour to appear reading row by row)."""
    img = open_mask_picture(source, what)
    found = major_colours(to_tensor(img)[0] * 255)
    if key:
        wanted = parse_key(key)
        if len(wanted) != styles:
            raise UserError(f"--regions-key names {len(wanted)} colours for {styles} styles", "name one colour per style, in their order")
        palette = []
        for (colour, named), text in zip(wanted, key.split(",")):
            dist = [math.dist(colour, c) for c in found]
            best = min(range(len(found)), key=dist.__getitem__) if found else None
            if best is None or dist[best] > (NAMED_REACH if named else MERGE):
                raise UserError(f"--regions-key names {text.strip()}, which is not in {what}",
                                "its colours are " + ", ".join("#%02x%02x%02x" % tuple(map(int, c)) for c in found))  # fmt: skip
            palette.append(found[best])
        extra = [c for c in found if c not in palette]
        if extra:
            raise UserError(f"{what} has {len(found)} colours and the key names {styles}", "name every colour of the map, one per style")
    else:
        if len(found) > styles:
            raise UserError(f"{what} has {len(found)} colours for {styles} styles", "paint one flat colour per style, or give another STYLE image")
        if len(found) < styles:
            raise UserError(f"{what} has {len(found)} colour{'s' if len(found) != 1 else ''} for {styles} styles",
                            "paint one flat colour per style: the first colour (reading from the top-left) takes the first style")  # fmt: skip
        palette = found
    rgb = fitted(img, hw, what, notes)[0] * 255
    return map_weights(rgb, palette)


def from_masks(sources: list[Any], hw: tuple[int, int], styles: int, notes: list[str] | None = None) -> torch.Tensor:
    """One mask per style, in order, as weights `styles` x H x W; a missing last mask is the rest."""
    if len(sources) > styles:
        raise UserError(f"{len(sources)} masks for {styles} styles", "give one --mask per style, in the styles' order (the last may be left out)")
    if len(sources) < styles - 1:
        raise UserError(f"{len(sources)} mask{'s' if len(sources) != 1 else ''} for {styles} styles",
                        "give one --mask per style; only the last style's may be left out (it takes the rest)")  # fmt: skip
    masks = [read_mask(s, hw, f"mask {i + 1}", notes)[0, 0] for i, s in enumerate(sources)]
    if len(masks) < styles:
        masks.append((1 - torch.stack(masks).sum(0)).clamp(0, 1))
    weights = torch.stack(masks)
    # Overlapping masks share a pixel; where they add to less than 1 the photo keeps the rest.
    return weights / weights.sum(0, keepdim=True).clamp_min(1.0)


def at_size(weights: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Weights R x H x W (or N x R x H x W) averaged down (or stretched up) to `hw`."""
    x = weights if weights.dim() == 4 else weights[None]
    if x.shape[-2:] != tuple(hw):
        shrink = x.shape[-2] > hw[0]
        x = F.interpolate(x, size=tuple(hw), mode="bilinear", align_corners=False, antialias=shrink)
    return x if weights.dim() == 4 else x[0]


def inside(weights: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Weights at a layer's map of size `hw`, each region eroded by one position (Gatys et al.
    2017's guidance channels): a unit whose receptive field straddles the border then counts for
    neither side's statistics, so one painting's texture is not dragged across it. A region the
    erosion would take away is kept as it was."""
    x = at_size(weights, hw)
    if min(hw) < 4:
        return x
    eroded = -F.max_pool2d(-x[None], 3, stride=1, padding=1)[0]
    keep = eroded.flatten(1).sum(1) >= 0.3 * x.flatten(1).sum(1)
    return torch.where(keep[:, None, None], eroded, x)


def for_frame(value: Any, t: int) -> Any:
    """A clip's mask for frame t: a folder holds one per frame (in name order), a file is every frame's."""
    if isinstance(value, (str, Path)) and Path(value).is_dir():
        files = image_files(Path(value))
        if t >= len(files):
            raise UserError(f"the mask folder {value} has {len(files)} pictures, and the clip reached frame {t}",
                            "give one mask per frame (in name order), or one mask file for every frame")  # fmt: skip
        return str(files[t])
    return value
