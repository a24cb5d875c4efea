"""What frame t of a clip takes from the frames before it: where its optimisation starts and,
for style with `--temporal flow`, a loss that holds it to them.

- `none`: every frame alone.
- `blend`: frame t starts from `frame[t] + blend * (output[t-1] - frame[t-1])`, unwarped: what
  the engine added to the previous frame is carried on, but stays put on screen when the scene
  moves under it.
- `flow` (Ruder, Dosovitskiy & Brox 2016): the earlier outputs are warped by the optical flow of
  the input frames (flow.py) and trusted only where the flow is (the consistency mask c).
  What is warped is what the engine *added* to the earlier frame (its output minus its input),
  laid on frame t itself: where the flow is right this is the warped output, and where it is a
  little off (a figure's outline, a zoom's resampling) frame t's own edges are where they are now,
  not where the warp put the earlier ones. Carried whole, warped outputs drifted from their
  frames: on tests/fixtures/walk-cut.mp4 the figure faded and smeared over a shot (issue 25).
  Style: frame t starts from the warped previous output where c says so and elsewhere from the
  frame itself, given strokes (`Carry._repaint`), and takes back ANCHOR of its own fine detail
  (`_anchor`); its loss gains the temporal term `w * mean(c * (x - warped)^2) / V` (below), over
  the previous frame or, with `long_term`, several earlier ones. Dream: the detail added to frame t-1 (output minus input) is warped and,
  masked by c, carried onto frame t (`blend` of it), so creatures move with the scene instead of
  sliding over it.

The temporal weight. Ruder et al. weigh content : style : temporal as 1 : 20 : 200 (their code:
5, 100, 1000) on unnormalised losses: the content loss is the mean squared error of caffe VGG19's
relu4_2 features, the temporal one the mean squared error of 0-255 pixels. Ours are relative: the
content loss is divided by its target's mean square E_P, and the temporal term here by V, the
frame's pixel variance (its mean squared distance from its mean colour, 0-1 pixels). Divide their
total loss by their content weight and by E_P, write their pixel error as 255^2 times ours, and
their temporal weight reads, in our units (content weight 1),

    w = 200 * 255^2 * V / E_P = 200 * E_X / E_P = 200 / G

with E_X = 255^2 V about the mean square of their network's mean-subtracted input, and G = E_P / E_X
the mean-square gain of that network from its input to relu4_2. VGG without its biases is
positively homogeneous (ReLUs, max-pooling), so G belongs to the weights, not to the picture or
its pixel scale: a fixed w here is their fixed 200 there. Dividing by V also keeps the balance
frame by frame: a relative content loss stiffens the pixels by about 1/V (its gradient is the
feature gain over E_P), so a dark, flat frame is held as firmly as a bright, busy one. The caffe
weights cannot be loaded offline here to measure G. The default (settings.TEMPORAL_WEIGHT, 10,
i.e. G = 20) was chosen on real footage (`python -m bench.video`, docs/video.md), from the curve of
edges kept against warping error, next to independent frames': 50, the weight the synthetic pans
and zooms had suggested, kept 1.11x their edges over walk-big (0.92x after its cut) at 0.11x their
warping error, steadier than the eye needs; 10 keeps 1.15x (1.00x) at 0.17x; 5 gains little more
(1.15x, 1.04x) at 0.19x.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from PIL import Image

from ..optim import color, masks
from .flow import Flows, gaussian, warp
from .style_regions import regions_at
from ..media.images import resize_longest, resize_to, to_pil, to_tensor
from ..core.job import Job
from ..core.settings import AUTO

# Ruder et al.'s multi-pass blend: a later pass starts from its last result moved half-way
# towards the warped neighbour where the flow is reliable.
PASS_BLEND = 0.5
# A frame's start takes back this share of its own fine detail (the frame's high frequencies in
# place of the start's): each frame starts from where the one before it ended and runs at least
# the stopping rule's 50 steps, so without it the optimisation of a long shot went on frame after
# frame and painted the picture further from its frame than one run does (walk-cut's figure and
# cup faded over a 48-frame shot: 0.89x of independent frames' edges in its second half; a zoom's
# thin towers 0.86x within 12 frames). Measured at 256 px on that zoom (edges kept against
# independent frames'): at temporal weight 20, 0.3 kept 0.88x and 0.5 0.91x; at 10, 0.5 kept
# 0.95x and 0.7 0.98x, all at a warping error near 0.1x theirs; but a frame took 1.2x the time of
# one from a plain warped start at 0.5 (weight 20) and 1.8x at 0.7 (weight 10).
ANCHOR = 0.5
# With --steps auto, a frame that starts from the frames before it runs this many steps a scale:
# its start is already painted, and what it has to do (settle the anchored detail, paint what was
# uncovered) the stopping rule let run on for 70-90 steps, 1.4x the time of a frame before the
# anchor (50, the rule's earliest look that it had stopped at), for edges that the extra steps
# painted away again. Measured on walk-big's first 30 frames at 256 px, back to back: 1.39 s a
# frame, against 1.48 s for 0.2's flow and 2.5 s with the rule let run, edges kept 0.90 against
# 0.87 with the rule; on the zoom after its cut 0.95x independent frames' edges against 0.91x.
CARRIED_STEPS = 50
# "Fine detail": above a Gaussian of this fraction of the shorter side (2 px at 108 px), the
# scale of a stroke's edge.
ANCHOR_SIGMA = 1 / 54


def energy(frame: torch.Tensor) -> float:
    """V: the frame's mean squared distance from its mean colour (0-1 pixels)."""
    return float((frame - frame.mean(dim=(-2, -1), keepdim=True)).pow(2).mean().clamp_min(1e-4))


class TemporalLoss:
    """`weight * sum_j mean(c_j * (x - warped_j)^2) / V`, the loss style_images adds for a clip
    frame (its `temporal` argument): at each scale of the ladder the warped earlier outputs and
    their weights are resized to the picture being optimised."""

    def __init__(self, targets: list[tuple[torch.Tensor, torch.Tensor]], weight: float, v: float, luminance: bool = False):
        self.targets = [(color.luminance(w) if luminance else w, c) for w, c in targets]
        self.scale = weight / v
        self._at: dict[tuple, list[tuple[torch.Tensor, torch.Tensor]]] = {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = (tuple(x.shape[-2:]), x.device)
        if key not in self._at:
            self._at[key] = [(resize_to(w, *x.shape[-2:]).to(x.device), resize_to(c, *x.shape[-2:]).to(x.device)) for w, c in self.targets]
        return self.scale * sum(((x - w).pow(2) * c).mean() for w, c in self._at[key])


def _anchor(start: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """`start` with ANCHOR of its fine detail replaced by the frame's (see ANCHOR)."""
    sigma = max(1.0, min(frame.shape[-2:]) * ANCHOR_SIGMA)
    fine = lambda x: x - gaussian(x, sigma)  # noqa: E731
    return (start + ANCHOR * (fine(frame) - fine(start))).clamp(0, 1)


def long_term_weights(masks: list[torch.Tensor]) -> list[torch.Tensor]:
    """Ruder et al.'s long-term weights, nearest frame first: each earlier frame counts only where
    no nearer one is reliable, c_long_j = max(c_j - sum_{k<j} c_k, 0)."""
    out, covered = [], torch.zeros_like(masks[0])
    for c in masks:
        out.append((c - covered).clamp_min(0))
        covered = covered + c
    return out


@dataclass
class Carry:
    """One clip's temporal state: its input frames at the output size, the outputs so far (of
    this pass) and the flows between frames. `frame_job` makes frame t's Job from it, `done`
    records frame t's output. A caller that starts mid-clip warms it up by running a few frames
    before the first it keeps (clip.clip_frames' `warmup`)."""

    job: Job
    inputs: dict[int, Image.Image] = field(default_factory=dict)
    outputs: dict[int, Image.Image] = field(default_factory=dict)
    flows: Flows = field(default_factory=Flows)

    @property
    def mode(self) -> str:
        return self.job.motion.temporal

    @property
    def back(self) -> list[int]:
        """How many frames back frame t looks (nearest first)."""
        m = self.job.motion
        return (m.long_term or [1]) if self.mode == "flow" and self.job.engine == "style" else [1]

    def add(self, t: int, frame: Image.Image) -> Image.Image:
        """Frame t at the output size, remembered (and its flows made available). A later pass
        of a multi-pass run finds it already there."""
        if t in self.inputs:
            return self.inputs[t]
        size = self.job.settings.size
        rgb = resize_longest(frame, size) if size else frame.convert("RGB")
        self.inputs[t] = rgb
        if self.mode == "flow":
            self.flows.add(t, rgb)
        return rgb

    def frame_job(self, t: int, frame: Image.Image, direction: int = 1, earlier: Image.Image | None = None) -> Job:
        """Frame t's Job. `direction` is +1 on a forward pass (frame t looks at t-1, t-2, …) and
        -1 on a backward one; `earlier` is frame t's result from the previous pass, if any."""
        if self.job.engine == "fast":  # a network paints each frame alone, at its own --size
            return Job("fast", {"content": frame}, self.job.settings)
        rgb = self.add(t, frame)
        job, s = self.job, self.job.settings
        near = [t - direction * j for j in self.back if t - direction * j in self.outputs]
        if job.engine == "dream":
            mask = job.inputs.get("mask")
            if mask is None:
                return Job("dream", {"image": self._dream_start(t, rgb, near)}, s)
            # As a picture: a frame whose mask is all black is left as it was (engines/dream.py).
            mask = masks.open_mask_picture(masks.for_frame(mask, t), f"frame {t}'s mask")
            return Job("dream", {"image": self._dream_start(t, rgb, near, mask), "mask": mask}, s)
        inputs = {"content": frame, "styles": job.inputs["styles"], **regions_at(job.inputs, t)}
        if self.mode == "blend" and near and job.motion.blend > 0:
            inputs["start"] = self._blended(near[0], rgb)
        elif self.mode == "flow":
            warped = [self._warped(t, n, rgb) for n in near]
            weights = long_term_weights([c for _, c in warped]) if warped else []
            start = self._flow_start(t, near, rgb, warped, weights, earlier)
            if start is not None:
                inputs["start"] = to_pil(start)
            if warped and job.motion.temporal_weight > 0:
                targets = [(w, c) for (w, _), c in zip(warped, weights)]
                inputs["temporal"] = TemporalLoss(targets, job.motion.temporal_weight, energy(to_tensor(rgb)),
                                                  luminance=s.preserve_color == "luminance")  # fmt: skip
            if warped and earlier is None and s.steps == AUTO:
                s = replace(s, steps=CARRIED_STEPS)
        return Job("style", inputs, s)

    def done(self, t: int, out: Image.Image, *, keep_all: bool = False) -> None:
        """Frame t's output. Unless `keep_all` (a multi-pass run needs every frame again), frames
        further back than the farthest frame any later frame looks at are forgotten."""
        self.outputs[t] = out.convert("RGB")
        if not keep_all:
            lo = t - max(self.back)
            self.inputs = {k: v for k, v in self.inputs.items() if k >= lo}
            self.outputs = {k: v for k, v in self.outputs.items() if k >= lo}
            self.flows.forget(list(self.inputs))

    def new_pass(self) -> None:
        self.outputs = {}

    # --- the pieces ------------------------------------------------------------------------

    def _at(self, im: Image.Image, rgb: Image.Image) -> torch.Tensor:
        """An earlier frame's picture as a tensor at frame t's size (a folder may mix sizes)."""
        return to_tensor(im.convert("RGB").resize(rgb.size, Image.LANCZOS) if im.size != rgb.size else im)

    def _warped(self, t: int, s: int, rgb: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame s's output seen from frame t (frame t with what the engine added to frame s,
        warped: see the top), and where that can be trusted."""
        flow, c = self.flows.toward(t, s)
        return (to_tensor(rgb) + warp(self._detail(s, rgb), flow, mode="bicubic")).clamp(0, 1), c

    def _flow_start(self, t, near, rgb, warped, weights, earlier) -> torch.Tensor | None:
        if earlier is not None:  # a later pass: its last result, moved towards the warped neighbour
            x = self._at(earlier, rgb)
            if warped:
                w, c = warped[0]
                x = x + PASS_BLEND * c * (w - x)
            return x
        if not warped:
            return None  # the clip's first frame starts as a picture does (--init)
        reliable = sum(weights)
        x = sum(c * w for (w, _), c in zip(warped, weights)) + (1 - reliable).clamp_min(0) * self._repaint(t, near, rgb)
        return _anchor(x, to_tensor(rgb))

    def _repaint(self, t: int, near: list[int], rgb: Image.Image) -> torch.Tensor:
        """Where no earlier frame can be trusted (a strip entering the view, the ground a moving
        thing uncovers): the frame itself, tinted as the nearest frame's output was nearby (the
        low frequencies of its added detail, warped), with strokes from elsewhere in it (the high
        frequencies, shifted by half the picture).

        Ruder et al.'s text starts such regions from the bare frame. On the bench's pan and moving
        square they then stayed photo-like however long the frame ran: the style loss is a global
        statistic that a small bare region hardly moves, and the next frame holds it as it is.
        The previous frame's strokes warped there (past the border, the border or its mirror)
        were painted at once but repeated into streaks and stripes and ghosted the moving thing;
        its strokes from elsewhere, with their colour shift, made pale blocks. Colour from nearby
        and strokes from elsewhere blended in, and the content loss fits them to what is there."""
        s = near[0]
        detail = self._detail(s, rgb)
        flow, _ = self.flows.toward(t, s)
        h, w = detail.shape[-2:]
        sigma = max(2.0, min(h, w) / 32)
        tint = gaussian(warp(detail, flow), sigma)
        strokes = torch.roll(detail - gaussian(detail, sigma), (h // 2, w // 2), (-2, -1))
        return (to_tensor(rgb) + tint + strokes).clamp(0, 1)

    def _detail(self, s: int, rgb: Image.Image) -> torch.Tensor:
        """What the engine added to frame s (its output minus its input), at frame t's size."""
        return self._at(self.outputs[s], rgb) - self._at(self.inputs[s], rgb)

    def _blended(self, s: int, rgb: Image.Image) -> Image.Image:
        return to_pil(to_tensor(rgb) + self.job.motion.blend * self._detail(s, rgb))

    def _dream_start(self, t: int, rgb: Image.Image, near: list[int], mask: Image.Image | None = None) -> Image.Image:
        """Frame t with the dream carried from the frame before; with a `mask`, carried only
        inside frame t's mask, so a creature the flow moves out of it is not left outside."""
        m = self.job.motion
        if not near or m.temporal == "none" or m.blend == 0:
            return rgb
        s = near[0]
        detail = self._detail(s, rgb)
        if m.temporal == "blend":
            carried = m.blend * detail
        else:
            flow, c = self.flows.toward(t, s)
            carried = m.blend * c * warp(detail, flow, mode="bicubic")
        if mask is not None:
            from .dream import dream_mask

            carried = carried * dream_mask(mask, (rgb.height, rgb.width))
        return to_pil(to_tensor(rgb) + carried)

    def cut(self, t: int) -> None:
        """Frame t starts a new shot (engines/cuts.py): what is kept of the frames before it
        (inputs, outputs, flows) is dropped, so frame t starts as a clip's first frame does and
        no later frame of its shot reaches back across the cut."""
        self.inputs = {k: v for k, v in self.inputs.items() if k >= t}
        self.outputs = {k: v for k, v in self.outputs.items() if k >= t}
        self.flows.forget(list(self.inputs))
