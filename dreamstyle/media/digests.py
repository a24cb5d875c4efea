"""A file's SHA-256 prefix, remembered across runs by path, size and modification time.

Every output records which weights made it (provenance.py), and hashing a 550 MB VGG file took
about a second of every run, for the same answer each time. The answers are kept in the user's
cache folder ($XDG_CACHE_HOME/dreamstyle/digests.json); a file whose size or mtime changed is
hashed again. A cache that cannot be read or written only costs the hashing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

from .files import user_cache

KEEP = 256  # entries remembered; the oldest go first


def memo_file() -> Path:
    return user_cache("digests.json")


def sha256_prefix(path: str | os.PathLike) -> str:
    """The first 16 hex digits of the file's SHA-256."""
    st = os.stat(path)
    return _remembered(os.path.realpath(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _remembered(path: str, size: int, mtime_ns: int) -> str:
    key, stamp = path, [size, mtime_ns]
    memo = _read()
    if memo.get(key, {}).get("stamp") == stamp:
        return memo[key]["sha256"]
    digest = hash_file(path)
    memo.pop(key, None)
    memo[key] = {"stamp": stamp, "sha256": digest}
    _write(dict(list(memo.items())[-KEEP:]))
    return digest


def hash_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _read() -> dict:
    try:
        memo = json.loads(memo_file().read_text())
        return memo if isinstance(memo, dict) else {}
    except (OSError, ValueError):
        return {}


def _write(memo: dict) -> None:
    target = memo_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Atomic: two runs finishing together leave one whole file, never a mix of both.
        with tempfile.NamedTemporaryFile("w", dir=target.parent, suffix=".tmp", delete=False) as f:
            json.dump(memo, f)
        os.replace(f.name, target)
    except OSError:
        pass
