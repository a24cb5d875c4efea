"""The studio's HTTP API and page: Starlette routes over the worker's queue and the output folder.

Safety as trusted local tools do it (Jupyter, ComfyUI): served on 127.0.0.1 unless told
otherwise, where a Host check stops DNS rebinding; on any other address a token is required;
state-changing requests from another Origin are refused, so a web page cannot queue jobs on a
user's machine; uploads are capped; files are named by opaque ids only.

Under bad requests and load: a job is checked in full before it is queued (jobs.py); every error
is JSON, a bug's too (errors.py); waiting jobs and event streams are capped here, kept uploads in
files.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import Interrupted, UserError
from ..media.images import DEFAULT_MAX_PIXELS
from ..core.job import Job
from .explore import explore_routes
from .explorer import Explorer
from .errors import HANDLERS, JSON, Catch, Refused, Stream, dumps, error, media_type, read_json, user_error
from .fast import fast_routes
from .hints import no_picture
from .info import info_routes
from .grids import grid_routes
from .files import Gallery, StoreFull, Uploads, gallery_id
from .jobs import checked_job, flat, keep_painted, uploads_of
from .naming import OutputNames
from .networks import Networks, PhotoSets
from .regions import painted_routes
from .queue import NotWaiting, Worker, makes_network
from .store import open_store
from .schema import schema

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_QUEUED = 100  # jobs waiting to run; one more is refused (429)
MAX_WATCHERS = 32  # event streams open on one job; one more is refused (429)
MAX_ALL_WATCHERS = 256  # event streams open on all jobs together
COOKIE = "dreamstyle_token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


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
            own = f"{request.scope.get('scheme', 'http')}://{request.headers.get('host', '')}"  # request.url fails on a bad Host
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
               max_pixels: int | None = DEFAULT_MAX_PIXELS, top_folder: Path | None = None) -> Starlette:
    """The studio over the output folder `out` (made if missing); it starts its worker thread.
    `top_folder`: where the Explore view finds a channel's strongest pictures (else the uploads)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    uploads = Uploads(out / ".uploads", max_pixels)
    gallery = Gallery(out, uploads)
    networks, photo_sets = Networks(out, uploads), PhotoSets(out, uploads)
    gallery.network_name = networks.name_of

    def runner(job: Job, *, on_event, cancel) -> str | None:
        """Runs `job`; the gallery id of its picture, or None for a network (the network list
        shows it, by the name the job's status gives)."""
        from ..core.runner import run

        picture = not makes_network(job)
        try:
            result = run(job, on_event=on_event, cancel=cancel)
        except Interrupted as exc:
            exc.gallery_id = gallery_id(Path(exc.path).name) if exc.path and picture else None
            raise
        return gallery_id(Path(result.output).name) if picture else None

    explorer = Explorer(out, top_folder, uploads.folder)
    names = OutputNames(photo_name=uploads.name_of)  # cat.jpg's style: cat-style.png, -2 when taken
    worker = Worker(runner, store=open_store(out), names=names)  # the queue kept in OUT/.dreamstyle/, taken back here
    # The upload store's cap never removes what a job the worker knows needs (to run, or to run
    # again), and removes what the gallery's pictures name only after everything else.
    uploads.needed = lambda: uploads_of([e.job for e in list(worker.entries.values()) if e.job is not None], uploads)
    uploads.named = lambda: [r for i in gallery.items() for r in flat(i["again"]["inputs"].values())]
    photo_sets.needed = lambda: [e.job.inputs.get("photos") for e in list(worker.entries.values()) if e.job is not None]

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    async def get_schema(request: Request) -> Response:
        return JSON(await asyncio.to_thread(schema))

    async def upload(request: Request) -> Response:
        if media_type(request) not in ("multipart/form-data", "application/x-www-form-urlencoded"):  # a form without a file: 400
            return error(415, f"an upload is sent as multipart/form-data, not as {media_type(request) or 'a body without a Content-Type'}",
                         "send the picture as the form field `file` (curl -F file=@PICTURE)")  # fmt: skip
        length = request.headers.get("content-length")
        if length is None:
            return error(411, "an upload needs a Content-Length", "send the file as multipart/form-data")
        if not length.isdigit():
            return error(400, f"Content-Length {length!r} is not a number")
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
        except StoreFull as exc:
            return user_error(exc, 507)
        except UserError as exc:
            return user_error(exc, 413 if "too large" in exc.message else 400)
        return JSONResponse(info, status_code=201)

    async def get_upload(request: Request) -> Response:
        try:
            return FileResponse(uploads.path(request.path_params["id"]))
        except KeyError:
            return error(404, "no such upload")

    entering = [0]  # jobs past the queue's cap check, not yet in the queue (submit writes to disk in a thread)

    @contextlib.contextmanager
    def room_in_queue():
        if len(worker.pending) + entering[0] >= MAX_QUEUED:
            raise Refused(429, f"{MAX_QUEUED} jobs are already waiting to run", "wait for some to end, or stop some (POST /api/jobs/ID/stop)",
                          headers={"Retry-After": "10"})  # fmt: skip
        entering[0] += 1
        try:
            yield
        finally:
            entering[0] -= 1

    async def submit(request: Request) -> Response:
        data = await read_json(request)  # 415, 413 or 400 when it is not a job's JSON
        job = checked_job(data, uploads, out, networks, photo_sets)  # 400 {"error", "hint", "field"} when it is not a good job
        with room_in_queue():
            job = names.claim(job)
            try:
                entry = await asyncio.to_thread(worker.submit, job)  # on disk before the 201
            except UserError as exc:
                return error(507, exc.message, exc.hint)
        await asyncio.to_thread(keep_painted, job)
        return JSON({"id": entry.id}, status_code=201)

    def entry_of(request: Request):
        return worker.get(request.path_params["id"])

    async def jobs(request: Request) -> Response:
        return JSON({"jobs": worker.listing()})

    async def job_status(request: Request) -> Response:
        try:
            e = entry_of(request)
        except KeyError:
            return error(404, "no such job")
        return JSON(e.status(worker.position(e.id)))  # JSON: a diverged loss (NaN) is sent as null

    watching: dict[str, int] = {}  # open event streams by job id (no key once none is open)

    async def events(request: Request) -> Response:
        try:
            e = entry_of(request)
        except KeyError:
            return error(404, "no such job")
        if watching.get(e.id, 0) >= MAX_WATCHERS or sum(watching.values()) >= MAX_ALL_WATCHERS:
            many = f"{MAX_WATCHERS} event streams are open on this job" if watching.get(e.id, 0) >= MAX_WATCHERS else \
                f"{MAX_ALL_WATCHERS} event streams are open"  # fmt: skip
            return error(429, many, "close one, or poll GET /api/jobs/ID instead", headers={"Retry-After": "5"})
        watching[e.id] = watching.get(e.id, 0) + 1

        def done() -> None:
            watching[e.id] -= 1
            if not watching[e.id]:
                del watching[e.id]

        async def stream():
            sent, idle = 0, 0.0
            while True:
                batch = e.events[sent:]
                for name, payload in batch:
                    yield f"event: {name}\ndata: {dumps(payload)}\n\n"
                sent += len(batch)
                idle = 0.0 if batch else idle + 0.05
                # Ended once its `end` is sent (the state turns final a moment before the worker
                # appends it), or waiting in a studio that is closing (Ctrl-C need not wait for it).
                last = e.events[sent - 1][0] if sent else None
                ended = e.finished and (last == "end" or idle >= 2)
                if sent >= len(e.events) and (ended or (worker.closing and e.state == "queued")):
                    return
                if idle >= 15:  # a comment now and then keeps proxies from closing a quiet stream
                    yield ": still here\n\n"
                    idle = 0.0
                await asyncio.sleep(0.05)

        return Stream(stream(), done, media_type="text/event-stream", headers={"cache-control": "no-store"})

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
        if e.result is None:  # 409 while it may still make one; 404 saying why once it ended without one
            return error(*no_picture(e))
        try:
            return FileResponse(gallery.path(e.result))
        except KeyError:
            return error(404, "the job's picture is no longer in the output folder")

    async def stop(request: Request) -> Response:
        try:
            return JSON({"state": worker.stop(request.path_params["id"])})
        except KeyError:
            return error(404, "no such job")

    async def move(request: Request) -> Response:
        """POST /api/jobs/{id}/move {"to": "front"|"up"|"down"|"back"|index}: the waiting line, reordered."""
        data = await read_json(request)
        try:
            return JSON({"order": await asyncio.to_thread(worker.move, request.path_params["id"], data.get("to") if isinstance(data, dict) else None)})
        except KeyError:
            return error(404, "no such job")
        except UserError as exc:
            return error(409 if isinstance(exc, NotWaiting) else 400, exc.message, exc.hint)

    async def again(request: Request) -> Response:
        """POST /api/jobs/{id}/again or /resume: a copy of an ended job, queued (see queue.py)."""
        try:
            with room_in_queue():
                entry, resumed = await asyncio.to_thread(worker.again, request.path_params["id"], request.url.path.endswith("/resume"))
        except KeyError:
            return error(404, "no such job")
        except UserError as exc:
            return error(409, exc.message, exc.hint)
        await asyncio.to_thread(keep_painted, entry.job)
        return JSONResponse({"id": entry.id, "resumed": resumed}, status_code=201)

    async def gallery_list(request: Request) -> Response:
        return JSON({"items": await asyncio.to_thread(gallery.items)})

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

    app = Starlette(lifespan=lifespan, exception_handlers=HANDLERS, routes=[
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
        Route("/api/jobs/{id}/move", move, methods=["POST"]),
        Route("/api/jobs/{id}/again", again, methods=["POST"]),
        Route("/api/jobs/{id}/resume", again, methods=["POST"]),
        Route("/api/gallery", gallery_list),
        Route("/api/gallery/{id}/image", gallery_image),
        Route("/api/gallery/{id}/input", gallery_input),
        *fast_routes(uploads, networks, max_upload_bytes, max_pixels),
        *painted_routes(uploads, gallery),
        *grid_routes(worker, uploads, out, networks, photo_sets, MAX_QUEUED, names),
        *explore_routes(explorer, uploads, lambda: worker.closing),
        *info_routes(uploads, gallery, out, local=loopback and not token, max_bytes=max_upload_bytes),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])  # fmt: skip
    app.add_middleware(Guard, token=token, loopback=loopback)
    app.add_middleware(Catch)  # outermost: whatever escapes anything else is a JSON 500, logged
    app.state.worker, app.state.gallery, app.state.uploads, app.state.out = worker, gallery, uploads, out
    app.state.networks, app.state.explorer = networks, explorer
    return app
