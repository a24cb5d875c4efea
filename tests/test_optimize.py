"""The optimisers and precision choices the speed work rests on."""

from __future__ import annotations

import pytest
import torch

from dreamstyle import UserError
from dreamstyle.optim.objectives import gram
from dreamstyle.optim.loop import LBFGS
from dreamstyle.models.runtime import resolve_precision


def _rosenbrock(x: torch.Tensor) -> torch.Tensor:
    # Per-image sums, so a batch is a set of independent problems.
    a, b = x[:, 0::2], x[:, 1::2]
    return ((1 - a) ** 2 + 100 * (b - a**2) ** 2).sum()


def _iterates(opt_cls, x0: torch.Tensor, steps: int, **kw) -> torch.Tensor:
    x = x0.clone().requires_grad_(True)
    opt = opt_cls([x], **kw)

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(x)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return x.detach()


def test_device_lbfgs_takes_the_same_steps_as_torch_lbfgs():
    x0 = torch.randn(1, 8, dtype=torch.float64) * 0.5
    ours = _iterates(LBFGS, x0, 25, lr=0.5, history=10)
    ref = _iterates(torch.optim.LBFGS, x0, 25, lr=0.5, max_iter=1, history_size=10, tolerance_grad=-1, tolerance_change=-1)
    assert torch.allclose(ours, ref, rtol=1e-6, atol=1e-9)
    assert _rosenbrock(ours) < 0.5 * _rosenbrock(x0)  # and it actually optimised


def test_batched_lbfgs_keeps_each_image_independent():
    x0 = torch.randn(3, 8, dtype=torch.float64) * 0.5
    together = _iterates(LBFGS, x0, 20, lr=0.5)
    alone = torch.cat([_iterates(LBFGS, x0[i : i + 1], 20, lr=0.5) for i in range(3)])
    assert torch.allclose(together, alone, rtol=1e-6, atol=1e-9)


def test_gram_stays_fp32_under_bf16_autocast():
    f = torch.randn(1, 64, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        g = gram(f)
    assert g.dtype == torch.float32
    assert torch.allclose(g, gram(f), rtol=1e-5)


def test_explicit_precision_is_honoured_and_fp16_refused_on_cpu():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == torch.float32
    assert resolve_precision("bf16", cpu) == torch.bfloat16
    assert resolve_precision("auto", cpu) in (torch.float32, torch.bfloat16)
    # fp16 on the CPU is refused, not silently run in another precision. (The CLI's exact line
    # for --precision fp16 --device cpu: test_refusals.py.)
    with pytest.raises(UserError) as err:
        resolve_precision("fp16", cpu)
    assert (err.value.message, err.value.hint) == ("fp16 is not supported on the CPU", "use --precision bf16 or fp32")


def test_gram_is_the_same_in_either_memory_layout():
    f = torch.randn(2, 16, 7, 5)
    assert torch.allclose(gram(f), gram(f.contiguous(memory_format=torch.channels_last)), rtol=1e-5, atol=1e-6)


def test_adam_takes_torch_adams_steps_to_the_bit():
    """dreamstyle's Adam (which spares each process torch._dynamo's import) must paint the same
    bytes as torch.optim.Adam did: same operations, same order, on a batch of pictures."""
    from dreamstyle.optim.loop import Adam

    x0 = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    ours = _iterates(Adam, x0, 30, lr=0.05)
    ref = _iterates(torch.optim.Adam, x0, 30, lr=0.05)
    assert torch.equal(ours, ref)
    assert _rosenbrock(ours) < 0.5 * _rosenbrock(x0)


def test_no_engine_import_pulls_in_dynamo():
    """A picture's process must not pay torch._dynamo's import (1.6 s here): run a tiny visualize
    and style in a fresh interpreter and look at what got imported."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from PIL import Image\n"
        "a, b = (Image.effect_noise((64, 64), s).convert('RGB') for s in (30, 90))\n"
        "from dreamstyle import load_backbone, stylize\n"
        "from dreamstyle.engines.visualize import class_images\n"
        "bb = load_backbone('efficientnet-lite0', progress=False)\n"
        "class_images(['goldfish'], backbone=bb, size=64, steps=2, quiet=True)\n"
        "stylize(a, b, backbone=bb, size=64, steps=2, quiet=True)\n"
        "stylize(a, b, backbone=bb, size=64, steps=2, optimizer='adam', quiet=True)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[-1] == "False"
