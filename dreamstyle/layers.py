"""Layer inspector: output shape, parameters, MACs, stride and receptive field of every layer.

Everything is measured on the backbone's own modules rather than read from tables, so it holds
for any backbone, including parallel branches (GoogLeNet), residual adds and TF-"same"
asymmetric padding (EfficientNet). Shapes and MACs come from one real forward pass at the
requested size; stride and receptive field do not depend on that size.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .backbones import LOGITS, Backbone
from .errors import UserError

RF_CAP = 2048  # largest probe image; a receptive field that does not fit is reported as ">= RF_CAP"
_PROBE_VALUE = 2.0**-20  # small enough that ReLU6 never saturates, even after ~20 residual doublings
_PROBE = {"dtype": torch.float64}  # float64: faster than float32 for one-channel convs, and no underflow


@dataclass
class LayerRow:
    name: str
    shape: tuple[int, int, int]  # C, H, W of the output for a (1, 3, size, size) input
    params: int  # owned by this stage; the classifier's are on "logits"
    macs: int  # conv and linear multiply-accumulates only (pooling, norms, activations are noise)
    stride: int | None  # input pixels between adjacent output units; None for the global "logits"
    receptive_field: int | None  # input pixels (one side, larger of H and W) one unit sees; None = all
    rf_at_least: bool = False  # the field did not fit in an RF_CAP probe: a lower bound

    @property
    def flops(self) -> int:
        return 2 * self.macs


def inspect(backbone: Backbone, size: int = 224) -> list[LayerRow]:
    """One row per `backbone.layer_names` entry, "logits" (global: stride and RF None) last."""
    if not isinstance(size, int) or size < 1:
        raise UserError(f"size must be a positive number of pixels, not {size!r}")
    shapes, macs = _forward_stats(backbone, size)
    fields = _receptive_fields(backbone.stages, runs_at=min(size, 128))  # known to run at `size`
    rows = [
        LayerRow(name, shapes[name], _count(stage), macs[name], stride, rf, at_least)
        for name, stage, (rf, stride, at_least) in zip(backbone.stage_names, backbone.stages, fields)
    ]
    if backbone.classifier is not None:
        rows.append(LayerRow(LOGITS, shapes[LOGITS], _count(backbone.classifier), macs[LOGITS], None, None))
    return rows


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------- shapes and MACs


def _forward_stats(backbone: Backbone, size: int) -> tuple[dict, dict]:
    """Stages run one after another, so a hook can charge each conv to the stage now running."""
    current = [""]
    macs: dict[str, int] = {}

    def hook(module, inputs, out):
        # weight[0] is one output unit's kernel: in_channels/groups * kh * kw (or in_features).
        macs[current[0]] += out[0].numel() * module.weight[0].numel()

    handles = [m.register_forward_hook(hook) for m in backbone.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    shapes = {}
    named = list(zip(backbone.stage_names, backbone.stages))
    if backbone.classifier is not None:
        named.append((LOGITS, backbone.classifier))
    x = torch.full((1, 3, size, size), 0.5, device=backbone.mean.device, dtype=backbone.mean.dtype)
    try:
        with torch.no_grad():
            h = backbone.normalize(x)
            for name, stage in named:
                current[0] = name
                macs[name] = 0
                h = stage(h)
                dims = tuple(h.shape[1:]) + (1,) * (4 - h.dim())
                shapes[name] = tuple(int(d) for d in dims)
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower():
            raise
        raise UserError(f"{backbone.name} cannot run on {size}x{size} px ({exc})", "use a larger size") from None
    finally:
        for handle in handles:
            handle.remove()
    return shapes, macs


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
    model = copy.deepcopy(stages, memo).to("cpu", **_PROBE)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(parent, name, nn.Identity())  # affine per channel: never moves support
            elif isinstance(child, nn.MaxPool2d) and child.dilation in (1, (1, 1)):  # AvgPool has no dilation
                setattr(parent, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
            elif isinstance(child, nn.AdaptiveMaxPool2d):
                setattr(parent, name, nn.AdaptiveAvgPool2d(child.output_size))
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            shape = (1, 1, *m.weight.shape[2:]) if collapse and isinstance(m, nn.Conv2d) else m.weight.shape
            # Averaging weights keep activations from growing (ReLU6 must not saturate).
            m.weight = nn.Parameter(torch.full(shape, 1.0 / torch.Size(shape[1:]).numel(), **_PROBE), requires_grad=False)
            m.bias = None
            if collapse and isinstance(m, nn.Conv2d):
                m.groups, m.in_channels, m.out_channels = 1, 1, 1
                m.register_forward_pre_hook(lambda _, args: (args[0].mean(1, keepdim=True), *args[1:]))
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
    # Cumulative stride from how output length grows with input length: exact for power-of-two
    # strides, however the padding and rounding of each layer go.
    lengths = []
    with torch.no_grad():
        for n in (size // 2, size):
            shape[axis] = n
            lengths.append([h.shape[axis] for h in _stages(model, torch.full(shape, _PROBE_VALUE, **_PROBE))])
    return [(rf, at_least, round(size / 2 / (b - a)) if b > a else None) for (rf, at_least), a, b in zip(found, *lengths)]


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


def format_table(rows: list[LayerRow], model: str, size: int) -> str:
    head = ("layer", "output C×H×W", "params", "MACs", "stride", "RF")
    body = [
        (
            r.name,
            "×".join(map(str, r.shape)),
            human(r.params) if r.params else "-",
            human(r.macs) if r.macs else "-",
            "-" if r.stride is None else str(r.stride),
            "global" if r.receptive_field is None else ("≥" if r.rf_at_least else "") + str(r.receptive_field),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    fmt = lambda line: "  ".join(  # noqa: E731 - name first, numbers right-aligned
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))
    ).rstrip()
    params, macs = sum(r.params for r in rows), sum(r.macs for r in rows)
    lines = [f"{model} at {size}×{size} px", fmt(head), *map(fmt, body)]
    total = f"total: {human(params)} params ({params:,}), {macs / 1e9:.2f} GMAC = {2 * macs / 1e9:.2f} GFLOPs"
    return "\n".join([*lines, total + "; stride and RF in input pixels"])


def to_json(rows: list[LayerRow]) -> list[dict]:
    """Exact integers; stride and receptive_field are null for "logits"."""
    return [{**asdict(r), "shape": list(r.shape), "flops": r.flops} for r in rows]


def report(backbone: Backbone, size: int = 224, as_json: bool = False) -> str:
    """What `dreamstyle layers` prints: the table, or the rows as a JSON document."""
    import json

    rows = inspect(backbone, size)
    if as_json:
        return json.dumps({"model": backbone.name, "size": size, "layers": to_json(rows)}, indent=2)
    return format_table(rows, backbone.name, size)
