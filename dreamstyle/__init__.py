"""dreamstyle: pictures from pretrained CNN features: DeepDream, style transfer, visualisation.

The names below load on first use (PEP 562), so `import dreamstyle` and the command line's
--help stay fast: torch is imported only when something that needs it is touched.
"""

from __future__ import annotations

import importlib
import sys
import types

from .version import __version__

_WHERE = {
    "Backbone": "backbones", "load_backbone": "backbones",
    "Job": "job", "Result": "job",
    "run": "run",
    "dream": "api", "stylize": "api", "stylize_sweep": "api", "zoom": "api",
    "UserError": "errors", "Interrupted": "errors",
    "DreamSettings": "settings", "StyleSettings": "settings", "VisualizeSettings": "settings", "MotionSettings": "settings",
    "ShiftSettings": "settings", "TopSettings": "settings",
    "ClusterSettings": "settings", "run_batch_on_ray": "cluster", "run_clip_on_ray": "cluster",
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


class _Package(types.ModuleType):
    """Importing a submodule binds it on its package under its own name; `dream`, `run` and
    `zoom` are both modules and the API's functions, and the functions must win."""

    def __setattr__(self, name: str, value) -> None:
        if name in _WHERE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
