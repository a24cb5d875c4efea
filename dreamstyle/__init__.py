"""dreamstyle: pictures from pretrained CNN features: DeepDream, style transfer, visualisation."""

__version__ = "0.1.0"

from .backbones import Backbone, load_backbone  # noqa: E402
from .dream import dream  # noqa: E402
from .errors import UserError  # noqa: E402
from .optimize import Interrupted  # noqa: E402
from .settings import DreamSettings, StyleSettings  # noqa: E402
from .style import stylize, stylize_sweep  # noqa: E402
from .video import zoom  # noqa: E402

__all__ = [
    "Backbone", "DreamSettings", "Interrupted", "StyleSettings", "UserError",
    "dream", "load_backbone", "stylize", "stylize_sweep", "zoom", "__version__",
]  # fmt: skip
