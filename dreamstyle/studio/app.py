"""The studio's HTTP API and page: Starlette routes over the worker's queue and the output folder.

Safety as trusted local tools do it (Jupyter, ComfyUI): served on 127.0.0.1 unless told
otherwise, where a Host check stops DNS rebinding; on any other address a token is required;
state-changing requests from another Origin are refused, so a web page cannot queue jobs on a
user's machine; uploads are capped; files are named by opaque ids only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import Interrupted, UserError
from ..media.images import DEFAULT_MAX_PIXELS
from ..core import registry
from ..core.job import Job
from ..core.settings import INIT_WORDS
from .files import Gallery, Uploads, gallery_id
from .queue import Worker
from .schema import STUDIO_ENGINES, schema

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
COOKIE = "dreamstyle_token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Settings that would name a file on the server: the page names files by upload id instead.
FILE_SETTINGS = ("guide", "init")


def error(status: int, message: str, hint: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "hint": hint}, status_code=status)


def hostname(host: str) -> str:
    """The name in a Host header, without the port: "[::1]:7860" -> "[::1]"."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """ASGI middleware: Host check on loopback, token elsewhere, same-origin for changes."""

    def __init__(self, app, token: str | None, loopback: bool):
        self.app, self.token, self.loopback = app, token, loopback

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        refused = self.refuse(request)
        if refused is not None:
            return await refused(scope, receive, send)
        if self.token and request.query_params.get("token") == self.token:
            # The URL printed once carries the token; from then on a cookie does, so it never
            # has to stay in the address bar or the history.
            async def send_with_cookie(message):
                if message["type"] == "http.response.start":
                    cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                    message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
                await send(message)

            return await self.app(scope, receive, send_with_cookie)
        return await self.app(scope, receive, send)

    def refuse(self, request: Request) -> Response | None:
        host = hostname(request.headers.get("host", ""))
        if self.loopback and host not in LOOPBACK_NAMES:
            return error(403, f"host {host!r} is not this machine", "open the studio at the address it printed")
        if self.token and not self._has_token(request):
            return error(403, "this studio needs its token", "open the URL with ?token=… that `dreamstyle studio` printed")
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("origin")
            own = f"{request.url.scheme}://{request.headers.get('host', '')}"
            if (origin is not None and origin != own) or request.headers.get("sec-fetch-site") == "cross-site":
                return error(403, "requests from another site are refused", "use the studio's own page, or a script without an Origin header")
        return None

    def _has_token(self, request: Request) -> bool:
        offered = [request.cookies.get(COOKIE, ""), request.query_params.get("token", "")]
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            offered.append(auth[7:])
        return any(hmac.compare_digest(o, self.token) for o in offered if o)


def create_app(out: Path, *, token: str | None = None, loopback: bool = True, max_upload_bytes: int = MAX_UPLOAD_BYTES,
               max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Starlette:
    """The studio over the output folder `out` (made if missing); it starts its worker thread."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    uploads = Uploads(out / ".uploads", max_pixels)
    gallery = Gallery(out, uploads)

    def runner(job: Job, *, on_event, cancel) -> str | None:
        from ..core.runner import run

        try:
            result = run(job, on_event=on_event, cancel=cancel)
        except Interrupted as exc:
            exc.gallery_id = gallery_id(Path(exc.path).name) if exc.path else None
            raise
        return gallery_id(Path(result.output).name)

    worker = Worker(runner)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    async def get_schema(request: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(schema))

    async def upload(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is None:
            return error(411, "an upload needs a Content-Length", "send the file as multipart/form-data")
        if int(length) > max_upload_bytes:
            return error(413, f"the upload is {int(length):,} bytes, over the studio's {max_upload_bytes:,}", "send a smaller picture")
        try:
            form = await request.form(max_files=1, max_fields=4)
        except Exception as exc:  # python-multipart's parse errors have no common base worth naming
            return error(400, f"not a multipart upload ({exc})", "send the picture as the form field `file`")
        file = form.get("file")
        if file is None or not hasattr(file, "read"):
            return error(400, "no file in the upload", "send the picture as the form field `file`")
        data = await file.read()
        if len(data) > max_upload_bytes:
            return error(413, f"the upload is {len(data):,} bytes, over the studio's {max_upload_bytes:,}", "send a smaller picture")
        try:
            info = await asyncio.to_thread(uploads.add, data, file.filename or "upload")
        except UserError as exc:
            return error(413 if "too large" in exc.message else 400, exc.message, exc.hint)
        return JSONResponse(info, status_code=201)

    async def get_upload(request: Request) -> Response:
        try:
            return FileResponse(uploads.path(request.path_params["id"]))
        except KeyError:
            return error(404, "no such upload")

    async def submit(request: Request) -> Response:
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error(400, "the body is not JSON", "send a Job's JSON: engine, inputs, settings")
        try:
            job = _job_from(data, uploads, out)
        except UserError as exc:
            return error(400, exc.message, exc.hint)
        entry = worker.submit(job)
        return JSONResponse({"id": entry.id}, status_code=201)

    def entry_of(request: Request):
        return worker.get(request.path_params["id"])

    async def jobs(request: Request) -> Response:
        return JSONResponse({"jobs": worker.listing()})

    async def job_status(request: Request) -> Response:
        try:
            e = entry_of(request)
        except KeyError:
            return error(404, "no such job")
        return JSONResponse(e.status(worker.position(e.id)))

    async def events(request: Request) -> Response:
        try:
            e = entry_of(request)
        except KeyError:
            return error(404, "no such job")

        async def stream():
            sent, idle = 0, 0.0
            while True:
                batch = e.events[sent:]
                for name, payload in batch:
                    yield f"event: {name}\ndata: {json.dumps(payload)}\n\n"
                sent += len(batch)
                if e.finished and sent >= len(e.events):
                    return
                idle = 0.0 if batch else idle + 0.05
                if idle >= 15:  # a comment now and then keeps proxies from closing a quiet stream
                    yield ": still here\n\n"
                    idle = 0.0
                await asyncio.sleep(0.05)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-store"})

    async def preview(request: Request) -> Response:
        try:
            e = entry_of(request)
        except KeyError:
            return error(404, "no such job")
        if e.preview is None:
            return error(404, "no preview yet", "wait for the first steps")
        return Response(e.preview, media_type="image/png", headers={"cache-control": "no-store"})

    async def result(request: Request) -> Response:
        try:
            e = entry_of(request)
        except KeyError:
            return error(404, "no such job")
        if e.result is None:
            return error(409, f"the job is {e.state}, with no picture yet", "wait for it to end")
        try:
            return FileResponse(gallery.path(e.result))
        except KeyError:
            return error(404, "the job's picture is no longer in the output folder")

    async def stop(request: Request) -> Response:
        try:
            return JSONResponse({"state": worker.stop(request.path_params["id"])})
        except KeyError:
            return error(404, "no such job")

    async def gallery_list(request: Request) -> Response:
        return JSONResponse({"items": await asyncio.to_thread(gallery.items)})

    async def gallery_image(request: Request) -> Response:
        try:
            path = gallery.path(request.path_params["id"])
        except KeyError:
            return error(404, "no such picture")
        attach = {"content_disposition_type": "attachment", "filename": path.name} if request.query_params.get("download") else {}
        return FileResponse(path, **attach)

    async def gallery_input(request: Request) -> Response:
        try:
            return FileResponse(await asyncio.to_thread(gallery.input_path, request.path_params["id"]))
        except KeyError:
            return error(404, "the picture's input is not an upload of this studio")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await asyncio.to_thread(worker.close)

    app = Starlette(lifespan=lifespan, routes=[
        Route("/", page),
        Route("/api/schema", get_schema),
        Route("/api/uploads", upload, methods=["POST"]),
        Route("/api/uploads/{id}", get_upload),
        Route("/api/jobs", submit, methods=["POST"]),
        Route("/api/jobs", jobs),
        Route("/api/jobs/{id}", job_status),
        Route("/api/jobs/{id}/events", events),
        Route("/api/jobs/{id}/preview", preview),
        Route("/api/jobs/{id}/result", result),
        Route("/api/jobs/{id}/stop", stop, methods=["POST"]),
        Route("/api/gallery", gallery_list),
        Route("/api/gallery/{id}/image", gallery_image),
        Route("/api/gallery/{id}/input", gallery_input),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])  # fmt: skip
    app.add_middleware(Guard, token=token, loopback=loopback)
    app.state.worker, app.state.gallery, app.state.uploads, app.state.out = worker, gallery, uploads, out
    return app


def _job_from(data: Any, uploads: Uploads, out: Path) -> Job:
    """A Job from the page's JSON: its inputs name uploads by id; defaults < preset < settings;
    the output is a new file in the output folder."""
    from ..core.presets import merge
    from ..core.settings import build

    if not isinstance(data, dict):
        raise UserError("a job is a JSON object", "send engine, inputs and settings")
    engine = data.get("engine")
    if engine not in STUDIO_ENGINES:
        raise UserError(f"the studio does not run {engine!r}", "use one of: " + ", ".join(STUDIO_ENGINES))
    if data.get("motion") is not None:
        raise UserError("the studio makes pictures, not videos", "run clips and zooms with the command line")
    settings = data.get("settings") or {}
    inputs = data.get("inputs") or {}
    if not isinstance(settings, dict) or not isinstance(inputs, dict):
        raise UserError("inputs and settings must be JSON objects", 'e.g. {"inputs": {"image": "upload:ID"}, "settings": {"steps": 20}}')
    if settings.get("weights"):
        raise UserError("the studio does not load weights files named by a page", "start it where the weights are cached, or use the command line's --weights")
    settings = {k: v for k, v in settings.items() if k != "quiet"}
    for key in FILE_SETTINGS:
        value = settings.get(key)
        if isinstance(value, str) and (key == "guide" or value not in INIT_WORDS):
            settings[key] = uploads.resolve(value, f"--{key}")
    for key in ("image", "content"):
        if key in inputs:
            inputs[key] = uploads.resolve(inputs[key], key)
    if "styles" in inputs:
        styles = inputs["styles"] if isinstance(inputs["styles"], list) else [inputs["styles"]]
        inputs["styles"] = [uploads.resolve(s, "styles") for s in styles]
    spec = registry.engine(engine)
    cls = spec.settings
    values = merge(spec.preset, data.get("preset") or None, settings, cls.model)
    job = Job(engine, inputs, build(cls, {**values, "quiet": True}), output=str(out / f"{engine.replace('.', '-')}-{secrets.token_hex(4)}.png"))
    registry.check(job)
    return job

