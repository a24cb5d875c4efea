"""A trained style network on disk: its weights plus the Job that made it, written atomically and
read back with `torch.load(weights_only=True)`, so a file from elsewhere can hold tensors, numbers
and text but never code. Anything else is refused in one line."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from .digests import sha256_prefix

FORMAT = "dreamstyle-net/1"
SUFFIX = ".pt"


@dataclass(frozen=True)
class NetworkFile:
    state_dict: dict[str, Any]
    styles: int  # paintings the network holds
    net_size: str
    record: dict[str, Any]  # the Job JSON that made it (engine "train"), as every output embeds one
    iterations: int  # training iterations it has had
    sha256: str = ""  # of the file, so a picture painted by it names exactly which one


def check_network_output(path, force: bool) -> Path:
    """Where a network will be written: a .pt file in an existing folder, not taken (unless force)."""
    out = Path(str(path)).expanduser()
    if out.suffix.lower() != SUFFIX:
        raise UserError(f"cannot save a network as {out.name}: it is a {SUFFIX} file", f"e.g. -o {out.stem or 'style'}{SUFFIX}")
    if not out.parent.is_dir():
        raise UserError(f"output folder {out.parent} does not exist", f"create it first: mkdir -p {out.parent}")
    if out.exists() and not force:
        raise UserError(f"{out} already exists", "pass --force to overwrite it, or choose another -o")
    return out


def partial_network_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.partial{out.suffix}")


def save_network(path: Path, net: NetworkFile) -> Path:
    """Write `net` to `path` atomically (images.write_atomically): a reader, or a crash, never
    sees half a network."""
    import torch

    from .images import write_atomically

    data = {"format": FORMAT, "state_dict": net.state_dict, "styles": net.styles, "net_size": net.net_size,
            "job": json.dumps(net.record, sort_keys=True), "iterations": net.iterations}  # fmt: skip
    return write_atomically(path, lambda f: torch.save(data, f), force=True)


def load_network(path) -> NetworkFile:
    """The network at `path`, or one line saying why it is not one dreamstyle can paint with."""
    p = Path(str(path)).expanduser()
    if not p.is_file():
        raise UserError(f"{p} does not exist", "give a network made by `dreamstyle train`, e.g. --net starry.pt")
    st = p.stat()
    return _load(str(p.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load(path: str, size: int, mtime_ns: int) -> NetworkFile:
    # Keyed by size and mtime too: painting a folder loads the file once, an edited file again.
    import pickle

    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UserError(f"{path} is not a network dreamstyle can load ({first})", "give a .pt file made by `dreamstyle train`") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{path} is not a dreamstyle network", "give a .pt file made by `dreamstyle train` (a backbone's weights go to --weights)")
    try:
        record = json.loads(data["job"])
        net = NetworkFile(dict(data["state_dict"]), int(data["styles"]), str(data["net_size"]), record, int(data["iterations"]),
                          sha256_prefix(path))  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path} is a damaged dreamstyle network ({exc})", "train it again, or use another file") from None
    return net
