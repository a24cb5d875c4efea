"""Render the README's pictures into docs/ with the offline backbone.

Usage: .venv/bin/python scripts/make_docs.py [--out docs] [--only NAME|GROUP ...] [--list]

Each picture is a labelled strip (or grid): the same sample photo dreamed or stylised with one
option changed, so a reader sees what that option does. Pictures come in two groups, `dream`
(dream.png, layers.png, …) and `style` (style-*.png); `--only style` renders one group,
`--only layers.png style-init.png` single pictures. Only samples/ images are used. Everything runs
on the CPU in fp32 with seed 0, so the same torch/Pillow versions rewrite the same bytes (on 2
quiet cores about 1 min for the dream group and 8 min for the style group).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

import dreamstyle
from dreamstyle.optim import canvas
from dreamstyle.media.images import load_image, resize_longest
from dreamstyle import stylize
from dreamstyle.core.presets import load_preset, resolve
from dreamstyle.core.settings import StyleSettings
from dreamstyle.engines.style import scale_ladder

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
MODEL = "efficientnet-lite0"
SIZE = 384  # longest side; the 3:2 samples come out 384x255, so every cell is about 256 px tall
GAP = 4
BACKGROUND = (24, 24, 24)
MAX_BYTES = 200_000  # a picture above this is saved as a 256-colour PNG instead of true colour
ZOOM = 3
STYLE_SIZE = 256  # style transfer is slower: 256 px, one scale (the ladder starts at 256)
STYLE_STEPS = 200  # the README's style command
PRESET_STEPS = 150  # a style preset's steps are capped at this to keep rendering time sane
INSET = 64  # side of the style thumbnails drawn into a cell's corner


@dataclass
class Cell:
    label: str
    options: dict[str, Any] | None = None  # None: an input image itself, for reference
    zoom: tuple[int, int, int, int] | None = None  # show this box of the result, ZOOM times larger
    show: str | None = None  # with options=None: show this samples/ image instead of the photo
    inset: list[str] | None = None  # samples/ images drawn small in the bottom-right corner


@dataclass
class Figure:
    name: str
    photo: str
    cells: list[Cell]
    size: int = SIZE
    columns: int | None = None  # wrap into rows of this many cells; None: one strip
    engine: str = "dream"  # also the group `--only` selects
    style: list[str] | None = None  # style engine: the style image(s), unless a cell's options say "style"


def S(name: str) -> str:
    return str(SAMPLES / name)


CORNER = (0, 0, 128, 85)  # a zoomed box of the 384x255 cat
HARD = {"smooth": 0.0, "steps": 20, "lr": 0.02}

FIGURES = [
    # The README's first command: dreamstyle dream photo.jpg --model efficientnet-lite0 --size 320 --seed 0
    Figure("dream.png", "cat.jpg", [Cell("samples/cat.jpg"), Cell("dreamstyle dream --size 320", {})], size=320),
    Figure("layers.png", "cat.jpg", [
        Cell("--layers block6", {"layers": "block6"}),
        Cell("--layers block9", {"layers": "block9"}),
        Cell("--layers block11", {"layers": "block11"}),
    ]),
    Figure("channels.png", "cat.jpg", [
        Cell("--layers block9 (all 112 channels)", {"layers": "block9"}),
        Cell("--layers block9 --channels 3", {"layers": "block9", "channels": [3]}),
        Cell("--layers block9 --channels 60-63", {"layers": "block9", "channels": "60-63"}),
    ]),
    Figure("guide.png", "cat.jpg", [
        Cell("no guide", {}),
        Cell("--guide samples/swirls.jpg", {"guide": S("swirls.jpg")}),
        Cell("--guide samples/mosaic.png", {"guide": S("mosaic.png")}),
    ]),
    Figure("octaves.png", "cat.jpg", [
        Cell("--octaves 1", {"octaves": 1}),
        Cell("--octaves 2", {"octaves": 2}),
        Cell("--octaves 4 (default)", {"octaves": 4}),
    ]),
    Figure("octave-scale.png", "cat.jpg", [
        Cell("--octave-scale 1.2", {"octave_scale": 1.2}),
        Cell("--octave-scale 1.4 (default)", {"octave_scale": 1.4}),
        Cell("--octave-scale 2", {"octave_scale": 2.0}),
    ]),
    Figure("strength.png", "cat.jpg", [
        Cell("--steps 5 --lr 0.005", {"steps": 5, "lr": 0.005}),
        Cell("--steps 10 --lr 0.01 (default)", {"steps": 10, "lr": 0.01}),
        Cell("--steps 20 --lr 0.02", {"steps": 20, "lr": 0.02}),
    ]),
    # Pushed hard (no gradient smoothing, strong steps) so what jitter prevents is visible.
    Figure("jitter.png", "cat.jpg", [
        Cell("--jitter 0 --smooth 0 --steps 20 --lr 0.02", {"jitter": 0, **HARD}),
        Cell("--jitter 32 --smooth 0 --steps 20 --lr 0.02", {"jitter": 32, **HARD}),
        Cell(f"--jitter 0, top-left corner, {ZOOM}x", {"jitter": 0, **HARD}, zoom=CORNER),
        Cell(f"--jitter 32, top-left corner, {ZOOM}x", {"jitter": 32, **HARD}, zoom=CORNER),
    ], columns=2),
    Figure("smooth.png", "cat.jpg", [
        Cell("--smooth 0", {"smooth": 0.0}),
        Cell("--smooth 1 (default)", {"smooth": 1.0}),
        Cell("--smooth 2", {"smooth": 2.0}),
    ]),
    Figure("norm.png", "cat.jpg", [
        Cell("--norm mean-abs (default)", {"norm": "mean-abs"}),
        Cell("--norm std", {"norm": "std"}),
    ]),
    Figure("size.png", "cat.jpg", [
        Cell("--size 192 (shown enlarged)", {"size": 192}),
        Cell("--size 384", {"size": 384}),
        Cell("--size 768 (shown reduced)", {"size": 768}),
    ]),
    Figure("presets.png", "coffee.jpg", [
        Cell("--preset subtle", {"preset": "subtle"}),
        Cell("--preset classic", {"preset": "classic"}),
        Cell("--preset swirls", {"preset": "swirls"}),
        Cell("--preset creatures", {"preset": "creatures"}),
    ], columns=2),
]


def capped(preset: str) -> dict[str, Any]:
    """A style preset at STYLE_SIZE with its steps (per scale) capped at PRESET_STEPS."""
    steps = load_preset(preset, "style").settings.get("steps", StyleSettings.steps)
    return {"preset": preset, "steps": min(steps, PRESET_STEPS)}


def preset_label(preset: str) -> str:
    steps, scales = capped(preset)["steps"], load_preset(preset, "style").settings.get("scales", [STYLE_SIZE])
    return f"--preset {preset} ({len(scales)} scales x {steps} steps)" if len(scales) > 1 else f"--preset {preset} ({steps} steps)"


SWIRLS, MOSAIC, STRIPES = "swirls.jpg", "mosaic.png", "stripes.png"
TV_BOX = (40, 40, 125, 97)  # the cat's left eye in a 256x170 result; 85x57 shown 3x
EDGE_BOX = (0, 0, 85, 57)  # the top-left corner of a 256x170 result, shown 3x
MARGIN_KEY = "canvas margin"  # not a setting: a style cell with it runs with canvas.MARGIN at that value

STYLE_FIGURES = [
    # The README's command: dreamstyle style photo.jpg painting.jpg --model efficientnet-lite0 --size 256 --steps 200
    Figure("style-hero.png", "cat.jpg", [
        Cell("samples/cat.jpg"),
        Cell("samples/swirls.jpg", show=SWIRLS),
        Cell("dreamstyle style --size 256 --steps 200", {}),
    ], style=[SWIRLS]),
    # The decade strip: each tenfold weight takes visibly more of the photo away (bench/balance.py).
    Figure("style-weight.png", "cat.jpg", [
        Cell("--style-weight 1", {"style_weight": 1.0}),
        Cell("--style-weight 10", {"style_weight": 10.0}),
        Cell("--style-weight 100 (default)", {"style_weight": 100.0}),
        Cell("--style-weight 1000", {"style_weight": 1000.0}),
    ], style=[SWIRLS]),
    # The canvas's margin (dreamstyle/canvas.py) against the strip that grew along the top edge without it.
    Figure("style-border.png", "cat.jpg", [
        Cell("without the margin", {MARGIN_KEY: 0}),
        Cell("with it (now)", {}),
        Cell(f"without, top-left corner {ZOOM}x", {MARGIN_KEY: 0}, zoom=EDGE_BOX),
        Cell(f"with it, top-left corner {ZOOM}x", {}, zoom=EDGE_BOX),
    ], columns=2, style=[SWIRLS]),
    Figure("style-layers.png", "astronaut.jpg", [
        Cell("--style-layers stem,block1", {"style_layers": "stem,block1"}),
        Cell("default layers", {}),
        Cell("--style-layers block5,block8", {"style_layers": "block5,block8"}),
        # At --style-weight 10, where the content layers still hold much of the photo.
        Cell("--content-layers stem\n--style-weight 10", {"content_layers": "stem", "style_weight": 10.0}),
        Cell("default content layers\n--style-weight 10", {"style_weight": 10.0}),
        Cell("--content-layers block14\n--style-weight 10", {"content_layers": "block14", "style_weight": 10.0}),
    ], columns=3, style=[SWIRLS]),
    Figure("style-tv.png", "cat.jpg", [
        Cell("--tv-weight 0", {"tv_weight": 0.0}),
        Cell("--tv-weight 5 (default)", {"tv_weight": 5.0}),
        Cell("--tv-weight 50", {"tv_weight": 50.0}),
        Cell(f"--tv-weight 0, left eye {ZOOM}x", {"tv_weight": 0.0}, zoom=TV_BOX),
        Cell(f"--tv-weight 5, left eye {ZOOM}x", {"tv_weight": 5.0}, zoom=TV_BOX),
        Cell(f"--tv-weight 50, left eye {ZOOM}x", {"tv_weight": 50.0}, zoom=TV_BOX),
    ], columns=3, style=[SWIRLS]),
    Figure("style-blend.png", "rocket.jpg", [
        Cell("swirls.jpg only", {"style": [SWIRLS]}, inset=[SWIRLS]),
        Cell("both, --style-blend 0.5,0.5", {"style": [SWIRLS, STRIPES], "style_blend": "0.5,0.5"}, inset=[SWIRLS, STRIPES]),
        Cell("stripes.png only", {"style": [STRIPES]}, inset=[STRIPES]),
    ]),
    Figure("style-scale.png", "coffee.jpg", [
        Cell("--style-scale 0.5", {"style_scale": 0.5}),
        Cell("--style-scale 1 (default)", {"style_scale": 1.0}),
        Cell("--style-scale 2", {"style_scale": 2.0}),
    ], style=[MOSAIC]),
    Figure("style-optimizer.png", "cat.jpg", [
        Cell("--optimizer lbfgs (default)", {"optimizer": "lbfgs"}),
        Cell("--optimizer adam (--lr 0.02)", {"optimizer": "adam"}),
    ], style=[SWIRLS]),
    Figure("style-init.png", "rocket.jpg", [
        Cell("--init palette (default)", {"init": "palette"}),
        Cell("--init content", {"init": "content"}),
        Cell("--init noise", {"init": "noise"}),
        Cell("--init style", {"init": "style"}),
    ], columns=2, style=[SWIRLS]),
    Figure("style-scales.png", "astronaut.jpg", [
        Cell("--scales 256 (one scale)", {"scales": [256]}),
        Cell("--scales 128,256", {"scales": [128, 256]}),
    ], style=[MOSAIC]),
    Figure("style-preserve-color.png", "coffee.jpg", [
        Cell("samples/coffee.jpg"),
        Cell("--preserve-color none (default)", {"preserve_color": "none"}),
        Cell("--preserve-color luminance", {"preserve_color": "luminance"}),
        Cell("--preserve-color histogram", {"preserve_color": "histogram"}),
    ], columns=2, style=[SWIRLS]),
    Figure("style-presets.png", "cat.jpg", [
        Cell("samples/swirls.jpg", show=SWIRLS),
        *(Cell(preset_label(p), capped(p)) for p in ["preview", "soft", "gatys", "keep-colors", "hires"]),
    ], columns=3, style=[SWIRLS]),
]
for fig in STYLE_FIGURES:
    fig.engine, fig.size = "style", STYLE_SIZE
FIGURES += STYLE_FIGURES
GROUPS = sorted({f.engine for f in FIGURES})


def font(size: int = 13) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled scalable font (needs FreeType)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def label(img: Image.Image, text: str) -> Image.Image:
    img = img.convert("RGB")
    draw = ImageDraw.Draw(img)
    f = font()
    left, top, right, bottom = draw.textbbox((5, 3), text, font=f)
    draw.rectangle([0, 0, right + 5, bottom + 4], fill=(0, 0, 0))
    draw.text((5, 3), text, font=f, fill=(255, 255, 255))
    return img


def grid(cells: list[Image.Image], columns: int) -> Image.Image:
    """Cells (all the same size) in rows of `columns`, on a dark background."""
    w, h = cells[0].size
    rows = -(-len(cells) // columns)
    out = Image.new("RGB", (columns * (w + GAP) + GAP, rows * (h + GAP) + GAP), BACKGROUND)
    for i, c in enumerate(cells):
        out.paste(c, (GAP + (i % columns) * (w + GAP), GAP + (i // columns) * (h + GAP)))
    return out


_dreams: dict[str, Image.Image] = {}


def dreamed(photo: Path, size: int, options: dict[str, Any], backbone: dreamstyle.Backbone) -> Image.Image:
    """dreamstyle.engines.dream on the CPU in fp32 with seed 0, each distinct call made once."""
    options = {"model": MODEL, "size": size, "seed": 0, "device": "cpu", "precision": "fp32", "quiet": True, **options}
    key = repr((str(photo), sorted(options.items())))
    if key not in _dreams:
        _dreams[key] = dreamstyle.dream(photo, backbone=backbone, **options).convert("RGB")
    return _dreams[key]


def stylized(photo: Path, styles: list[str], size: int, options: dict[str, Any], backbone: dreamstyle.Backbone) -> Image.Image:
    """dreamstyle.engines.style.stylize on the CPU in fp32 with seed 0, each distinct call made once."""
    options = {"model": MODEL, "size": size, "steps": STYLE_STEPS, "seed": 0, "device": "cpu", "precision": "fp32",
               "quiet": True, **options}  # fmt: skip
    margin = options.pop(MARGIN_KEY, canvas.MARGIN)
    # Keyed by the settings as resolved, so cells that only spell out a default are rendered once.
    settings = resolve(StyleSettings, "style", None, dict(options), MODEL)
    if settings.scales == scale_ladder(settings.size):
        settings.scales = None
    key = repr(("style", str(photo), styles, settings, margin))
    if key not in _dreams:
        kept, canvas.MARGIN = canvas.MARGIN, margin
        try:
            _dreams[key] = stylize(photo, [S(n) for n in styles], backbone=backbone, **options).convert("RGB")
        finally:
            canvas.MARGIN = kept
    return _dreams[key]


def fitted(path: Path, size: tuple[int, int]) -> Image.Image:
    """An input image scaled to cover `size` and cropped to it around the centre."""
    img = load_image(path).rgb
    k = max(size[0] / img.width, size[1] / img.height)
    img = img.resize((max(size[0], round(img.width * k)), max(size[1], round(img.height * k))), Image.Resampling.LANCZOS)
    left, top = (img.width - size[0]) // 2, (img.height - size[1]) // 2
    return img.crop((left, top, left + size[0], top + size[1]))


def inset(img: Image.Image, names: list[str]) -> Image.Image:
    """Thumbnails of the style images in the bottom-right corner, framed in white."""
    img = img.copy()
    x = img.width - GAP
    for name in reversed(names):
        x -= INSET + 2
        thumb = fitted(SAMPLES / name, (INSET, INSET))
        frame = Image.new("RGB", (INSET + 2, INSET + 2), (255, 255, 255))
        frame.paste(thumb, (1, 1))
        img.paste(frame, (x, img.height - GAP - INSET - 2))
        x -= GAP
    return img


def result(fig: Figure, photo: Path, options: dict[str, Any], backbone: dreamstyle.Backbone) -> Image.Image:
    if fig.engine == "style":
        options = dict(options)
        styles = options.pop("style", fig.style)
        return stylized(photo, styles, fig.size, options, backbone)
    return dreamed(photo, fig.size, options, backbone)


def render(fig: Figure, backbone: dreamstyle.Backbone) -> Image.Image:
    photo = SAMPLES / fig.photo
    shown = resize_longest(load_image(photo).rgb, fig.size)  # every cell is shown at this size
    cells = []
    for cell in fig.cells:
        if cell.options is not None:
            img = result(fig, photo, cell.options, backbone)
        else:
            img = fitted(SAMPLES / cell.show, shown.size) if cell.show else shown
        if cell.zoom:
            box = cell.zoom
            img = img.crop(box).resize(((box[2] - box[0]) * ZOOM, (box[3] - box[1]) * ZOOM), Image.Resampling.NEAREST)
        if img.size != shown.size:  # --size cells: shown at one size so the change of scale is visible
            img = img.resize(shown.size, Image.Resampling.LANCZOS)
        if cell.inset:
            img = inset(img, cell.inset)
        cells.append(label(img, cell.label))
    return grid(cells, fig.columns or len(cells))


def save(img: Image.Image, path: Path) -> int:
    """Optimised true-colour PNG; a 256-colour PNG when that would be too big for the README."""
    img.save(path, format="PNG", optimize=True)
    if path.stat().st_size > MAX_BYTES:
        # Octree keeps the saturated colours of a dream better than median cut.
        img.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(path, format="PNG", optimize=True)
    return path.stat().st_size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNGs (default: docs/)")
    ap.add_argument("--only", nargs="+", metavar="NAME", help=f"render only these pictures or groups ({', '.join(GROUPS)}), e.g. layers.png or style")
    ap.add_argument("--list", action="store_true", help="list the pictures (group, name) and exit")
    args = ap.parse_args()
    names = [f.name for f in FIGURES]
    if args.list:
        print("\n".join(f"{f.engine:<6} {f.name}" for f in FIGURES))
        return 0
    unknown = sorted(set(args.only or []) - set(names) - set(GROUPS))
    if unknown:
        print(f"error: unknown picture {', '.join(unknown)} (choose from the groups {', '.join(GROUPS)} or {', '.join(names)})", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    backbone = dreamstyle.load_backbone(MODEL)
    t0 = time.perf_counter()
    total = 0
    for fig in FIGURES:
        if args.only and fig.name not in args.only and fig.engine not in args.only:
            continue
        t = time.perf_counter()
        n = save(render(fig, backbone), out / fig.name)
        total += n
        print(f"wrote {out / fig.name} ({n / 1024:.0f} KiB, {time.perf_counter() - t:.0f} s)", file=sys.stderr)
    print(f"{total / 1024:.0f} KiB in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
