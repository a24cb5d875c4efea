"""The studio's Explore view: its bookmarkable pages (/explore/MODEL/LAYER/CHANNEL) and the API
they read (/api/explore/…), over the explorer's work (explorer.py).

Every page is the same small HTML file, which reads the path and asks the API; a path naming a
model, layer or channel that does not exist is answered here with a 404 page that says what does
(JSON under /api/). Channels' pictures arrive as an event stream, one event per picture as it is
ready, the way a job's previews do. Nothing in a URL is a path on the server: top images come from
the folder the studio was started with, each named by an opaque id.
"""

from __future__ import annotations

import asyncio
import html
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from ..errors import UserError, did_you_mean
from .errors import JSON, Refused, Stream, dumps, error, read_json, user_error
from .explorer import KINDS, Explorer, Unknown, channels_of, suggestion
from .files import Uploads
from .regions import named_photo

STATIC = Path(__file__).parent / "static"
MAX_STREAMS = 16  # explore event streams open at once; one more is refused (429)
MAX_COUNT = 64  # channels one stream asks for
SIZES = (32, 512)  # smallest and largest picture side a request may ask for


def explore_routes(explorer: Explorer, uploads: Uploads, closing=lambda: False) -> list[Route]:
    streams = [0]
    # The streams' renders wait for the network in threads of their own, so however many pages
    # wait, the studio's other work (uploads, the gallery) still has the shared threads.
    workers = ThreadPoolExecutor(MAX_STREAMS, thread_name_prefix="explore")

    async def resolve(request: Request) -> dict:
        """The model, layer and channel the path names, checked (Unknown when one is not)."""
        p = request.path_params
        found: dict = {"model": p["model"]}
        if "layer" in p:
            found["row"] = await asyncio.to_thread(explorer.row, p["model"], p["layer"])
            found["layer"] = p["layer"]
        else:
            await asyncio.to_thread(explorer.index, p["model"])
        if "channel" in p:
            found["channel"] = explorer.channel(p["model"], p["layer"], p["channel"])
        return found

    async def checked(request: Request) -> dict:
        """resolve's answer, or a 404 JSON error that says what exists."""
        try:
            return await resolve(request)
        except Unknown as exc:
            raise Refused(404, str(exc), suggestion(exc), exc.what) from None  # what exists in the hint: every error is {error, hint, field}

    async def page(request: Request) -> Response:
        if request.path_params:
            try:
                await resolve(request)
            except Unknown as exc:
                return not_found_page(request, exc)
        return FileResponse(STATIC / "explore.html", headers={"cache-control": "no-store"})

    async def models(request: Request) -> Response:
        return JSON({"models": await asyncio.to_thread(explorer.models), "top_folder": explorer.top_folder_now() is not None})

    async def model_index(request: Request) -> Response:
        await checked(request)
        index = explorer.index(request.path_params["model"])
        return JSON({**index, "weights": Path(index["weights"]).name if index.get("weights") else None})  # a name, not the server's path

    async def layer_info(request: Request) -> Response:
        found = await checked(request)
        model, layer = found["model"], found["layer"]
        index = explorer.index(model)
        names = [r["name"] for r in index["layers"]]
        at = names.index(layer)
        kernels = f"/api/explore/{quote(model)}/{quote(layer)}/kernels.png" if layer == index.get("first_conv") and index.get("renders") else None
        return JSON({"model": model, "layer": found["row"], "channels": channels_of(found["row"]), "kernels": kernels,
                     "previous": names[at - 1] if at else None, "next": names[at + 1] if at + 1 < len(names) else None,
                     "trained": index.get("trained"), "renders": index.get("renders", True), "note": index.get("note") or explorer.note})  # fmt: skip

    async def unit_info(request: Request) -> Response:
        found = await checked(request)
        model, layer, channel = found["model"], found["layer"], found["channel"]
        folder, size = explorer.top_folder_now(), number(request.query_params, "size", 96, *SIZES)
        commands = {kind: explorer.command(model, layer, channel, kind, size) for kind in KINDS}
        if folder is not None:
            commands["top"] = explorer.command(model, layer, channel, "top", size, str(folder))
        index = explorer.index(model)
        return JSON({"model": model, "layer": layer, "channel": channel, "channels": channels_of(found["row"]), "commands": commands,
                     "top_folder": folder.name if folder is not None else None, "trained": index.get("trained"),
                     "renders": index.get("renders", True), "note": index.get("note")})  # fmt: skip

    async def events(request: Request) -> Response:
        """One `picture` event per channel as its picture is ready, then `end`."""
        found = await checked(request)
        model, layer, count = found["model"], found["layer"], channels_of(found["row"])
        q = request.query_params
        kind = q.get("kind", "channel")
        if kind not in KINDS:
            raise Refused(400, f"kind {kind!r} is not a kind of picture", f"use {', '.join(KINDS)}", "kind")
        start, many, size = number(q, "start", 0, 0, max(count - 1, 0)), number(q, "count", 16, 1, MAX_COUNT), number(q, "size", 96, *SIZES)
        channels = list(range(start, min(start + many, count)))
        if streams[0] >= MAX_STREAMS:
            return error(429, f"{MAX_STREAMS} explore streams are open", "close a tab of the Explore view", headers={"Retry-After": "5"})
        streams[0] += 1
        ready: list[tuple[str, dict]] = []
        cancel, over = threading.Event(), threading.Event()

        def on_done(channel: int, path: Path) -> None:
            url = f"/api/explore/{quote(model)}/{quote(layer)}/{channel}/image?kind={kind}&size={size}"
            ready.append(("picture", {"channel": channel, "kind": kind, "url": url}))

        def work() -> None:
            index = explorer.index(model)
            if not index.get("renders", True):  # random weights, or a network the studio does not load
                ready.append(("note", {"message": index.get("note") or f"{model} has no pictures to show"}))
            try:
                explorer.render(model, layer, channels, kind, size, on_done, cancel)
            except UserError as exc:
                ready.append(("failed", {"error": exc.message, "hint": exc.hint}))
            except Exception as exc:  # a bug: said on the page and in the terminal, the studio goes on
                from .errors import LOG

                LOG.exception("rendering %s %s failed", model, layer)
                ready.append(("failed", {"error": f"internal error: {type(exc).__name__}: {exc}", "hint": "the studio's terminal has the details"}))
            finally:
                if explorer.note:
                    ready.append(("note", {"message": explorer.note}))
                over.set()

        async def stream():
            task = asyncio.get_running_loop().run_in_executor(workers, work)
            sent = 0
            try:
                yield f"event: start\ndata: {dumps({'channels': channels, 'kind': kind, 'size': size})}\n\n"
                while True:
                    batch = ready[sent:]
                    for name, payload in batch:
                        yield f"event: {name}\ndata: {dumps(payload)}\n\n"
                    sent += len(batch)
                    if (over.is_set() and sent >= len(ready)) or closing():
                        yield f"event: end\ndata: {dumps({'count': sum(1 for n, _ in ready if n == 'picture')})}\n\n"
                        return
                    await asyncio.sleep(0.05)
            finally:
                cancel.set()  # the page left: the renders stop after their batch
                del task

        def done() -> None:
            streams[0] -= 1

        return Stream(stream(), done, media_type="text/event-stream", headers={"cache-control": "no-store"})

    async def image(request: Request) -> Response:
        found = await checked(request)
        q = request.query_params
        kind = q.get("kind", "channel")
        path = explorer.image(found["model"], found["layer"], found["channel"], kind, number(q, "size", 96, *SIZES))
        if path is None:
            return error(404, "that picture is not made yet", "open its layer's or channel's page to make it")
        return FileResponse(path, media_type="image/png", headers={"cache-control": "no-cache"})

    async def kernels(request: Request) -> Response:
        found = await checked(request)
        index = explorer.index(found["model"])
        if found["layer"] != index.get("first_conv") or not index.get("renders"):
            return error(404, f"{found['layer']} is not {found['model']}'s first convolution", f"its kernels are at its first convolution, {index.get('first_conv')}")
        png = await asyncio.to_thread(explorer.kernels, request.path_params["model"])
        return Response(png, media_type="image/png", headers={"cache-control": "no-cache"})

    async def top(request: Request) -> Response:
        found = await checked(request)
        try:
            shown = await asyncio.to_thread(explorer.top, found["model"], found["layer"], found["channel"])
        except UserError as exc:
            return user_error(exc, 400)
        folder = explorer.top_folder_now()
        images = [{**t, "url": f"/api/explore/top/{t['id']}"} for t in shown["images"]]
        return JSON({**shown, "folder": folder.name if folder else None, "images": images})

    async def top_image(request: Request) -> Response:
        try:
            return FileResponse(explorer.top_image(request.path_params["id"]))
        except KeyError:
            return error(404, "no such top image", "open a channel's page to list them")

    async def photo(request: Request) -> Response:
        found = await checked(request)
        data = await read_json(request)
        path = named_photo(data if isinstance(data, dict) else {}, uploads)
        try:
            png = await asyncio.to_thread(explorer.on_photo, found["model"], found["layer"], found["channel"], path)
        except UserError as exc:
            return user_error(exc, 400)
        return Response(png, media_type="image/png", headers={"cache-control": "no-store"})

    unit = "/api/explore/{model}/{layer}/{channel}"
    return [
        Route("/explore", page),
        Route("/explore/{model}", page),
        Route("/explore/{model}/{layer}", page),
        Route("/explore/{model}/{layer}/{channel}", page),
        Route("/api/explore", models),
        Route("/api/explore/top/{id}", top_image),
        Route("/api/explore/{model}", model_index),
        Route("/api/explore/{model}/{layer}", layer_info),
        Route("/api/explore/{model}/{layer}/events", events),
        Route("/api/explore/{model}/{layer}/kernels.png", kernels),
        Route(unit, unit_info),
        Route(unit + "/image", image),
        Route(unit + "/top", top),
        Route(unit + "/photo", photo, methods=["POST"]),
    ]


def number(query, name: str, default: int, low: int, high: int) -> int:
    """The whole number `name` in the query, from `low` to `high` (400 otherwise)."""
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise Refused(400, f"{name} {text[:40]!r} is not a whole number from {low} to {high}", f"e.g. {name}={default}", name)
    return int(text)


def not_found_page(request: Request, exc: Unknown) -> HTMLResponse:
    """A 404 page that says what the path named, what exists, and links to each."""
    parts = [quote(p) for p in request.url.path.split("/")[2:]]
    up = "/explore" + "".join(f"/{p}" for p in parts[: {"model": 0, "layer": 1, "channel": 2}[exc.what]])
    if exc.what == "channel":
        links = ""
    else:
        links = "<ul class='known'>" + "".join(f"<li><a href='{up}/{quote(k)}'>{html.escape(k)}</a></li>" for k in exc.known[:300]) + "</ul>"
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not found · dreamstyle explore</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/static/app.css"><link rel="stylesheet" href="/static/explore.css"></head>
<body><header class="top"><h1>dreamstyle <span>explore</span></h1><nav class="views"><a href="/">Studio</a> <a href="/explore">Explore</a></nav></header>
<main class="explore notfound" data-testid="not-found"><h2>{html.escape(str(exc))}</h2><p>{html.escape(did_you_mean(exc.name, exc.known) if exc.what != "channel" else exc.hint)}</p>
<p><a href="{up}" data-testid="up">Back to {html.escape(up)}</a>{"" if exc.what == "channel" else " — or pick one of these:"}</p>{links}</main></body></html>"""
    return HTMLResponse(body, status_code=404, headers={"cache-control": "no-store"})
