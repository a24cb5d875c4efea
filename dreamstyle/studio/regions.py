"""Regions on the page: "Find regions" (a photo's regions found from the backbone's features, as
a colour map to paint over) and the map or mask a gallery picture was made with.

Finding regions is one forward pass and a k-means, a second or two on a CPU: like a painting of
studio/fast.py it is answered at once rather than queued behind a long job, computed in a thread
(the event loop stays free), one at a time, on the studio's bundled backbone. The map is kept as
an upload, so the page loads it into its brush overlay and sends it with the job like one it
painted.
"""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..errors import UserError
from .errors import JSON, Refused, error, read_json, user_error
from .files import PAINTED, UPLOAD_PREFIX, Gallery, StoreFull, Uploads, painted_path
from .schema import hex_colour

MODEL = "efficientnet-lite0"  # bundled: regions are found offline, whatever the form's model
MIN_REGIONS, MAX_REGIONS = 2, 8  # one colour of the palette each


def painted_routes(uploads: Uploads, gallery: Gallery) -> list[Route]:
    lock = threading.Lock()  # one search at a time: two at once on a CPU are each slower than in turn

    async def regions(request: Request) -> Response:
        data = await read_json(request)  # 415, 413 or 400 when it is not JSON
        if not isinstance(data, dict):
            raise Refused(400, "send a JSON object", 'e.g. {"image": "upload:ID", "k": 2}')
        k = data.get("k", 2)
        if isinstance(k, bool) or not isinstance(k, int) or not MIN_REGIONS <= k <= MAX_REGIONS:
            raise Refused(400, f"k {k!r} is not a number of regions", f"give a whole number from {MIN_REGIONS} to {MAX_REGIONS}", "k")
        path = named_photo(data, uploads)
        try:
            found = await asyncio.to_thread(_find, str(path), k, lock)
        except ImportError:
            return error(501, "this dreamstyle cannot find regions yet", "paint the regions with the brush")
        except UserError as exc:
            return user_error(exc, 400)
        png, colours = found
        try:
            info = await asyncio.to_thread(uploads.add, png, "regions.png")
        except StoreFull as exc:
            return user_error(exc, 507)
        return JSON({"upload": UPLOAD_PREFIX + info["id"], "colors": colours, "width": info["width"], "height": info["height"]}, status_code=201)

    async def painted(request: Request) -> Response:
        """The map or mask a gallery picture was made with, kept beside it (jobs.keep_painted)."""
        try:
            picture = gallery.path(request.path_params["id"])
        except KeyError:
            return error(404, "no such picture")
        for suffix in PAINTED.values():
            beside = painted_path(picture, suffix)
            if beside.is_file():
                return FileResponse(beside)
        return error(404, "this picture was made without a painted map or mask")

    return [
        Route("/api/regions", regions, methods=["POST"]),
        Route("/api/gallery/{id}/painted", painted),
    ]


def named_photo(data: dict, uploads: Uploads) -> Path:
    """The uploaded photo a request's `{"image": "upload:ID"}` names (400 or 404 otherwise)."""
    ref = data.get("image")
    if not isinstance(ref, str) or not ref.startswith(UPLOAD_PREFIX):
        raise Refused(400, "image must name an upload as \"upload:ID\"", "upload the photo first (POST /api/uploads)", "image")
    try:
        return uploads.path(ref[len(UPLOAD_PREFIX):])
    except KeyError:
        raise Refused(404, f"no upload {ref[len(UPLOAD_PREFIX):]!r}", "upload the photo again", "image") from None


def _find(path: str, k: int, lock: threading.Lock) -> tuple[bytes, list[str]]:
    """The photo's regions as a PNG colour map of its size, and its colours in region order."""
    from ..core import registry
    from ..core.runner import context_for
    from ..core.settings import build
    from ..engines.regions import find_regions  # ImportError: not in this dreamstyle
    from ..media.images import load_image

    settings: Any = build(registry.engine("style").settings, {"model": MODEL, "quiet": True})
    picture = load_image(path)
    with lock:
        ctx = context_for(settings)
        found = find_regions(picture.rgb, k, ctx.backbone, ctx.device, dtype=ctx.dtype, seed=0).convert("RGB")
    buf = io.BytesIO()
    found.save(buf, format="PNG")
    return buf.getvalue(), [hex_colour(c) for c in reading_order(found)]


def reading_order(img) -> list[tuple[int, int, int]]:
    """The colours of `img` in the order they first appear reading it row by row."""
    import numpy as np

    rgb = np.asarray(img.convert("RGB"), dtype=np.int64).reshape(-1, 3)
    codes = rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]
    found, first = np.unique(codes, return_index=True)
    return [(int(c) >> 16, int(c) >> 8 & 255, int(c) & 255) for c in found[np.argsort(first)]]
