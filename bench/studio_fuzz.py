"""`python -m bench.studio_fuzz`: a real studio under fuzzed requests, event watchers and gallery readers.

A `dreamstyle studio` subprocess on 127.0.0.1 only (a free port, a temporary output folder, the
CPU, offline). A long dream job (the "blocker") holds its worker, so a fuzzed job the checks accept
waits in the queue and is stopped there, never run. Then, all at once:

- `--requests` (5,000) fuzzed requests from `--senders` concurrent clients: valid style and dream
  jobs with one or two settings, inputs or keys replaced (wrong types, out of range, control
  characters, huge numbers, null, nested objects, unknown keys), bodies that are not JSON, other
  content types, uploads of random bytes, random methods, paths and ids on every route;
- `--watchers` (30) event streams on the running job, read for the whole run;
- `--readers` (30) clients reading the gallery over and over.

Then as many fuzzed requests again, and the counts: answers by status, answers of 500 or more,
dropped connections (a request that got no answer), errors without a JSON body, watchers and
gallery reads served, and the studio's resident memory (VmRSS of /proc/PID/status) at start, once
a job runs (the model and torch loaded), after the first `--requests` and after twice as many.
Last, the blocker is stopped and a tiny job must run to its end. Prints a summary and writes
bench/results/studio-fuzz-<cpu>-<date>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLES = ROOT / "samples"
LITE = {"model": "efficientnet-lite0", "size": 64, "steps": 2}
BAD = [None, True, False, 0, -1, 1, 2**63, -(2**70), 10**30, 1e308, -1e308, 5e-324, 0.5, "", "auto", "vgg19", "\u0000", "\n",
       "\x1b[31m", "1e309", "NaN", "-1", "efficientnet-lite0", "upload:0123456789abcdef", "../../etc/passwd", "x" * 5000,
       [], [1, 2], ["a", None], {}, {"a": 1}, {"a": {"b": [1, {"c": None}]}}, [[[[[]]]]]]  # fmt: skip
ROUTES = ["/", "/api/schema", "/api/uploads", "/api/uploads/{id}", "/api/jobs", "/api/jobs/{id}", "/api/jobs/{id}/events",
          "/api/jobs/{id}/preview", "/api/jobs/{id}/result", "/api/jobs/{id}/stop", "/api/jobs/{id}/again",
          "/api/jobs/{id}/resume", "/api/gallery", "/api/gallery/{id}/image", "/api/gallery/{id}/input", "/static/{id}",
          "/static/app.js", "/{id}", "/api/{id}", "/api/jobs/{id}/{id}"]  # fmt: skip
METHODS = ["GET", "GET", "GET", "HEAD", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
TYPES = ["application/json"] * 6 + ["application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded",
                                    "multipart/form-data; boundary=x", "application/merge-patch+json", "", "image/png"]  # fmt: skip
SETTINGS = {  # the settings fields of the two engines (registry: style, dream), fuzzed by name
    "style": ["model", "size", "steps", "seed", "device", "precision", "content_weight", "style_weight", "tv_weight", "optimizer",
              "style_scale", "preserve_color", "style_layers", "content_layers", "scales", "style_blend", "init", "lr", "save_every",
              "pooling", "tile", "max_pixels", "deterministic"],
    "dream": ["model", "size", "steps", "seed", "device", "precision", "octaves", "octave_scale", "layers", "channels", "jitter",
              "smooth", "norm", "guide", "lr", "tile", "save_every", "max_pixels"],
}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS), in MB; psutil is not needed for one number."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Fuzz:
    """Fuzzed requests from a seeded generator: (method, path, body bytes or None, headers)."""

    def __init__(self, seed: int, photo: str, painting: str, png: bytes):
        self.rng, self.png = random.Random(seed), png
        self.jobs = [{"engine": "style", "inputs": {"content": f"upload:{photo}", "styles": [f"upload:{painting}"]}, "settings": dict(LITE)},
                     {"engine": "dream", "inputs": {"image": f"upload:{photo}"}, "settings": {**LITE, "octaves": 1}}]  # fmt: skip
        self.ids = [photo, painting, "0123456789abcdef"]  # grows with the ids the studio gives

    def text(self, n: int = 12) -> str:
        return "".join(chr(self.rng.choice([self.rng.randrange(0, 0x80), self.rng.randrange(0x80, 0x3000)])) for _ in range(self.rng.randrange(n)))

    def value(self):
        return self.rng.choice(BAD) if self.rng.random() < 0.8 else self.text()

    def raw(self) -> bytes:
        return self.rng.choice([os.urandom(self.rng.randrange(300)), self.text(80).encode(), b"", b"null", b"[]",
                                b"1" * 5000, b"[" * 50_000, b"[" * 70_000, b'{"engine": NaN}', b'{"engine": "dream"',
                                json.dumps({"engine": "dream"}).encode("utf-16")])  # fmt: skip

    def job(self) -> tuple[str, str, bytes | None, dict]:
        body = json.loads(json.dumps(self.rng.choice(self.jobs)))
        where = self.rng.choice(["settings"] * 4 + ["inputs", "top"])
        for _ in range(self.rng.randint(1, 2)):
            if where == "settings":
                key = self.rng.choice(SETTINGS[body["engine"]]) if self.rng.random() < 0.9 else self.text()
                body["settings"][key] = self.value()
            elif where == "inputs":
                body["inputs"][self.rng.choice([*body["inputs"], "image", "styles", "layer", self.text(6)])] = self.value()
            else:
                body[self.rng.choice(["engine", "inputs", "settings", "preset", "motion", "output", self.text(6)])] = self.value()
        content = self.raw() if self.rng.random() < 0.1 else json.dumps(body).encode()
        ctype = self.rng.choice(TYPES)
        return "POST", "/api/jobs", content, {"content-type": ctype} if ctype else {}

    def route(self) -> tuple[str, str, bytes | None, dict]:
        path = self.rng.choice(ROUTES)
        while "{id}" in path:
            ident = self.rng.choice([self.rng.choice(self.ids), "".join(self.rng.choice("0123456789abcdef") for _ in range(16)),
                                     self.text(20), "..", "%2e%2e", "%00", "a" * 3000])  # fmt: skip
            path = path.replace("{id}", "".join(c if c.isalnum() or c in "-_.%" else f"%{ord(c) & 0xFF:02X}" for c in ident), 1)
        method = self.rng.choice(METHODS)
        query = self.rng.choice(["", "", "?download=1", "?token=x"])
        body = self.raw() if method in ("POST", "PUT", "PATCH") and self.rng.random() < 0.5 else None
        ctype = self.rng.choice(TYPES)
        return method, path + query, body, {"content-type": ctype} if ctype else {}

    def upload(self) -> tuple[str, str, bytes | None, dict]:
        data = self.rng.choice([self.png, os.urandom(self.rng.randrange(200)), self.png[:40], b"GIF89a" + b"\xff" * 30])
        boundary = "fuzz" + str(self.rng.randrange(10**9))
        name = self.text(30).replace('"', "'").replace("\r", " ").replace("\n", " ")
        field = self.rng.choice(["file", "file", "files"])
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()  # fmt: skip
        if self.rng.random() < 0.1:
            body = body[: self.rng.randrange(len(body))]  # cut short
        return "POST", "/api/uploads", body, {"content-type": f"multipart/form-data; boundary={boundary}"}

    def next(self) -> tuple[str, str, bytes | None, dict]:
        return self.rng.choices([self.job, self.route, self.upload], weights=[5, 4, 1])[0]()


class Tally:
    def __init__(self):
        self.status, self.dropped, self.not_json, self.requests, self.fuzzed, self.unsendable = Counter(), Counter(), [], 0, 0, 0
        self.server_errors: list[str] = []

    def answer(self, method: str, path: str, res) -> None:
        self.requests += 1
        self.status[res.status_code] += 1
        if res.status_code >= 500:
            self.server_errors.append(f"{res.status_code} {method} {path[:80]}: {res.text[:200]}")
        if res.status_code >= 400 and method != "HEAD":
            try:
                body = res.json()
                ok = isinstance(body, dict) and isinstance(body.get("error"), str) and {"error", "hint", "field"} <= set(body)
            except ValueError:
                ok = False
            if not ok:
                self.not_json.append(f"{res.status_code} {method} {path[:80]}: {res.text[:120]!r}")

    def drop(self, method: str, path: str, exc: Exception) -> None:
        self.requests += 1
        self.dropped[f"{type(exc).__name__}: {method} {path[:60]}"] += 1


async def run(args) -> dict:
    import httpx2 as httpx

    out = Path(tempfile.mkdtemp(prefix="studio-fuzz-"))
    port = free_port()
    env = {**os.environ, "DREAMSTYLE_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": str(args.threads)}
    cmd = [sys.executable, "-c", "import sys; from dreamstyle.cli import main; sys.argv = ['dreamstyle', *sys.argv[1:]]; main()",
           "studio", "--out", str(out), "--host", "127.0.0.1", "--port", str(port), "--no-open"]  # fmt: skip
    log = open(out.parent / f"{out.name}.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    tally, mem, t0, alive = Tally(), {}, time.time(), False
    limits = httpx.Limits(max_connections=args.watchers + args.readers + args.senders + 10, max_keepalive_connections=100)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60, read=60), limits=limits) as client:
            deadline = time.time() + 60
            while True:
                try:
                    if (await client.get("/api/schema")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the studio did not start; its log: {log.name}")
                await asyncio.sleep(0.2)
            mem["start"] = rss_mb(server.pid)

            async def upload(name: str) -> str:
                res = await client.post("/api/uploads", files={"file": (name, (SAMPLES / name).read_bytes(), "image/jpeg")})
                assert res.status_code == 201, res.text
                return res.json()["id"]

            photo, painting = await upload("cat.jpg"), await upload("swirls.jpg")
            res = await client.post("/api/jobs", json={"engine": "dream", "inputs": {"image": f"upload:{photo}"},
                                                       "settings": {"model": "efficientnet-lite0", "size": 48, "steps": 100_000, "octaves": 1}})  # fmt: skip
            blocker = res.json()["id"]
            while (status := (await client.get(f"/api/jobs/{blocker}")).json())["step"] < 3:
                assert status["state"] in ("queued", "running"), status
                await asyncio.sleep(0.1)
            mem["warm"] = rss_mb(server.pid)

            from PIL import Image

            buf = io.BytesIO()
            Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, format="PNG")
            fuzz = Fuzz(args.seed, photo, painting, buf.getvalue())
            done = asyncio.Event()

            async def send(method, path, body, headers) -> None:
                tally.fuzzed += 1
                try:
                    res = await client.request(method, path, content=body, headers=headers)
                except (httpx.InvalidURL, httpx.LocalProtocolError):  # the client would not send it: no request
                    tally.unsendable += 1
                    return
                except httpx.TransportError as exc:
                    tally.drop(method, path, exc)
                    return
                tally.answer(method, path, res)
                if res.status_code == 201 and path.startswith("/api/jobs") and method == "POST":
                    jid = res.json()["id"]
                    fuzz.ids.append(jid)
                    stop = await client.post(f"/api/jobs/{jid}/stop")  # waits behind the blocker: dropped unrun
                    tally.answer("POST", f"/api/jobs/{jid}/stop", stop)
                elif res.status_code == 201 and path == "/api/uploads":
                    fuzz.ids.append(res.json()["id"])

            async def sender(n: int) -> None:
                for _ in range(n):
                    await send(*fuzz.next())

            watchers = {"opened": 0, "events": 0, "ended": 0, "refused": 0, "dropped": 0}

            async def watcher() -> None:
                try:
                    async with client.stream("GET", f"/api/jobs/{blocker}/events", timeout=httpx.Timeout(60, read=None)) as res:
                        if res.status_code != 200:
                            watchers["refused"] += 1
                            return
                        watchers["opened"] += 1
                        async for line in res.aiter_lines():
                            if line.startswith("event: "):
                                watchers["events"] += 1
                                if line == "event: end":
                                    watchers["ended"] += 1
                except httpx.TransportError:
                    watchers["dropped"] += 1

            readers = Counter()

            async def reader() -> None:
                while not done.is_set():
                    try:
                        res = await client.get("/api/gallery")
                    except httpx.TransportError as exc:
                        tally.drop("GET", "/api/gallery", exc)
                        readers["dropped"] += 1
                        continue
                    tally.answer("GET", "/api/gallery", res)
                    readers["served" if res.status_code == 200 else f"status {res.status_code}"] += 1
                    await asyncio.sleep(0.05)

            watching = [asyncio.create_task(watcher()) for _ in range(args.watchers)]
            reading = [asyncio.create_task(reader()) for _ in range(args.readers)]
            per = args.requests // args.senders
            await asyncio.gather(*(sender(per) for _ in range(args.senders)))
            first = {"fuzzed": tally.fuzzed, "requests": tally.requests, "status": dict(tally.status), "dropped": sum(tally.dropped.values()),
                     "not_json": len(tally.not_json), "server_errors": len(tally.server_errors)}  # fmt: skip
            mem["after_first"] = rss_mb(server.pid)
            done.set()
            await asyncio.gather(*reading)
            reads = dict(readers)
            await asyncio.gather(*(sender(per) for _ in range(args.senders)))  # as many again
            mem["after_all"] = rss_mb(server.pid)
            # The end: the blocker stops, every watcher sees its end, and a tiny job still runs.
            for j in (await client.get("/api/jobs")).json()["jobs"]:
                if j["state"] == "queued":
                    await client.post(f"/api/jobs/{j['id']}/stop")
            await client.post(f"/api/jobs/{blocker}/stop")
            await asyncio.wait_for(asyncio.gather(*watching), 120)
            res = await client.post("/api/jobs", json=fuzz.jobs[1])
            good = res.json()["id"]
            while (status := (await client.get(f"/api/jobs/{good}")).json())["state"] in ("queued", "running"):
                await asyncio.sleep(0.1)
            alive = server.poll() is None
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()
        shutil.rmtree(out, ignore_errors=True)
    if tally.server_errors or tally.dropped or not alive:
        print(f"the studio's log: {log.name}")
    else:
        Path(log.name).unlink(missing_ok=True)
    return {
        "requests": tally.requests, "fuzzed": tally.fuzzed, "unsendable": tally.unsendable, "fuzzed_first": first, "status": dict(sorted(tally.status.items())),
        "server_errors": len(tally.server_errors), "server_error_examples": tally.server_errors[:10],
        "dropped": sum(tally.dropped.values()), "dropped_examples": dict(tally.dropped.most_common(10)),
        "not_json": len(tally.not_json), "not_json_examples": tally.not_json[:10],
        "watchers": watchers, "gallery_reads": reads, "memory_mb": {k: round(v, 1) for k, v in mem.items()},
        "growth_mb": {"since_start": round(mem["after_all"] - mem["start"], 1), "since_warm": round(mem["after_all"] - mem["warm"], 1)},
        "good_job_after": status["state"], "server_alive": alive, "seconds": round(time.time() - t0, 1),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(prog="python -m bench.studio_fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=5000, help="fuzzed requests in the first round (as many again follow)")
    ap.add_argument("--senders", type=int, default=10, help="concurrent clients sending them")
    ap.add_argument("--watchers", type=int, default=30, help="concurrent event streams on the running job")
    ap.add_argument("--readers", type=int, default=30, help="concurrent clients reading the gallery")
    ap.add_argument("--threads", type=int, default=1, help="the studio's torch threads (the blocker job's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "results", help="folder for the JSON result")
    args = ap.parse_args(argv)
    from .worker import _cpu_name, result_path

    r = asyncio.run(run(args))
    f = r["fuzzed_first"]
    print(f"first {f['fuzzed']:,} fuzzed requests ({f['requests']:,} requests with the stops and gallery reads): "
          f"{f['server_errors']} answers >= 500, {f['dropped']} dropped, {f['not_json']} errors without JSON")  # fmt: skip
    print(f"in all {r['fuzzed']:,} fuzzed, {r['requests']:,} requests ({r['unsendable']} the client would not send): {r['server_errors']} answers >= 500, {r['dropped']} dropped, {r['not_json']} errors without JSON")
    print(f"status: {r['status']}")
    print(f"watchers: {r['watchers']}; gallery reads: {r['gallery_reads']}")
    m = r["memory_mb"]
    print(f"resident memory (MB): start {m['start']}, job running {m['warm']}, after the first round {m['after_first']}, "
          f"after {r['requests']:,} requests {m['after_all']} ({r['growth_mb']['since_start']:+} since start, "
          f"{r['growth_mb']['since_warm']:+} since the job ran)")  # fmt: skip
    print(f"a good job afterwards: {r['good_job_after']}; studio alive: {r['server_alive']}; {r['seconds']} s")
    for key in ("server_error_examples", "dropped_examples", "not_json_examples"):
        if r[key]:
            print(f"{key}: {json.dumps(r[key], indent=1)}")
    args.out.mkdir(parents=True, exist_ok=True)
    cpu = _cpu_name()
    path = result_path(args.out, "studio-fuzz", cpu)
    doc = {"cpu": cpu, "requests_first": args.requests, "senders": args.senders, "watchers_asked": args.watchers,
           "readers": args.readers, "threads": args.threads, "seed": args.seed, **r}  # fmt: skip
    path.write_text(json.dumps(doc, indent=1))
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
