"""What the studio's HTTP tests share: uploading a sample and reading a job's event stream, through
Starlette's TestClient (tests/test_studio.py, tests/test_studio_fast.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
ENDED = ("done", "stopped", "failed", "interrupted")


def upload(client, name: str) -> str:
    with open(SAMPLES / name, "rb") as f:
        res = client.post("/api/uploads", files={"file": (name, f, "image/jpeg")})
    assert res.status_code == 201, res.text
    return res.json()["id"]


def events(client, jid: str) -> list[tuple[str, dict]]:
    """The job's whole event stream, read until it ends."""
    return stream(client, f"/api/jobs/{jid}/events")


def stream(client, url: str) -> list[tuple[str, dict]]:
    """An event stream's (name, data) pairs, read until it ends."""
    seen, name = [], None
    with client.stream("GET", url) as res:
        assert res.headers["content-type"].startswith("text/event-stream")
        for line in res.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                seen.append((name, json.loads(line[6:])))
    return seen


def wait(client, jid: str, until=lambda s: s["state"] in ENDED, timeout: float = 120) -> dict:
    """The job's status once `until(status)` holds (by default: once it has ended)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.get(f"/api/jobs/{jid}").json()
        if until(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {jid} never got there: {status}")
