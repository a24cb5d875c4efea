"""Training a feed-forward style network (Johnson et al. 2016) with the style engine's own losses:
the content loss against the photo, the Gram losses against each painting, TV; several paintings
in one network through conditional instance norm (Dumoulin et al. 2017), one painting per batch in
turn. The result is a `NetworkFile` that `run` writes as NAME.pt with the Job embedded.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..core.context import Context
from ..core.registry import need
from ..core.settings import parse_layers
from ..core.settings_fast import TrainSettings
from ..errors import Interrupted, UserError
from ..events import ItemDone
from ..media.files import image_files
from ..media.images import as_picture, load_image, resize_longest, save_image, to_tensor
from ..media.network_file import NetworkFile, load_network
from ..models.backbones import MODELS
from ..models.runtime import generator
from ..models.transformer_net import TransformerNet
from ..optim import color
from ..optim.loop import Adam
from ..optim.objectives import content_loss, gram, style_loss, tv_loss, weighted

MIN_PHOTOS = 3  # below this a network learns the photos, not the painting
MAX_PHOTOS = 2000  # read at most this many (decoded at about twice the crop size each)
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE_PHOTOS = ("astronaut.jpg", "cat.jpg", "coffee.jpg", "rocket.jpg")
PREVIEWS = 4  # photos on the preview sheet
CHECKPOINT_S = 60  # the network so far is handed to ctx.keep this often (a killed run loses at most this)
# --style-weight means what it means in `style`, but a network starts from noise, not from the
# photo in the painting's colours: at the optimisation's balance it learns the texture first and
# loses the photo (swirls, 128 px, 469 iterations: the cat and the cup gone under even swirls; at
# 1/20 of it their shapes came through after 383). Measured on one painting and the sample
# photos only: docs/fast.md.
TRAIN_STYLE_SCALE = 0.05


def photo_paths(folder: str | None) -> list[Path]:
    """The training photos: the folder's pictures, or without one the samples of a checkout."""
    if folder is None:
        found = [SAMPLES / n for n in SAMPLE_PHOTOS if (SAMPLES / n).is_file()]
        if len(found) < MIN_PHOTOS:
            raise UserError("no --photos folder given and no bundled samples here", "give a folder of 20 or more of your own photos: --photos DIR")
        return found
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise UserError(f"--photos {folder} is not a folder", "give a folder of photos, e.g. --photos ~/Pictures/holiday")
    return image_files(path)[:MAX_PHOTOS]


def read_photos(paths: list[Path], side: int, warn) -> list[torch.Tensor]:
    """Each readable photo as a tensor with its shorter side about 1.25 x `side` (room for the
    crops' scale jitter); unreadable ones are named once and left out."""
    out = []
    for p in paths:
        try:
            pic = load_image(p).rgb
        except UserError as exc:
            warn(f"{exc.message}; training on the other photos")  # the message names the file
            continue
        w, h = pic.size
        scale = 1.25 * side / min(w, h)
        out.append(to_tensor(pic.resize((max(side, round(w * scale)), max(side, round(h * scale))), Image.Resampling.LANCZOS)))
    if len(out) < MIN_PHOTOS:
        raise UserError(f"only {len(out)} readable photos", f"training needs at least {MIN_PHOTOS}; 20 or more of your own generalise better")
    return out


def check(job) -> None:
    styles = need(job, "styles", "ART", "give one or more paintings to learn, e.g. dreamstyle train starry.jpg --photos photos/")
    if not isinstance(styles, list) or None in styles:
        raise UserError("a painting was never a file, so it cannot be read again", "give the paintings on the command line")
    for p in styles:
        if not Path(str(p)).expanduser().is_file():
            raise UserError(f"painting {p} does not exist", "check the path")
    photo_paths(job.inputs.get("photos"))
    resume = job.inputs.get("resume")
    if resume is not None:
        net = load_network(resume)
        if net.styles != len(styles):
            raise UserError(f"{resume} holds {net.styles} paintings, this training {len(styles)}", "resume with the same paintings")


def initial_network(styles: int, net_size: str, seed: int | None) -> TransformerNet:
    """The untrained network: its initial weights drawn from the run's seed, so a run repeats."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0 if seed is None else seed)
        return TransformerNet(styles, net_size)


def _crops(photos: list[torch.Tensor], n: int, side: int, gen: torch.Generator) -> torch.Tensor:
    """n random square crops: a random photo, scale jitter 0.8-1.25, a random place, a random flip."""
    out = []
    for _ in range(n):
        x = photos[int(torch.randint(len(photos), (1,), generator=gen))]
        s = float(torch.empty(1).uniform_(0.8, 1.25, generator=gen))
        h, w = x.shape[-2:]
        c = min(h, w, max(16, round(side * s)))
        top = int(torch.randint(h - c + 1, (1,), generator=gen))
        left = int(torch.randint(w - c + 1, (1,), generator=gen))
        crop = x[..., top : top + c, left : left + c]
        if c != side:
            crop = torch.nn.functional.interpolate(crop, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
        if bool(torch.randint(2, (1,), generator=gen)):
            crop = crop.flip(-1)
        out.append(crop)
    return torch.cat(out)


def _sheet(net: TransformerNet, previews: list[torch.Tensor], styles: int, device, label: str) -> Image.Image:
    """Each preview photo beside what the network paints of it, one column per painting."""
    from .visualize import contact_sheet
    from ..media.images import to_pil

    cells, labels = [], []
    with torch.no_grad():
        for x in previews:
            x = x.to(device)
            cells.append(to_pil(x))
            labels.append("photo")
            for k in range(styles):
                mix = torch.nn.functional.one_hot(torch.tensor([k]), styles).float().to(device)
                cells.append(to_pil(net(x, mix)))
                labels.append(f"painting {k + 1}")
    return contact_sheet(cells, labels, cols=styles + 1, title=label)


def make(job, ctx: Context) -> list[NetworkFile]:
    s: TrainSettings = job.settings
    backbone, device, report = ctx.backbone, ctx.device, ctx.report
    info = MODELS.get(backbone.name)
    s = dataclasses.replace(s, content_layers=s.content_layers or (info.content_layers if info else ""),
                            style_layers=s.style_layers or (info.style_layers if info else ""))  # fmt: skip
    content_w, style_w = parse_layers(s.content_layers), parse_layers(s.style_layers)
    backbone.check_layers([*content_w, *style_w])
    side = s.size or 256
    gen = generator(s.seed)
    notes: list[str] = []

    def note(text: str) -> None:  # said now (the console prints it) and kept in the network's record
        notes.append(text)
        report(ItemDone("note", len(notes) - 1, None, message=text))

    photos = read_photos(photo_paths(job.inputs.get("photos")), side, note)
    paintings = [as_picture(p, s.max_pixels).rgb for p in job.inputs["styles"]]
    previews = [p[..., : side, : side] for p in photos[:PREVIEWS]]

    # The paintings' Gram targets, once: at the crops' scale times --style-scale.
    grams = []
    with torch.no_grad():
        for art in paintings:
            t = to_tensor(resize_longest(art, max(32, round(side * s.style_scale)))).to(device)
            if s.preserve_color == "luminance":
                t = color.luminance(t)
            feats = backbone(t, list(style_w))
            grams.append({l: gram(feats[l]) for l in style_w})

    net = initial_network(len(paintings), s.net_size, s.seed).to(device)
    done = 0
    resume = job.inputs.get("resume")
    if resume is not None:
        old = load_network(resume)
        net.load_state_dict(old.state_dict)
        done = old.iterations
    opt = Adam(net.parameters(), lr=s.lr or 1e-3)
    progress = report.tracker(s.iterations, f"train {backbone.name}")
    out = Path(job.output) if job.output else None
    preview_path = out.with_name(f"{out.stem}.preview.png") if out else None
    start = last_preview = last_kept = time.monotonic()
    sheets: list[Image.Image] = []  # the latest preview sheet, which the progress events show
    losses: dict[str, float] = {}
    taken = 0  # iterations whose update is in the weights (Ctrl-C may come after the step, before the count)

    def network(iterations: int) -> NetworkFile:
        return NetworkFile({k: v.detach().cpu() for k, v in net.state_dict().items()}, len(paintings), s.net_size, {}, iterations)

    def preview(label: str) -> None:
        sheet = _sheet(net.eval(), previews, len(paintings), device, label)
        net.train()
        sheets[:] = [sheet]
        if preview_path is not None:
            save_image(sheet, preview_path, force=True)
        report(ItemDone("preview", done + taken, None, image=sheet, path=preview_path, message=label))

    progress.picture = lambda: sheets[0] if sheets else None

    try:
        for i in range(s.iterations):
            if s.minutes and time.monotonic() - start > 60 * s.minutes:
                note(f"stopped by --minutes {s.minutes:g} after {i} iterations")
                break
            k = i % len(paintings)
            x = _crops(photos, s.batch, side, gen).to(device)
            mix = torch.nn.functional.one_hot(torch.full((s.batch,), k), len(paintings)).float().to(device)

            def loss_fn() -> torch.Tensor:
                opt.zero_grad()
                y = net(x, mix)
                seen = color.luminance(y) if s.preserve_color == "luminance" else y
                feats = backbone(seen, [*content_w, *style_w])
                terms = {}
                if s.content_weight:
                    with torch.no_grad():
                        target = backbone(color.luminance(x) if s.preserve_color == "luminance" else x, list(content_w))
                    terms["content"] = weighted(content_w, s.content_weight, lambda l: content_loss(l, target[l]))(feats)
                if s.style_weight:
                    terms["style"] = weighted(style_w, TRAIN_STYLE_SCALE * s.style_weight, lambda l: style_loss(l, grams[k][l]))(feats)
                if s.tv_weight:
                    terms["tv"] = s.tv_weight * tv_loss(y.float())
                if s.temporal_weight:
                    from .fast_temporal import temporal_term

                    terms["temporal"] = s.temporal_weight * temporal_term(net, x, mix, gen, y)
                # Summed over the batch by the objectives: per photo, so the weights mean what they mean in `style`.
                loss = sum(terms.values()) / s.batch
                loss.backward()
                progress.terms = {n: v.detach() / s.batch for n, v in terms.items()}
                losses.update({n: float(v.detach()) / s.batch for n, v in terms.items()})
                return loss

            loss = opt.step(loss_fn)
            taken = i + 1
            progress.update(loss.detach())
            if time.monotonic() - last_preview > 60 * s.preview_minutes:
                preview(f"after {done + taken} iterations")
                last_preview = time.monotonic()
            if ctx.keep is not None and time.monotonic() - last_kept > CHECKPOINT_S:
                ctx.keep(network(done + taken))
                last_kept = time.monotonic()
    except KeyboardInterrupt:
        preview(f"stopped after {done + taken} iterations")
        raise Interrupted(network(done + taken)) from None
    preview(f"after {done + taken} iterations")
    result = network(done + taken)
    return [dataclasses.replace(result, record={"notes": notes, "losses": losses, "settings": s.to_dict(), "paintings": _hashes(job.inputs["styles"])})]


def _hashes(paths: list[str]) -> list[dict[str, Any]]:
    """Each painting's size and SHA-256 prefix: which paintings a network learnt, wherever they are now."""
    from ..media.provenance import weights_identity

    return [weights_identity(str(Path(p).expanduser())) for p in paths]
