"""The explorer as a static site (`dreamstyle explore -o site/`): an index of the network's
layers, a page per layer (its channels' grid) and per channel (its pictures and the command that
makes each), written as plain HTML with relative links beside the PNGs, plus one small JS file
for the arrow keys. Pages are written first and pictures as they come from the render cache, so a
stopped run keeps what it made and a re-run makes only what is missing."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.context import Context
from ..core.settings import parse_int_list
from ..core.settings_explore import ExploreSettings
from ..errors import UserError, did_you_mean
from ..media.images import write_atomically
from .explore import RenderCache, _safe, picture_record, render_channels, unit_command
from .explore_units import first_layer_kernels, top_crops

UNIT_KINDS = ("large", "diverse", "negative")
DEFAULT_CHANNELS = "0-15"


@dataclass
class SitePlan:
    """What a site holds: its layers in network order, each with its channels."""

    index: dict
    channels: dict[str, list[int]]
    kinds: tuple[str, ...] = UNIT_KINDS
    folder: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def layers(self) -> list[str]:
        return list(self.channels)

    def pictures(self) -> int:
        """How many pictures the whole site holds (the progress bar's total)."""
        per = 1 + len(self.kinds) + (1 if self.folder else 0)
        return sum(len(c) for c in self.channels.values()) * per


def plan_site(index: dict, layers: str | None = None, channels: str | None = None, folder=None,
              kinds: tuple[str, ...] = UNIT_KINDS) -> SitePlan:  # fmt: skip
    """The layers and channels asked for, every name and number checked against the index before
    anything is written (one line naming what exists)."""
    if not index.get("renders"):
        raise UserError(index.get("note") or f"{index['model']} cannot be rendered", "the bundled --model efficientnet-lite0 works offline")
    rows = {r["name"]: r for r in index["layers"] if r.get("channels")}
    wanted = [n.strip() for n in layers.split(",") if n.strip()] if layers else list(rows)
    for name in wanted:
        if name not in rows:
            raise UserError(f"{index['model']} has no layer {name!r} with channels to show", did_you_mean(name, list(rows)))
    plan: dict[str, list[int]] = {}
    for name in [n for n in rows if n in wanted]:  # network order
        count = rows[name]["channels"]
        if channels == "all":
            plan[name] = list(range(count))
            continue
        picked = parse_int_list(channels or DEFAULT_CHANNELS)
        if channels is None:
            picked = [c for c in picked if c < count]
        elif bad := [c for c in picked if not 0 <= c < count]:
            raise UserError(f"{name} has {count} channels (0-{count - 1}): no channel {bad[0]}", f"use --channels within 0-{count - 1}, or all")
        plan[name] = picked
    found = None
    if folder is not None:
        from .top_images import pictures

        found = Path(str(folder)).expanduser()
        pictures(found)  # an empty or missing folder is refused here
    return SitePlan(index, plan, tuple(kinds), found)


# --------------------------------------------------------------------------- pages

_STYLE = """<style>
body{background:#181818;color:#e8e8e8;font:14px/1.4 system-ui,sans-serif;margin:1.2em 2em}
a{color:#8cf}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right}
td:first-child,th:first-child{text-align:left}tr:nth-child(even){background:#222}
.grid{display:flex;flex-wrap:wrap;gap:6px}.grid a{text-align:center;font-size:12px;color:#ccc;text-decoration:none}
.grid img{display:block;width:96px;height:96px;image-rendering:auto;background:#333}
figure{display:inline-block;max-width:420px;margin:0 14px 14px 0;vertical-align:top}figcaption{font-size:12px}
code{display:block;background:#222;padding:4px 6px;margin-top:4px;font-size:12px;max-width:60em;white-space:pre-wrap}
.note{color:#fb6}nav{margin-bottom:1em}kbd{background:#333;padding:0 4px;border-radius:3px}
</style>"""

_JS = """// Arrow keys: left/right the previous/next channel, up/down the previous/next layer.
document.addEventListener("keydown", function (e) {
  if (e.altKey || e.ctrlKey || e.metaKey || /INPUT|TEXTAREA/.test(e.target.tagName)) return;
  var to = document.body.dataset[{ArrowLeft: "left", ArrowRight: "right", ArrowUp: "up", ArrowDown: "down"}[e.key]];
  if (to) { e.preventDefault(); location.href = to; }
});
"""


def _page(title: str, body: str, root: str, keys: dict[str, str]) -> str:
    data = "".join(f' data-{k}="{html.escape(v)}"' for k, v in keys.items() if v)
    return (f"<!doctype html>\n<html lang=en><meta charset=utf-8><title>{html.escape(title)}</title>{_STYLE}\n"
            f"<body{data}>\n{body}\n<script src=\"{root}explore.js\"></script>\n</body></html>\n")  # fmt: skip


def _human(n) -> str:
    from ..models.inspector import human

    return "-" if n is None else human(n)


def index_page(plan: SitePlan) -> str:
    ix = plan.index
    rows = []
    for r in ix["layers"]:
        name = html.escape(r["name"])
        link = f'<a href="{_safe(r["name"])}/index.html">{name}</a>' if r["name"] in plan.channels else name
        rf = "-" if r["receptive_field"] is None else ("≥" if r["rf_at_least"] else "") + str(r["receptive_field"])
        cells = [link, "×".join(map(str, r["shape"])), _human(r["params"]), _human(r["flops"]), str(r["stride"] or "-"), rf]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    weights = "trained weights" if ix["trained"] else '<span class=note>random weights: not a trained network</span>'
    body = (f"<h1>{html.escape(ix['model'])}</h1><p>{weights} · key {html.escape(ix['key'])} · input {ix['size']} px · "
            "<kbd>↓</kbd> the first layer</p>\n<table><tr><th>layer</th><th>shape</th><th>params</th><th>FLOPs</th>"
            "<th>stride</th><th>receptive field</th></tr>\n" + "\n".join(rows) + "</table>")  # fmt: skip
    first = plan.layers[0] if plan.layers else None
    return _page(f"{ix['model']}: layers", body, "", {"down": f"{_safe(first)}/index.html" if first else ""})


def layer_page(plan: SitePlan, layer: str, kernels: bool) -> str:
    ix, layers, chans = plan.index, plan.layers, plan.channels[layer]
    k = layers.index(layer)
    cells = "".join(f'<a href="{c}.html"><img src="{c}.png" alt="#{c} not rendered yet" loading=lazy>#{c}</a>' for c in chans)
    extra = '<h2>Kernels of the first convolution</h2><img src="kernels.png" alt="kernels">' if kernels else ""
    body = (f'<nav><a href="../index.html">{html.escape(ix["model"])}</a> › {html.escape(layer)}</nav>'
            f"<h1>{html.escape(layer)}</h1><p>What excites each channel most (<kbd>→</kbd> the first, <kbd>↑</kbd>/<kbd>↓</kbd> layers)</p>"
            f'<div class=grid>{cells}</div>{extra}')  # fmt: skip
    keys = {"up": f"../{_safe(layers[k - 1])}/index.html" if k else "../index.html",
            "down": f"../{_safe(layers[k + 1])}/index.html" if k + 1 < len(layers) else "",
            "right": f"{chans[0]}.html" if chans else ""}  # fmt: skip
    return _page(f"{ix['model']} {layer}", body, "../", keys)


_CAPTION = {"large": "Larger", "diverse": "Diverse: pushed apart from each other", "negative": "Negative: what it answers least",
            "top": "Strongest pictures of {folder}, cropped to the unit's receptive field", "channel": "Thumbnail"}  # fmt: skip


def unit_page(plan: SitePlan, layer: str, channel: int, s: ExploreSettings) -> str:
    ix, layers, chans = plan.index, plan.layers, plan.channels[layer]
    k, i = layers.index(layer), chans.index(channel)
    folder = str(plan.folder) if plan.folder else None
    figs = []
    for kind in ("channel", *plan.kinds, *(("top",) if plan.folder else ())):
        src = f"{channel}.png" if kind == "channel" else f"{channel}-{kind}.png"
        cmd = unit_command(ix["model"], layer, channel, kind, settings=s, folder=folder)
        cap = _CAPTION[kind].format(folder=html.escape(plan.folder.name if plan.folder else ""))
        figs.append(f'<figure><img src="{src}" alt="{kind}: not rendered yet"><figcaption>{cap}<code>{html.escape(cmd)}</code></figcaption></figure>')
    body = (f'<nav><a href="../index.html">{html.escape(ix["model"])}</a> › <a href="index.html">{html.escape(layer)}</a> › #{channel}</nav>'
            f"<h1>{html.escape(layer)} #{channel}</h1>" + "\n".join(figs))  # fmt: skip

    def same_channel(j: int) -> str:
        other = layers[j]
        return f"../{_safe(other)}/{channel}.html" if channel in plan.channels[other] else f"../{_safe(other)}/index.html"

    keys = {"left": f"{chans[i - 1]}.html" if i else "index.html", "right": f"{chans[i + 1]}.html" if i + 1 < len(chans) else "",
            "up": same_channel(k - 1) if k else "index.html", "down": same_channel(k + 1) if k + 1 < len(layers) else ""}  # fmt: skip
    return _page(f"{ix['model']} {layer} #{channel}", body, "../", keys)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_atomically(path, text.encode("utf-8"), force=True)


# --------------------------------------------------------------------------- the site


def write_pages(ctx: Context, plan: SitePlan, out: Path, s: ExploreSettings) -> None:
    """Every page of the site, the JS file and the first convolution's kernels."""
    out, first = Path(out), plan.index.get("first_conv")
    _write_text(out / "explore.js", _JS)
    _write_text(out / "index.html", index_page(plan))
    for layer, chans in plan.channels.items():
        d = out / _safe(layer)
        _write_text(d / "index.html", layer_page(plan, layer, kernels=layer == first))
        for c in chans:
            _write_text(d / f"{c}.html", unit_page(plan, layer, c, s))
        if layer == first and not (d / "kernels.png").is_file():
            _save(ctx, first_layer_kernels(ctx), d / "kernels.png", layer, 0, "kernels", s)


def _file(kind: str) -> str:
    return "{c}.png" if kind == "channel" else "{c}-" + kind + ".png"


def picture_jobs(plan: SitePlan, out: Path, s: ExploreSettings) -> list:
    """Every picture of the site as a Job of its own, its output in the site: a batch that
    `--backend ray` spreads over a cluster's workers (a picture that exists is skipped there)."""
    from ..core.job import Job
    from .explore import kind_settings

    folder = {"folder": str(plan.folder)} if plan.folder else {}
    kinds = ("channel", *plan.kinds, *(("top",) if plan.folder else ()))
    return [Job("explore", {"layer": layer, "channels": [c], "kind": kind, **(folder if kind == "top" else {})},
                kind_settings(s, kind), output=str(Path(out) / _safe(layer) / _file(kind).format(c=c)))
            for kind in kinds for layer, chans in plan.channels.items() for c in chans]  # fmt: skip


def write_site(ctx: Context, plan: SitePlan, out: Path, cache: RenderCache, s: ExploreSettings, *,
               on_picture: Callable[[], None] | None = None, cancel=None) -> int:  # fmt: skip
    """Write the pages, then every picture the site lacks (thumbnails of every layer first,
    then each unit's other kinds); returns how many pictures were added. `on_picture` hears each
    one that is there (made now or kept); a set `cancel` stops between steps (Interrupted)."""
    out, ix, tick = Path(out), plan.index, on_picture or (lambda: None)
    write_pages(ctx, plan, out, s)
    added = 0

    def kept(target: Path):
        def on_done(channel: int, path: Path) -> None:
            nonlocal added
            write_atomically(target.parent / target.name.format(c=channel), path.read_bytes(), force=True)
            added += 1
            tick()

        return on_done

    for kind in ("channel", *plan.kinds):
        for layer, chans in plan.channels.items():
            target = out / _safe(layer) / _file(kind)
            todo = [c for c in chans if not (target.parent / target.name.format(c=c)).is_file()]
            for _ in range(len(chans) - len(todo)):
                tick()
            if todo:
                render_channels(ctx, ix, layer, todo, cache, kind=kind, on_done=kept(target), cancel=cancel, settings=s)
    if plan.folder is not None:
        added += _tops(ctx, plan, out, s, tick)
    return added


def _save(ctx: Context, img, path: Path, layer: str, channel: int, kind: str, s: ExploreSettings, folder: str | None = None) -> None:
    from ..core.job import Job
    from ..core.context import record_for
    from ..media.images import save_image

    if kind == "kernels":  # the picture `dreamstyle visualize filters --model M` makes
        from ..core.settings import VisualizeSettings

        record = record_for(Job("visualize.filters", {"layer": None, "channels": None}, VisualizeSettings(model=s.model, weights=s.weights)),
                            ctx, VisualizeSettings(model=s.model, weights=s.weights).to_dict(), {"device": "", "precision": ""})  # fmt: skip
    else:
        record = picture_record(ctx, layer, channel, kind, s, img, folder)
    save_image(img, path, settings=record, force=True)


def _tops(ctx: Context, plan: SitePlan, out: Path, s: ExploreSettings, tick) -> int:
    """Each unit's strongest crops from the folder: one scan per layer (cached beside the
    pictures), unreadable files skipped and counted in `plan.notes`."""
    from .explore_units import _scan

    added = 0
    for layer, chans in plan.channels.items():
        todo = [c for c in chans if not (out / _safe(layer) / f"{c}-top.png").is_file()]
        for _ in range(len(chans) - len(todo)):
            tick()
        if not todo:
            continue
        entries, _, skipped, total = _scan(ctx, plan.folder, layer)
        note = f"note: {skipped} of {total} files in {plan.folder} could not be read: skipped"
        if skipped and note not in plan.notes:
            plan.notes.append(note)
        for c in todo:
            img = top_crops(ctx, plan.folder, layer, c, s.top)
            _save(ctx, img, out / _safe(layer) / f"{c}-top.png", layer, c, "top", s, str(plan.folder))
            added += 1
            tick()
    return added

