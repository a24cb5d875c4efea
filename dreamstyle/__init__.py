"""dreamstyle: pictures from pretrained CNN features: DeepDream, style transfer, visualisation.

The names below load on first use (PEP 562), so `import dreamstyle` and the command line's
--help stay fast: torch is imported only when something that needs it is touched.
"""

from __future__ import annotations

import importlib

from .version import __version__

_WHERE = {
    "Backbone": "models.backbones", "load_backbone": "models.backbones",
    "Job": "core.job", "Result": "core.job",
    "run": "core.runner",
    "dream": "api", "stylize": "api", "stylize_sweep": "api", "zoom": "api",
    "train_network": "api", "stylize_with_network": "api", "TrainSettings": "core.settings_fast", "FastSettings": "core.settings_fast",
    "UserError": "errors", "Interrupted": "errors",
    "DreamSettings": "core.settings", "StyleSettings": "core.settings", "VisualizeSettings": "core.settings",
    "MotionSettings": "core.settings", "ShiftSettings": "core.settings_probe", "TopSettings": "core.settings_probe",
    "RegionsSettings": "core.settings_regions", "ExploreSettings": "core.settings_explore",
    "ClusterSettings": "core.settings", "run_batch_on_ray": "cluster", "run_clip_on_ray": "cluster",
    "Started": "events", "Step": "events", "ItemDone": "events", "Finished": "events", "Failed": "events",
}  # fmt: skip

__all__ = [*_WHERE, "__version__"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'dreamstyle' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

