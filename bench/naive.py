"""The baseline: the loops most tutorials write, kept deliberately plain.

NCHW, fp32, VGG19 from torchvision truncated after the deepest layer used, targets computed once,
one image at a time. They optimise the same objectives with the same weights as dreamstyle's
engines (relative content/style losses, TV, normalised dream steps), so that the final losses
of both can be compared with one evaluator and the time ratio means "same picture, faster".
Nothing here imports dreamstyle.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
# Indices into vgg19.features of the layers the Gatys recipe uses.
VGG19 = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu4_2": 22, "relu4_4": 26, "relu5_1": 29}


class Extractor:
    def __init__(self, state_dict: dict, layers: list[str], device: torch.device):
        # Built empty and given the loaded weights, as dreamstyle's side is handed a loaded
        # backbone: torchvision's random initialisation of all 143M weights (~1 s of CPU) would
        # otherwise land inside the baseline's timed run, a large part of it on a GPU.
        with torch.device("meta"):
            vgg = torchvision.models.vgg19()
        vgg.load_state_dict(state_dict, assign=True)
        self.index = {VGG19[name]: name for name in layers}
        self.features = vgg.features[: max(self.index) + 1].to(device).eval().requires_grad_(False)
        self.mean, self.std = MEAN.to(device), STD.to(device)

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        h = (x - self.mean) / self.std
        for i, module in enumerate(self.features):
            h = module(h)
            if i in self.index:
                out[self.index[i]] = h
        return out


def gram(f: torch.Tensor) -> torch.Tensor:
    b, c, h, w = f.shape
    x = f.reshape(b, c, h * w)  # a view when f is contiguous; a copy only when it must
    return x @ x.transpose(1, 2) / (h * w)


def style(state_dict, content, style_img, *, steps, content_layer="relu4_2",
          style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
          content_weight=1.0, style_weight=100.0, tv_weight=5.0, lr=0.02, device) -> torch.Tensor:
    net = Extractor(state_dict, [content_layer, *style_layers], device)
    image = None
    for step, image in style_steps(net, content.to(device), style_img.to(device), content_layer=content_layer,
                                   style_layers=style_layers, content_weight=content_weight, style_weight=style_weight,
                                   tv_weight=tv_weight, lr=lr):  # fmt: skip
        if step == steps:
            break
    return image.detach()


def style_steps(net, content, style_img, *, content_layer, style_layers, content_weight, style_weight, tv_weight, lr):
    """The tutorial's style loop, one step at a time: yields (step, image) after each step, so a
    caller decides when to stop (bench.timeto stops it once it is as good as dreamstyle's)."""
    with torch.no_grad():
        # One layer (the tutorials' relu4_2), or several averaged as dreamstyle weighs them.
        content_layers = (content_layer,) if isinstance(content_layer, str) else tuple(content_layer)
        feats_c = net(content)
        target_c = {name: feats_c[name] for name in content_layers}
        target_g = {name: gram(f) for name, f in net(style_img).items() if name in style_layers}
    c_norm = {name: t.pow(2).mean() for name, t in target_c.items()}
    g_norm = {name: g.pow(2).sum() for name, g in target_g.items()}
    image = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([image], lr=lr)
    history = []
    step = 0
    while True:
        opt.zero_grad()
        feats = net(image)
        loss = sum(content_weight / len(content_layers) * (feats[n] - target_c[n]).pow(2).mean() / c_norm[n] for n in content_layers)
        for name in style_layers:
            loss = loss + style_weight / len(style_layers) * (gram(feats[name]) - target_g[name]).pow(2).sum() / g_norm[name]
        tv = (image[..., 1:, :] - image[..., :-1, :]).pow(2).mean() + (image[..., :, 1:] - image[..., :, :-1]).pow(2).mean()
        loss = loss + tv_weight * tv
        loss.backward()
        opt.step()
        with torch.no_grad():
            image.clamp_(0, 1)
        if step % 50 == 0:  # the tutorial's progress print
            history.append(loss.item())
        step += 1
        yield step, image


def dream(state_dict, image, *, layer="relu4_4", octaves=4, scale=1.4, steps=10, lr=0.01, jitter=32,
          device, generator) -> torch.Tensor:
    net = Extractor(state_dict, [layer], device)
    original = image.to(device)
    h0, w0 = original.shape[-2:]
    detail = None
    for k in reversed(range(octaves)):
        h, w = round(h0 / scale**k), round(w0 / scale**k)
        base = F.interpolate(original, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        detail = torch.zeros_like(base) if detail is None else F.interpolate(detail, size=(h, w), mode="bilinear", align_corners=False)
        img = (base + detail).clamp(0, 1)
        for _ in range(steps):
            dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=generator))
            x = torch.roll(img, (dy, dx), (2, 3)).requires_grad_(True)
            net(x)[layer].pow(2).mean().backward()
            g = torch.roll(x.grad, (-dy, -dx), (2, 3))
            img = (img + lr * g / (g.abs().mean() + 1e-8)).clamp(0, 1)
        detail = img - base
    return img.detach()


def visualize(state_dict, *, layer, channels, size, steps, lr=0.05, jitter=8, device, generator) -> torch.Tensor:
    """One channel at a time, as the tutorials loop over the units they want to see."""
    net = Extractor(state_dict, [layer], device)
    out = []
    for c in channels:
        raw = None
        for step, raw in ascent_steps(lambda x: net(x)[layer][:, c].mean(), size, lr=lr, jitter=jitter, device=device, generator=generator):
            if step >= steps:
                break
        out.append(torch.sigmoid(raw).detach())
    return torch.cat(out)


def ascent_steps(objective, size, *, lr=0.05, jitter=8, device="cpu", generator):
    """The tutorials' visualisation loop as a generator of (step, raw pixels): sigmoid pixels
    from small noise, a random roll each step, Adam maximising `objective(x)`. Step 0 is the
    start; the caller decides when to stop."""
    raw = (torch.randn(1, 3, size, size, generator=generator) * 0.01).to(device).requires_grad_(True)
    opt = torch.optim.Adam([raw], lr=lr)
    step = 0
    yield step, raw
    while True:
        opt.zero_grad()
        dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=generator))
        x = torch.roll(torch.sigmoid(raw), (dy, dx), (2, 3))
        (-objective(x)).backward()
        opt.step()
        step += 1
        yield step, raw
