"""Painting with a trained network from the page: the list of networks, and one picture painted
at once for the sliders and the camera.

A network paints a 256 px picture in about 50 ms on a CPU, so the page re-paints as a slider
moves and paints camera frames one after another. That cannot wait in the queue behind a
training job, so POST /api/paint answers with the picture itself: painted in a thread (the event
loop stays free for the event streams), one painting at a time, writing nothing. Its settings are
the `fast` engine's, checked by the same code as a queued job's (jobs.py), so what the live view
shows is what "Keep" (a queued `fast` job, into the gallery with its Job) then makes.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..core.job import Job
from ..errors import UserError
from .errors import JSON, Refused, error, media_type, read_json, user_error
from .files import Uploads
from .jobs import check_with_fields, parts_of, refusing_bugs
from .networks import Networks

MAX_LIVE_SIDE = 1024  # longest side painted live; Keep (a queued job) paints any size
MAX_FRAME_BYTES = 8 * 1024 * 1024  # a camera frame or dropped photo sent with the request
FRAME = "the camera frame"


def fast_routes(uploads: Uploads, networks: Networks, max_upload_bytes: int, max_pixels: int | None) -> list[Route]:
    lock = threading.Lock()  # one painting at a time: two at once on a CPU are each slower than in turn

    async def network_list(request: Request) -> Response:
        return JSON({"networks": await asyncio.to_thread(networks.items)})

    async def network_preview(request: Request) -> Response:
        try:
            path = networks.preview(request.path_params["name"])
        except KeyError:
            return error(404, "no preview sheet for that network", "a network trained by the studio or `dreamstyle train` has one")
        return FileResponse(path, headers={"cache-control": "no-store"})

    async def paint(request: Request) -> Response:
        if media_type(request) == "multipart/form-data":
            data, frame = await _frame(request, min(max_upload_bytes, MAX_FRAME_BYTES))
            source: Any = frame
        else:
            data = await read_json(request)  # 415, 413 or 400 when it is not JSON
            source = None
        body = {**data, "engine": "fast"} if isinstance(data, dict) else data
        _, inputs, settings = refusing_bugs(parts_of, body, uploads, networks)  # 400 with the field at fault
        if source is None:
            source = inputs.get("content")
            if source is None:
                raise Refused(400, "no photo to paint", 'send {"inputs": {"content": "upload:ID"}, "settings": {…}}, or the picture as multipart', "inputs.content")
        job = Job("fast", {"content": source if isinstance(source, str) else FRAME}, settings)
        check_with_fields(job)  # the network loads and holds as many paintings as the mix has weights
        try:
            png, took = await asyncio.to_thread(_paint, job, source, max_pixels, lock)
        except UserError as exc:
            return user_error(exc, 413 if "too large" in exc.message else 400)
        return Response(png, media_type="image/png", headers={"cache-control": "no-store", "x-paint-ms": f"{took:.1f}"})

    return [
        Route("/api/networks", network_list),
        Route("/api/networks/{name}/preview", network_preview),
        Route("/api/paint", paint, methods=["POST"]),
    ]


async def _frame(request: Request, limit: int) -> tuple[Any, bytes]:
    """A multipart paint request: the picture as the field `file`, the settings as the field
    `settings` (a JSON object's text). Refused as the upload route refuses."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise Refused(413, f"the picture is {int(length):,} bytes, over the {limit:,} a painting request may send", "send it smaller, e.g. 256 px JPEG")
    try:
        form = await request.form(max_files=1, max_fields=2)
    except Exception as exc:  # python-multipart's parse errors have no common base worth naming
        raise Refused(400, f"not a multipart request ({exc})", "send the picture as the field `file` and the settings as `settings`") from None
    file, text = form.get("file"), form.get("settings")
    if file is None or not hasattr(file, "read"):
        raise Refused(400, "no picture in the request", "send it as the form field `file`", "file")
    frame = await file.read()
    if len(frame) > limit:
        raise Refused(413, f"the picture is {len(frame):,} bytes, over the {limit:,} a painting request may send", "send it smaller, e.g. 256 px JPEG")
    if text is None:
        return {}, frame
    try:
        settings = json.loads(text if isinstance(text, str) else "", parse_constant=_not_json)
    except (ValueError, RecursionError) as exc:
        raise Refused(400, f"the field settings is not JSON ({type(exc).__name__})", 'e.g. {"net": "NAME.pt", "mix": [1, 1]}', "settings") from None
    return {"settings": settings}, frame


def _not_json(word: str) -> None:
    raise ValueError(f"{word} is not a JSON number")


def _paint(job: Job, source: Any, max_pixels: int | None, lock: threading.Lock) -> tuple[bytes, float]:
    """The painted picture as PNG bytes, and the milliseconds the network took."""
    from ..core.runner import context_for
    from ..engines.fast_paint import paint_picture, painter
    from ..media.images import as_picture, decode_image

    s = job.settings
    picture = decode_image(source, FRAME, max_pixels=max_pixels) if isinstance(source, bytes) else as_picture(source, max_pixels)
    side = s.size or max(picture.rgb.size)
    if side > MAX_LIVE_SIDE:
        raise Refused(413, f"{side} px is over the {MAX_LIVE_SIDE} px painted live",
                      f"choose a size of {MAX_LIVE_SIDE} or less here; Keep paints any size into the gallery", "size")  # fmt: skip
    ctx = context_for(s, load_backbone=False)
    with lock:
        try:
            painter(s.net, ctx.device)
        except (RuntimeError, KeyError, TypeError, ValueError) as exc:  # weights that do not fit the network they claim
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise Refused(400, f"{job.settings.net.rsplit('/', 1)[-1]} is a damaged network ({first})", "train it again, or pick another", "net") from None
        start = time.perf_counter()
        out = paint_picture(picture, s, ctx)
        took = 1000 * (time.perf_counter() - start)
    buf = io.BytesIO()
    # Fast to write beats small here: the picture goes over loopback and is shown at once.
    out.save(buf, format="PNG", compress_level=1)
    return buf.getvalue(), took
