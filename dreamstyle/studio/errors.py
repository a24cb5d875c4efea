"""The studio's answers when something is wrong: always a JSON body, never a bare 500.

Every error is `{"error": one line, "hint": what to do or null, "field": the setting or input at
fault or null}`. A refusal the API names has its status (400, 404, 413, 415, 429, 507, …);
routes and methods the API lacks answer 404 and 405 the same way; an exception nobody expected
answers 500 with its one line while the server's log keeps the traceback, and the studio goes on.
"""

from __future__ import annotations

import json
import logging
import math
import traceback
from typing import Any, Callable

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..errors import UserError

LOG = logging.getLogger("dreamstyle.studio")
MAX_JOB_BYTES = 64 * 1024  # a job's JSON is a few hundred bytes; a body over this is refused (413)
MAX_LINE = 300  # characters of an exception's text that an answer repeats


def one_line(text: Any) -> str:
    """`text` as one printable line of at most MAX_LINE characters (user input included)."""
    words = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return words if len(words) <= MAX_LINE else words[: MAX_LINE - 1] + "…"


def dumps(content: Any) -> str:
    """JSON text that never fails on a float: NaN and ±inf (a loss that diverged, a setting read
    from a hand-edited picture) are written as null, since JSON has no word for them."""
    try:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_finite(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class JSON(JSONResponse):
    """A JSON answer written by dumps: a NaN in it is sent as null instead of failing the request."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode()


class Stream(StreamingResponse):
    """A stream that calls `done` when it ends however it ends (finished, the client gone, the
    server closing), even when it never started: what counts open streams stays true."""

    def __init__(self, content, done: Callable[[], None], **kwargs):
        super().__init__(content, **kwargs)
        self._done = done

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._done()


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def error(status: int, message: str, hint: str | None = None, field: str | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    return JSON({"error": one_line(message), "hint": None if hint is None else one_line(hint), "field": field},
                status_code=status, headers=headers)  # fmt: skip


class Refused(Exception):
    """A request the studio turns down with `status`: raised anywhere a request is handled, it is
    answered as error(status, message, hint, field)."""

    def __init__(self, status: int, message: str, hint: str | None = None, field: str | None = None,
                 headers: dict[str, str] | None = None):  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.hint, self.field, self.headers = status, message, hint, field, headers


def user_error(exc: UserError, status: int = 400) -> JSONResponse:
    """A UserError as the API says it; `field` is the setting or input at fault, where known."""
    return error(status, exc.message, exc.hint, getattr(exc, "field", None))


def with_field(exc: UserError, field: str) -> UserError:
    """`exc`, naming `field` unless it already names one."""
    if getattr(exc, "field", None) is None:
        exc.field = field
    return exc


async def read_json(request: Request, limit: int = MAX_JOB_BYTES) -> Any:
    """The request's body as JSON: sent as application/json (415), at most `limit` bytes (413),
    standard JSON (400: no NaN or Infinity, no integer of thousands of digits, not nested
    thousands deep)."""
    media = media_type(request)
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise Refused(415, f"a job is sent as JSON, not as {media or 'a body without a Content-Type'}",
                      "send it with the header Content-Type: application/json")  # fmt: skip
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise _too_big(limit) if length.isdigit() else Refused(400, f"Content-Length {length!r} is not a number")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_big(limit)
    try:
        return json.loads(bytes(body), parse_constant=_not_json)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, a huge integer, deep nesting
        raise Refused(400, f"the body is not JSON ({type(exc).__name__}: {one_line(exc)})",
                      "send a Job's JSON: engine, inputs, settings") from None  # fmt: skip


def _too_big(limit: int) -> Refused:
    return Refused(413, f"the body is over the {limit:,} bytes a job may have", "a job's JSON names pictures by upload id; upload them first")


def _not_json(word: str) -> None:
    raise ValueError(f"{word} is not a JSON number")


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return error(exc.status, exc.message, exc.hint, exc.field, exc.headers)


async def user_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UserError)
    return user_error(exc)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route 404, wrong method 405, a bad multipart body 400)
    in the API's words."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):  # no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    if exc.status_code == 404:
        return error(404, f"no such page or API route: {request.url.path}", "the studio's API is in docs/studio.md", headers=exc.headers)
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return error(405, f"{request.method} is not allowed on {request.url.path}", f"use {allowed}" if allowed else None, headers=exc.headers)
    return error(exc.status_code, str(exc.detail), headers=exc.headers)


HANDLERS = {Refused: refused, UserError: user_refused, HTTPException: http_error}


class Catch:
    """The outermost ASGI middleware: an exception no handler took becomes a JSON 500 with its
    one line, and the server logs its traceback; once an answer has started (an event stream) it
    can only be logged. A client that went away is no error at all."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watched(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except ClientDisconnect:
            return
        except Exception as exc:
            LOG.error("%s %s failed:\n%s", scope.get("method"), scope.get("path"), traceback.format_exc())
            if not started:
                first = (str(exc).strip().splitlines() or [""])[0]
                answer = error(500, f"internal error: {type(exc).__name__}: {first}", "the studio's terminal has the details; the studio goes on")
                await answer(scope, receive, send)
