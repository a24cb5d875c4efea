"""A photo's regions found from the backbone's own features: k-means over a mid layer, the soft
assignments refined at full resolution along the photo's colours, small islands merged away,
and the result drawn as a colour map (`dreamstyle regions`, `style --regions auto:K`).

A map is read by one rule, which the map written here follows: its regions are numbered in the
order their colours first appear reading it row by row from the top left, and region i is drawn
in PALETTE[i].
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..optim.masks import PALETTE
from ..core.context import Context, made
from ..core.registry import need
from ..core.settings_regions import check_region_count
from ..errors import UserError
from ..media.images import as_picture, resize_longest, to_tensor
from ..models.backbones import Backbone
from ..models.measure import channels_and_strides
from ..models.runtime import autocast, generator

# Region i is drawn in PALETTE[i] (optim/masks.py, where maps are read): red, green, blue, yellow,
# purple, cyan, orange, magenta. The studio's brush and the docs use the same list.
MIN_SIDE = 32  # below this the stride-8 layer is a 4x4 map: too few cells to cluster

# Beside the deep features (unit vectors, so distances up to 2), each cell's place and colour,
# weighted so that they break ties between like features rather than decide on their own.
POSITION_WEIGHT = 0.35
COLOUR_WEIGHT = 0.25
MARGIN = 32  # px of mirrored picture around it: a whole number of cells at strides 8, 16 and 32
DEEP_SHARE = 0.8  # of the deep layer: objects over textures (a face joined the backdrop at 0.5)
RESTARTS = 4
ITERATIONS = 40
AGREEMENT, AGREE_ROUNDS = 3.0, 5
COLOUR_BINS = 16  # per channel, for the regions' colour histograms
WORK_SIDE = 1024  # the longest side the assignments are refined at; the map is then scaled up
ISLAND = 0.01  # a patch of a region smaller than this share of the picture is merged into its neighbours


def auto_layers(backbone: Backbone, device) -> list[str]:
    """The last layer at stride 8 (edges, texture, parts) and the last at stride 16 (objects):
    one alone cuts either along textures or across them."""
    strides = channels_and_strides(backbone, backbone.stage_names, device)
    last: dict[int, str] = {}
    for name in backbone.stage_names:
        last[strides[name][1]] = name
    chosen = [last[s] for s in (8, 16) if s in last]
    if not chosen:  # a backbone without those strides: the deepest layer at stride 8 or finer
        chosen = [max((n for n in backbone.stage_names if strides[n][1] <= 8), key=lambda n: strides[n][1])]
    return chosen


def features(x: torch.Tensor, backbone: Backbone, layers: list[str], dtype) -> torch.Tensor:
    """(C, h, w) on the CPU: each layer's features as unit vectors, on the first layer's grid,
    followed by the cells' place and colour."""
    # Seen inside a mirrored margin: at the picture's edge the layers would otherwise see the
    # padding, and the border cells would make a region of their own.
    pad = MARGIN if min(x.shape[-2:]) > MARGIN else 0
    with torch.no_grad(), autocast(x.device, dtype):
        out = backbone(F.pad(x, (pad,) * 4, mode="reflect"), layers)
    H, W = x.shape[-2:]
    first = out[layers[0]]
    cut = round(pad * first.shape[-1] / (W + 2 * pad))
    grid = (first.shape[-2] - 2 * cut, first.shape[-1] - 2 * cut)
    parts = []
    shares = [1.0] if len(layers) == 1 else [1 - DEEP_SHARE] + [DEEP_SHARE / (len(layers) - 1)] * (len(layers) - 1)
    for name, share in zip(layers, shares):
        f = out[name].float()
        c = round(pad * f.shape[-1] / (W + 2 * pad))
        f = f[..., c : f.shape[-2] - c, c : f.shape[-1] - c]
        f = F.interpolate(f, size=grid, mode="bilinear", align_corners=False) if f.shape[-2:] != grid else f
        parts.append(F.normalize(f, dim=1) * share**0.5)
    h, w = grid
    scale = POSITION_WEIGHT / max(h, w)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32) * scale, torch.arange(w, dtype=torch.float32) * scale, indexing="ij")
    colour = F.adaptive_avg_pool2d(x.float(), grid).cpu() * COLOUR_WEIGHT
    return torch.cat([*(p.cpu() for p in parts), torch.stack([yy, xx])[None], colour], 1)[0]


def kmeans(points: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """(k, D) centres of `points` (N, D): k-means++ starts, Lloyd's iterations, the best of a
    few restarts by inertia; on the CPU, so a seed gives the same centres on any device."""
    x = points.float()
    g = generator(seed)
    best, best_cost = x[:k], float("inf")
    for _ in range(RESTARTS):
        centres = x[torch.randint(len(x), (1,), generator=g)]
        for _ in range(1, k):
            d = torch.cdist(x, centres).min(1).values.square()
            pick = torch.multinomial(d / d.sum(), 1, generator=g) if d.sum() > 0 else torch.randint(len(x), (1,), generator=g)
            centres = torch.cat([centres, x[pick]])
        for _ in range(ITERATIONS):
            label = torch.cdist(x, centres).argmin(1)
            count = torch.bincount(label, minlength=k).float()[:, None]
            sums = torch.zeros_like(centres).index_add_(0, label, x)
            moved = torch.where(count > 0, sums / count.clamp(min=1), centres)  # an emptied centre stays put
            if torch.equal(moved, centres):
                break
            centres = moved
        cost = float(torch.cdist(x, centres).min(1).values.square().sum())
        if cost < best_cost:
            best, best_cost = centres, cost
    return best


def agreeing(logits: torch.Tensor) -> torch.Tensor:
    """Cells pulled towards the regions of their neighbours (a few rounds of mean field on a
    Potts model): a lone cell whose features lean the other way joins the region around it."""
    out = logits
    for _ in range(AGREE_ROUNDS):
        p = out.softmax(1)
        neighbours = F.avg_pool2d(F.pad(p, (1, 1, 1, 1), mode="replicate"), 3, 1) * 9 - p
        out = logits + AGREEMENT * neighbours / 8
    return out


def box(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean of each (2r+1)² window of (N, C, H, W), shrunk at the borders; O(1) per pixel."""
    def along(t: torch.Tensor, dim: int) -> torch.Tensor:
        n = t.shape[dim]
        c = F.pad(t.cumsum(dim), (0, 0, 1, 0) if dim == 2 else (1, 0))
        i = torch.arange(n, device=t.device)
        hi, lo = (i + r + 1).clamp(max=n), (i - r).clamp(min=0)
        return (c.index_select(dim, hi) - c.index_select(dim, lo)) / (hi - lo).to(t.dtype).view(-1, *([1] * (3 - dim)))

    return along(along(x, 2), 3)


def guided(p: torch.Tensor, guide: torch.Tensor, r: int, eps: float) -> torch.Tensor:
    """He et al.'s guided filter with a colour guide: `p` (1, K, H, W) smoothed within the
    photo's colour edges, so a region's border moves onto the nearest edge in the photo."""
    I = guide[0]  # (3, H, W)
    mean_i = box(I[None], r)[0]
    mean_p = box(p, r)[0]
    corr_ip = torch.stack([box(I[c][None, None] * p, r)[0] for c in range(3)], 1)  # (K, 3, H, W)
    cov_ip = corr_ip - mean_i[None] * mean_p[:, None]
    prod = (I[:, None] * I[None]).flatten(0, 1)[None]  # (1, 9, H, W)
    var = box(prod, r)[0].view(3, 3, *I.shape[1:]) - mean_i[:, None] * mean_i[None]
    sigma = var.permute(2, 3, 0, 1) + eps * torch.eye(3)  # (H, W, 3, 3)
    a = torch.linalg.solve(sigma[None], cov_ip.permute(0, 2, 3, 1)[..., None])[..., 0]  # (K, H, W, 3)
    a = a.permute(0, 3, 1, 2)  # (K, 3, H, W)
    b = mean_p - (a * mean_i[None]).sum(1)
    return (box(a.flatten(0, 1)[None], r)[0].view_as(a) * I[None]).sum(1)[None] + box(b[None], r)


def by_colour(prob: torch.Tensor, guide: torch.Tensor, reach: int) -> torch.Tensor:
    """`prob` (1, K, H, W) moved onto the photo's colour edges: each region's colours (a histogram
    weighted by how surely a pixel is in it) times where it may be (its probability spread by
    `reach` px), so a border drawn a cell or two off by the features snaps to the edge nearby."""
    q = (guide[0] * (COLOUR_BINS - 1)).round().long()
    idx = ((q[0] * COLOUR_BINS + q[1]) * COLOUR_BINS + q[2]).flatten()
    sure = prob[0].flatten(1).square()
    hist = torch.zeros(len(sure), COLOUR_BINS**3).index_add_(1, idx, sure)
    hist = (hist + hist.sum(1, keepdim=True) * 1e-5) / hist.sum(1, keepdim=True).clamp(min=1e-12)
    likely = hist[:, idx].view_as(prob[0])
    post = box(prob, reach)[0] * likely
    return (post / post.sum(0, keepdim=True).clamp(min=1e-12))[None]


def merge_islands(label: np.ndarray, k: int, smallest: int) -> np.ndarray:
    """`label` (H, W) with every patch smaller than `smallest` pixels given to the nearest region
    outside it (each region keeps its largest patch whatever its size, so none vanishes)."""
    import cv2  # a dependency already (optical flow): exact connected components and distances in C

    lost = np.zeros(label.shape, bool)
    for j in range(k):
        n, comp, stats, _ = cv2.connectedComponentsWithStats((label == j).astype(np.uint8), connectivity=4)
        if n <= 2:
            continue
        areas = stats[1:, cv2.CC_STAT_AREA]
        small = np.flatnonzero(areas < smallest) + 1
        lost |= np.isin(comp, small[small != areas.argmax() + 1])
    if not lost.any():
        return label
    # Each lost pixel takes the region of the nearest kept one (kept pixels numbered row by row).
    _, nearest = cv2.distanceTransformWithLabels(lost.astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    return label[~lost][nearest - 1]


def in_reading_order(label: np.ndarray) -> np.ndarray:
    """`label` renumbered so region 0 is the first met reading row by row, 1 the next new one…"""
    flat = label.ravel()
    present, first = np.unique(flat, return_index=True)
    order = present[np.argsort(first)]
    lookup = np.zeros(int(flat.max()) + 1, np.int64)
    lookup[order] = np.arange(len(order))
    return lookup[label]


def colour_map(label: np.ndarray) -> Image.Image:
    """Region i painted in PALETTE[i], flat."""
    return Image.fromarray(np.asarray(PALETTE, np.uint8)[label], "RGB")


def find_regions(picture: Image.Image, k: int, backbone: Backbone, device, *, dtype=torch.float32, seed: int = 0,
                 size: int = 512, layer: str | None = None) -> Image.Image:
    """The `k` regions of `picture` as a colour map of its size (region i in PALETTE[i], numbered
    in reading order), found at `size` px from `layer`'s features (default: auto_layers)."""
    check_region_count(k)
    rgb = as_picture(picture).rgb
    W, H = rgb.size
    if min(W, H) < MIN_SIDE:
        raise UserError(f"the picture is {W}x{H} px, too small to find regions in", f"give one at least {MIN_SIDE} px on each side")
    layers = backbone.check_layers([layer]) if layer else auto_layers(backbone, device)
    x = to_tensor(resize_longest(rgb, max(size, MIN_SIDE))).to(device)
    f = features(x, backbone, layers, dtype)
    C, h, w = f.shape
    if h * w < k:
        raise UserError(f"layer {layers[0]} sees only {h}x{w} cells, fewer than {k} regions", "use a larger --size or a shallower --layer")
    points = f.flatten(1).T
    centres = kmeans(points, k, seed)
    d2 = torch.cdist(points, centres).square()
    # Soft assignments, sharp enough that a cell between two centres stays undecided.
    temp = d2.min(1).values.median().clamp(min=1e-6)
    logits = (-d2 / temp).T.reshape(1, k, h, w)
    logits = agreeing(logits)
    # Refined where the photo's colour edges are, at up to WORK_SIDE px.
    work = resize_longest(rgb, min(max(W, H), WORK_SIDE))
    guide = to_tensor(work)
    wh, ww = guide.shape[-2:]
    prob = F.interpolate(logits, size=(wh, ww), mode="bilinear", align_corners=False).softmax(1)
    r = max(2, round(max(wh, ww) / max(h, w)))  # about one feature cell
    prob = by_colour(prob, guide, 2 * r)
    prob = guided(prob, guide, r, 1e-3)
    label = prob[0].argmax(0).numpy()
    label = merge_islands(label, k, round(ISLAND * wh * ww))
    if (wh, ww) != (H, W):
        onehot = F.one_hot(torch.from_numpy(label).long(), k).permute(2, 0, 1)[None].float()
        label = F.interpolate(onehot, size=(H, W), mode="bilinear", align_corners=False)[0].argmax(0).numpy()
    return colour_map(in_reading_order(label))


# The job as the registry calls it (core/registry.py).

def check(job) -> None:
    need(job, "image", "IMAGE", "give the photo whose regions to find")


def make(job, ctx: Context) -> list[Image.Image]:
    s = job.settings
    picture = as_picture(need(job, "image", "IMAGE", "give the photo whose regions to find"), s.max_pixels)
    img = find_regions(picture.rgb, s.k, ctx.backbone, ctx.device, dtype=ctx.dtype, seed=s.seed or 0, size=s.size or 512, layer=s.layer)
    layers = [s.layer] if s.layer else auto_layers(ctx.backbone, ctx.device)
    return [made(img, layers=layers)]
