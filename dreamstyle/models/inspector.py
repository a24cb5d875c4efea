"""Layer inspector: output shape, parameters, MACs, stride and receptive field of every layer.

Everything is measured on the network's own modules rather than read from tables, so it holds
for any backbone or architecture (zoo.py), including parallel branches (GoogLeNet), residual adds
and TF-"same" asymmetric padding (EfficientNet). Shapes, MACs and depth come from one forward
pass at the requested size on the meta device (shapes only: no arithmetic, no memory); stride
and receptive field do not depend on that size.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass
from itertools import chain

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

from .backbones import LOGITS, Backbone
from ..errors import UserError

RF_CAP = 2048  # largest probe image; a receptive field that does not fit is reported as ">= RF_CAP"
_PROBE_VALUE = 2.0**-20  # small enough that ReLU6 never saturates, even after ~20 residual doublings
_PROBE = {"dtype": torch.float64}  # float64: faster than float32 for one-channel convs, and no underflow


@dataclass
class LayerRow:
    name: str
    shape: tuple[int, ...]  # C, H, W of the output for a (1, 3, size, size) input (tokens, dim for ViT)
    params: int  # owned by this stage; the classifier's are on "logits"
    macs: int  # multiply-accumulates of convs, matrix products and attention (pooling, norms, activations are noise)
    stride: int | None  # input pixels between adjacent output units; None for the global "logits"
    receptive_field: int | None  # input pixels (one side, larger of H and W) one unit sees; None = all
    rf_at_least: bool = False  # the field did not fit in an RF_CAP probe: a lower bound
    depth: int = 0  # the most conv and fully connected layers on any path from the input to here

    @property
    def flops(self) -> int:
        return 2 * self.macs


def inspect(backbone: Backbone, size: int = 224) -> list[LayerRow]:
    """One row per `backbone.layer_names` entry; the head ("logits", or an architecture's
    classifier layers: global, stride and RF None) last."""
    if not isinstance(size, int) or size < 1:
        raise UserError(f"size must be a positive number of pixels, not {size!r}")
    shapes, macs, depths = _forward_stats(backbone, size)
    probed = getattr(backbone, "global_from", len(backbone.stages))  # attention from here on: global
    cap = getattr(backbone, "rf_cap", RF_CAP)
    fields = _receptive_fields(backbone.stages[:probed], cap=cap, runs_at=min(size, 128)) if probed else []  # known to run at `size`
    for name in backbone.stage_names[probed:]:
        h = shapes[name][1] if len(shapes[name]) == 3 else 0
        fields.append((None, size // h if h and size % h == 0 else None, False))  # "same" padding: exact
    rows = [
        LayerRow(name, shapes[name], _count(stage), macs[name], stride, rf, at_least, depths[name])
        for name, stage, (rf, stride, at_least) in zip(backbone.stage_names, backbone.stages, fields)
    ]
    rows += [LayerRow(name, shapes[name], _count(m), macs[name], None, None, depth=depths[name]) for name, m in _head(backbone)]
    return rows


def _head(backbone) -> list[tuple[str, nn.Module]]:
    """What runs after the stages, each layer seeing the whole picture: a Backbone's classifier
    as one "logits" row, an architecture's classifier layers each by name."""
    if hasattr(backbone, "head_layers"):
        return backbone.head_layers
    return [(LOGITS, backbone.classifier)] if backbone.classifier is not None else []


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------- shapes and MACs


def _forward_stats(backbone: Backbone, size: int) -> tuple[dict, dict, dict]:
    """Shapes, MACs and depth per layer from a forward pass of a meta-device twin: stages run
    one after another, so each layer is charged what it computed."""
    named = [*zip(backbone.stage_names, backbone.stages), *_head(backbone)]
    twins = _on_meta(nn.ModuleList(m for _, m in named))
    shapes, macs, depths = {}, {}, {}
    h = torch.full((1, getattr(backbone, "in_channels", 3), size, size), 0.5, device="meta")
    try:
        with torch.no_grad(), _Depth():
            for (name, _), stage in zip(named, twins):
                with FlopCounterMode(display=False) as flops:
                    h = stage(h)
                macs[name] = flops.get_total_flops() // 2
                dims = tuple(h.shape[1:]) + ((1, 1) if h.dim() == 2 else ())  # a vector as C×1×1; ViT's tokens as they are
                shapes[name] = tuple(int(d) for d in dims)
                depths[name] = getattr(h, "_weight_layers", 0)
    except (RuntimeError, ValueError, AssertionError) as exc:
        native = getattr(backbone, "native", None)
        hint = f"use --size {native}, the input it was made for" if native and native != size else "use a larger size"
        raise UserError(f"{backbone.name} cannot run on {size}x{size} px ({exc})", hint) from None
    return shapes, macs, depths


def _on_meta(module: nn.Module) -> nn.Module:
    """A copy whose weights and buffers are shapes only (no memory, no arithmetic)."""
    memo = {}
    for t in chain(module.parameters(), module.buffers()):
        meta = t.detach().to("meta")
        memo[id(t)] = nn.Parameter(meta, requires_grad=False) if isinstance(t, nn.Parameter) else meta
    return copy.deepcopy(module, memo)


# Layers with weights, for depth. MultiheadAttention runs as one function: its input and output
# projections, two layers in a row.
_WEIGHTED = {torch.conv1d: 1, torch.conv2d: 1, torch.conv3d: 1, torch.nn.functional.linear: 1,
             torch.nn.functional.multi_head_attention_forward: 2}  # fmt: skip


class _Depth(TorchFunctionMode):
    """Counts weight layers along every path: each result carries the most conv and linear
    layers any of its inputs went through, plus one if it is itself such a layer."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        depth = max((getattr(t, "_weight_layers", 0) for t in _tensors((args, kwargs))), default=0) + _WEIGHTED.get(func, 0)
        for t in _tensors(out):
            if not isinstance(t, nn.Parameter):
                t._weight_layers = max(depth, getattr(t, "_weight_layers", 0))
        return out


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


# --------------------------------------------------------------------------- receptive fields


def _binarize(module: nn.Module, args, out) -> None:
    # Gradients shrink by ~1/fan_in per layer and would underflow in deep nets; only their
    # support matters, so reset them to 0/1 at every module's output on the way back.
    if isinstance(out, torch.Tensor) and out.requires_grad:
        out.register_hook(lambda g: (g != 0).to(g.dtype))


def _positive_copy(stages: nn.ModuleList, collapse: bool) -> nn.ModuleList:
    """A CPU copy whose input gradient is nonzero exactly where the real network *could* depend.

    With positive weights, positive activations and no cancellation, the support of the input
    gradient of one output unit is its theoretical receptive field. Max pooling becomes average
    pooling of the same geometry because max routes gradient to a single input. With `collapse`,
    every conv first averages its input channels into one: what we measure is the union over
    channels anyway, and it makes the probe ~C_in*C_out times cheaper.
    """
    # Weight values are irrelevant: copy stand-ins of ones instead of megabytes of weights.
    memo = {id(p): nn.Parameter(torch.ones((), **_PROBE).expand(p.shape), requires_grad=False) for p in stages.parameters()}
    # Float buffers (norm statistics) too; integer ones (an attention's position index) are kept.
    memo.update({id(b): torch.ones((), **_PROBE).expand(b.shape) for b in stages.buffers() if b.is_floating_point()})
    model = copy.deepcopy(stages, memo).to("cpu", **_PROBE)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)):
                setattr(parent, name, nn.Identity())  # per position (over channels): never moves support
            elif isinstance(child, nn.MaxPool2d) and child.dilation in (1, (1, 1)):  # AvgPool has no dilation
                setattr(parent, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
            elif isinstance(child, nn.AdaptiveMaxPool2d):
                setattr(parent, name, nn.AdaptiveAvgPool2d(child.output_size))
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            shape = (1, 1, *m.weight.shape[2:]) if collapse else m.weight.shape
            # Averaging weights keep activations from growing (ReLU6 must not saturate).
            m.weight = nn.Parameter(torch.full(shape, 1.0 / torch.Size(shape[1:]).numel(), **_PROBE), requires_grad=False)
            m.bias = None
            if collapse and isinstance(m, nn.Conv2d):
                m.groups, m.in_channels, m.out_channels = 1, 1, 1
                m.register_forward_pre_hook(lambda _, args: (args[0].mean(1, keepdim=True), *args[1:]))
            elif collapse:  # a pointwise layer on channels-last maps (ConvNeXt's MLP)
                m.in_features, m.out_features = 1, 1
                m.register_forward_pre_hook(lambda _, args: (args[0].mean(-1, keepdim=True), *args[1:]))
        if not any(True for _ in m.children()):
            m.register_forward_hook(_binarize)
    return model


def _span(out: torch.Tensor, x: torch.Tensor, axis: int) -> tuple[int, int] | None:
    """First and last input index along `axis` that the central output unit depends on."""
    seed = torch.zeros_like(out)
    seed[0, :, (out.shape[2] - 1) // 2, (out.shape[3] - 1) // 2] = 1
    (grad,) = torch.autograd.grad(out, x, seed, retain_graph=True)
    idx = grad[0].abs().sum((0, 4 - axis)).nonzero().flatten()
    return (int(idx[0]), int(idx[-1])) if len(idx) else None


def _stages(model: nn.ModuleList, x: torch.Tensor):
    for stage in model:
        x = stage(x)
        yield x


def _axis_fields(model: nn.ModuleList, axis: int, cap: int, strip: int = 64):
    """[(rf, at_least, stride)] along one axis (2 = H, 3 = W) for every stage.

    The probe is a strip, long along `axis` and `strip` wide across it: what a unit sees along one
    axis does not depend on the other one's extent, and the strip is far cheaper than a square.
    The probe doubles until the field stops touching its ends (touching means padding clipped
    it). One forward per probe size, measured stage by stage as it goes, so shallow layers are
    settled on small probes and only deep ones pay for big ones.
    """
    found: list[tuple[int, bool]] = []
    size = 32
    while len(found) < len(model):
        shape = [1, 3, size, size]
        shape[5 - axis] = min(size, strip)
        x = torch.full(shape, _PROBE_VALUE, **_PROBE, requires_grad=True)
        try:
            for j, h in enumerate(_stages(model, x)):
                if j < len(found):
                    continue
                span = _span(h, x, axis)
                fits = span is not None and span[0] > 0 and span[1] < size - 1
                if not fits and size < cap:
                    break  # grow the probe and start over from here
                found.append((span[1] - span[0] + 1 if span else 0, not fits))  # at the cap: a lower bound
        except RuntimeError:
            if size >= cap and strip >= size:
                raise  # not a too-small probe: a real error
            if strip < size:
                strip = size  # perhaps the net needs a wider strip: retry this size square
                continue
        size *= 2
    # Cumulative stride from how output length grows with input length: for n and 2n input
    # pixels the lengths differ by n/stride, give or take one, so the ratio is off by about
    # stride²/n: exact for power-of-two strides at 512 px, then made exact for others (ViT-H's 14)
    # by measuring again at ~4 stride² px.
    def ratios(n: int) -> list[float | None]:
        lengths = []
        with torch.no_grad():
            for m in (n // 2, n):
                shape[axis] = m
                lengths.append([h.shape[axis] for h in _stages(model, torch.full(shape, _PROBE_VALUE, **_PROBE))])
        return [n / 2 / (b - a) if b > a else None for a, b in zip(*lengths)]

    est = ratios(max(size, 512))
    odd = [r for r in est if r and round(r) & (round(r) - 1)]
    if odd:
        est = ratios(2 * math.ceil(2 * max(odd) ** 2))
    return [(rf, at_least, round(r) if r else None) for (rf, at_least), r in zip(found, est)]


def _receptive_fields(stages: nn.ModuleList, collapse: bool | None = None, cap: int = RF_CAP, runs_at: int = 64):
    """[(rf, stride, at_least)] per stage, measured along H and W (the larger is reported)."""
    threads = torch.get_num_threads()
    # The probe's ops are small: extra threads only add sync cost, 10-100x on a busy CPU.
    torch.set_num_threads(1)
    try:
        with torch.inference_mode(False), torch.enable_grad():  # callers may well be in no_grad
            if collapse is None:
                try:  # collapsing assumes nothing but convs cares about channel counts; else full copy
                    with torch.no_grad():
                        list(_stages(_positive_copy(stages, True), torch.full((1, 3, runs_at, runs_at), _PROBE_VALUE, **_PROBE)))
                    collapse = True
                except Exception:  # whatever broke, the full copy is the safe (slower) answer
                    collapse = False
            model = _positive_copy(stages, collapse)
            h, w = (_axis_fields(model, axis, cap) for axis in (2, 3))
    finally:
        torch.set_num_threads(threads)
    return [(max(a[0], b[0]), max(a[2] or 0, b[2] or 0) or None, a[1] or b[1]) for a, b in zip(h, w)]


# --------------------------------------------------------------------------- output


def human(n: float, unit: str = "") -> str:
    """1234567 -> '1.23M', with a unit '1.23 MMAC': three significant digits, exact below 1000."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= factor:
            v = n / factor
            return f"{v:.{2 if v < 10 else 1 if v < 100 else 0}f}{' ' if unit else ''}{prefix}{unit}"
    return f"{int(n)}{' ' if unit else ''}{unit}"


def _aligned(head: tuple[str, ...], body: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    fmt = lambda line: "  ".join(  # noqa: E731 - name first, numbers right-aligned
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))
    ).rstrip()
    return [fmt(head), *map(fmt, body)]


def _field(rf: int | None, at_least: bool) -> str:
    return "global" if rf is None else ("≥" if at_least else "") + str(rf)


def format_table(rows: list[LayerRow], model: str, size: int, channels: int = 3) -> str:
    head = ("layer", "output C×H×W", "params", "MACs", "stride", "RF")
    body = [
        (
            r.name,
            "×".join(map(str, r.shape)),
            human(r.params) if r.params else "-",
            human(r.macs) if r.macs else "-",
            "-" if r.stride is None else str(r.stride),
            _field(r.receptive_field, r.rf_at_least),
        )
        for r in rows
    ]
    params, macs = sum(r.params for r in rows), sum(r.macs for r in rows)
    grey = ", grey (1 channel)" if channels == 1 else ""
    lines = [f"{model} at {size}×{size} px{grey}", *_aligned(head, body)]
    # GMAC as ever; LeNet's 0.42 MMAC would read 0.00 GMAC.
    cost = f"{macs / 1e9:.2f} GMAC = {2 * macs / 1e9:.2f} GFLOPs" if macs >= 1e7 else f"{human(macs, 'MAC')} = {human(2 * macs, 'FLOPs')}"
    total = f"total: {human(params)} params ({params:,}), {cost}"
    return "\n".join([*lines, total + f", depth {max(r.depth for r in rows)}; stride and RF in input pixels"])


def to_json(rows: list[LayerRow]) -> list[dict]:
    """Exact integers; stride and receptive_field are null for "logits"."""
    return [{**asdict(r), "shape": list(r.shape), "flops": r.flops} for r in rows]


def report(backbone: Backbone, size: int = 224, as_json: bool = False) -> str:
    """What `dreamstyle layers` prints: the table, or the rows as a JSON document."""
    import json

    rows = inspect(backbone, size)
    channels = getattr(backbone, "in_channels", 3)
    if as_json:
        doc = {"model": backbone.name, "size": size, "input": [channels, size, size], "depth": max(r.depth for r in rows)}
        return json.dumps({**doc, "layers": to_json(rows)}, indent=2)
    return format_table(rows, backbone.name, size, channels)


# --------------------------------------------------------------------------- comparing networks


def summary(backbone: Backbone, size: int) -> dict:
    """One network in one row: what changed from LeNet to AlexNet, VGG, NiN and GoogLeNet.

    `receptive_field` is the largest any layer with a map has (None: global, as after ViT's
    attention); `output_stride` that of the last map, before the classifier pools it away."""
    rows = inspect(backbone, size)
    spatial = [r for r in rows[: len(backbone.stages)] if r.receptive_field is not None]
    widest = max(spatial, key=lambda r: (r.receptive_field, r.rf_at_least), default=None)
    unprobed = getattr(backbone, "global_from", len(backbone.stages)) < len(backbone.stages)
    return {
        "model": backbone.name,
        "input": [getattr(backbone, "in_channels", 3), size, size],
        "params": sum(r.params for r in rows),
        "macs": sum(r.macs for r in rows),
        "depth": max(r.depth for r in rows),
        "output_stride": max((r.stride for r in rows if r.stride), default=None),
        "receptive_field": None if unprobed or widest is None else widest.receptive_field,
        "rf_at_least": bool(widest and widest.rf_at_least and not unprobed),
    }


def format_compare(summaries: list[dict]) -> str:
    head = ("model", "input", "params", "MACs", "depth", "stride", "RF")
    body = [
        (
            s["model"],
            "×".join(map(str, s["input"])),
            human(s["params"]),
            human(s["macs"]),
            str(s["depth"]),
            str(s["output_stride"] or "-"),
            _field(s["receptive_field"], s["rf_at_least"]),
        )
        for s in summaries
    ]
    notes = ("depth: the most conv and fully connected layers on one path; stride: of the last feature map;\n"
             "RF: the largest receptive field of a layer with a map, in input pixels (global: each unit sees it all)")  # fmt: skip
    return "\n".join([*_aligned(head, body), notes])


def fields(backbone: Backbone, layers: list[str]) -> dict[str, tuple[int, int | None, bool]]:
    """(receptive field, stride, field is a lower bound) of named stages, probing only as deep
    as the deepest of them (the visualisers' crops and alignments need no whole table)."""
    index = [backbone.stage_names.index(layer) for layer in backbone.check_layers(layers)]
    found = _receptive_fields(backbone.stages[: max(index) + 1]) if index else []
    return {layer: (found[i][0], found[i][1], found[i][2]) for layer, i in zip(layers, index)}
