"""PNG Info: a picture dropped on the page gives back the Job it carries, its input pictures uploaded again.

`POST /api/info` takes a picture (multipart `file`, or the bytes themselves as image/*) and
answers its embedded Job, the same Job as a form fill ready to submit (`again`, as a gallery
card's), and each input picture as an upload of this studio where the record's file can still be
reached, else `null` with a line in `missing`.

Where the studio looks, as `--from` does (core/locate.py): the recorded absolute path, the path as
typed, and the output folder. The record comes from the request, so a studio served beyond this
machine (`--host 0.0.0.0`) takes only files inside its output folder (its gallery and uploads),
never another of the server's files; on 127.0.0.1 the page is the user's own, as the command line
is, and any picture file the record names may be taken. Nothing but a picture is ever read into
an upload (Uploads.add decodes it, with the upload limits).
"""

from __future__ import annotations

import asyncio
import io
import tempfile
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.job import Job
from ..core.locate import AUTO_REGIONS, refind
from ..errors import UserError
from .errors import JSON, Refused, error, media_type
from .files import UPLOADED_MANY, UPLOADED_ONE, Gallery, StoreFull, Uploads, _defaults_as_default

NO_JOB = "this picture carries no dreamstyle settings"
MAX_READ = 50 * 1024 * 1024  # a recorded input larger than an upload may be is not taken either


def info_routes(uploads: Uploads, gallery: Gallery, out: Path, *, local: bool, max_bytes: int) -> list[Route]:
    """`POST /api/info`. `local`: the studio serves 127.0.0.1 only, so a record's files are
    looked for anywhere on this machine; otherwise only inside `out`."""

    async def info(request: Request) -> Response:
        data, name = await _picture_of(request, max_bytes)
        job = await asyncio.to_thread(_job_of, data)
        try:
            found = await asyncio.to_thread(reupload, job, name, uploads, out, local)
        except StoreFull as exc:
            return error(507, exc.message, exc.hint)
        settings = _defaults_as_default(job.settings.to_dict())
        if settings.get("net"):
            settings["net"] = gallery.network_name(settings["net"]) or settings["net"]
        again = {"engine": job.engine, "inputs": {**job.inputs, **found["inputs"]}, "settings": settings}
        return JSON({"name": name, "job": job.to_dict(), "inputs": found["inputs"], "missing": found["missing"], "again": again})

    return [Route("/api/info", info, methods=["POST"])]


async def _picture_of(request: Request, max_bytes: int) -> tuple[bytes, str]:
    """The posted picture's bytes and file name (413, 415 or 400 otherwise)."""
    kind = media_type(request)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise Refused(413, f"the picture is {int(length):,} bytes, over the studio's {max_bytes:,}", "send a smaller picture")
    if kind == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=4)
        except Exception as exc:  # python-multipart's parse errors have no common base worth naming
            raise Refused(400, f"not a multipart upload ({exc})", "send the picture as the form field `file`") from None
        file = form.get("file")
        if file is None or not hasattr(file, "read"):
            raise Refused(400, "no file in the request", "send the picture as the form field `file`")
        data, name = await file.read(), file.filename or "picture.png"
    elif kind.startswith("image/"):
        data, name = await request.body(), "picture.png"
    else:
        raise Refused(415, f"send a picture as multipart/form-data or image/png, not {kind or 'a body without a Content-Type'}",
                      "curl -F file=@PICTURE.png …/api/info")  # fmt: skip
    if len(data) > max_bytes:
        raise Refused(413, f"the picture is {len(data):,} bytes, over the studio's {max_bytes:,}", "send a smaller picture")
    return data, Path(name).name or "picture.png"


def _job_of(data: bytes) -> Job:
    """The Job a picture's bytes carry: 400 for what is not a picture, 422 for one without a Job."""
    from PIL import Image

    from ..media.images import read_settings

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.size  # noqa: B018 - the header is read: a picture, or an error here
    except Exception:  # not a picture, a damaged one, a decompression bomb: each is the file's fault
        raise Refused(400, "that is not a picture", "drop a PNG that dreamstyle made") from None
    with tempfile.TemporaryDirectory(prefix="dreamstyle-info-") as folder:
        path = Path(folder) / "picture.png"
        path.write_bytes(data)
        try:
            return Job.from_json(read_settings(path))
        except UserError as exc:
            if "no dreamstyle settings" in exc.message:
                raise Refused(422, NO_JOB, "only pictures dreamstyle made carry them; drop it on a photo box to use it as a photo") from None
            raise Refused(422, f"this picture's dreamstyle settings cannot be read here: {exc.message}", exc.hint) from None


def reupload(job: Job, name: str, uploads: Uploads, out: Path, local: bool) -> dict[str, Any]:
    """{"inputs": {input: "upload:ID" | None | [...]}, "missing": [{"input", "file", "message"}]}
    for the job's input pictures, each found again (see the module's note) and kept as an upload."""
    source = Path(out) / name  # a dropped picture most likely left the output folder
    found, _ = refind(source, job.inputs, {}, job.ran)
    inputs: dict[str, Any] = {}
    missing: list[dict[str, str]] = []
    for key in (*UPLOADED_ONE, *UPLOADED_MANY):
        value = job.inputs.get(key)
        if not isinstance(value, (str, list)) or value == "":
            continue
        try:
            got = found[key]
        except UserError:
            got = None
        recorded = value if isinstance(value, list) else [value]
        at = got if isinstance(got, list) else [got] * len(recorded)
        refs = []
        for typed, path in zip(recorded, at):
            if key == "regions" and isinstance(typed, str) and AUTO_REGIONS.fullmatch(typed):
                refs.append(typed)  # "auto:3": found by the engine, no file
                continue
            ref = _kept(typed, path, uploads, Path(out), local) if isinstance(typed, str) else None
            if ref is None and isinstance(typed, str):
                missing.append({"input": key, "file": Path(typed).name, "message": f"{Path(typed).name}: not found here — choose it again"})
            refs.append(ref)
        inputs[key] = refs if isinstance(value, list) else refs[0]
    return {"inputs": inputs, "missing": missing}


def _kept(typed: str, path: Any, uploads: Uploads, out: Path, local: bool) -> str | None:
    """The "upload:ID" of the picture `typed` names, found at `path` (or, beyond this machine, in
    the output folder by name), uploaded again unless it is an upload already; None if not here."""
    inside = out.resolve()
    candidates = [Path(path)] if isinstance(path, str) else []
    if not local:
        candidates = [p for p in candidates if _within(p, inside)] + [out / Path(typed).name]
    for candidate in candidates:
        if not candidate.is_file() or (not local and not _within(candidate, inside)) or candidate.stat().st_size > MAX_READ:
            continue
        ref = uploads.ref_of(str(candidate.resolve()))
        if ref is not None:
            return ref
        try:
            return "upload:" + uploads.add(candidate.read_bytes(), candidate.name)["id"]
        except StoreFull:
            raise
        except (UserError, OSError):
            continue  # not a picture, or unreadable: not reachable as one
    return None


def _within(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder)
    except OSError:
        return False
