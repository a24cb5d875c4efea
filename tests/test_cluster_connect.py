"""--ray-address: the command line joins a cluster started on its own, as on a real one.

`ray start --head` runs in a temporary folder of its own (its own session, stopped by its process
group at the end), on 127.0.0.1 only; the CLI runs as a separate process, as a user would run it,
and joins it by address. The only Ray of this module, so it never shares the machine with the
module-scoped one of test_cluster.py. The token tests come first: their head (token
authentication on, as Ray 2.60 sets up a `ray start` cluster by default) is stopped before the
sweep's starts.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import STYLE_CLOSER, style_ratio

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
RAY = Path(sys.executable).with_name("ray")
RAY_LOG_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d [\d:,.]+ [DIWEF] \d+ \d+\]", re.M)  # Ray's C++ logger


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_env() -> dict[str, str]:
    """Workers import this checkout, stay offline and on 127.0.0.1, and send no usage statistics;
    no token authentication (Ray 2.60's default for `ray start`), as on a private test cluster."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
           "DREAMSTYLE_OFFLINE": "1"}  # fmt: skip
    env.pop("RAY_ADDRESS", None)
    env.pop("CUDA_VISIBLE_DEVICES", None)  # conftest's "" would make Ray refuse its logical GPUs
    return env


@contextlib.contextmanager
def ray_head(env: dict[str, str], cpus: int, gpus: int) -> Iterator[str]:
    """`ray start --head --block` on 127.0.0.1 in a temporary folder of its own, with `env`;
    yields its address, then stops it by its process group."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    proc = subprocess.Popen(
        [str(RAY), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
         f"--num-gpus={gpus}", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}",
         f"--object-store-memory={80 * 2**20}"],
        env=env, cwd=temp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while subprocess.run([str(RAY), "status", f"--address={address}"], env=env, capture_output=True).returncode != 0:
            assert proc.poll() is None and time.time() < deadline, "ray start --head did not come up"
            time.sleep(1)
        yield address
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def head():
    """A one-node cluster: 2 CPUs, 2 logical GPUs (its workers run on the CPU: `--device cpu`)."""
    with ray_head(cluster_env(), cpus=2, gpus=2) as address:
        yield address


TOKEN = secrets.token_hex(16)


def token_env(home: Path, **auth: str) -> dict[str, str]:
    """cluster_env with Ray's token variables as given (none: as a user who never set them), a
    HOME of the test's own (Ray looks for ~/.ray/auth_token there), and a short connect window:
    Ray retries a refused connection once a second, 20 times by default."""
    env = {**cluster_env(), "HOME": str(home), "RAY_gcs_server_port_wait_time_s": "3"}
    for var in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        env.pop(var, None)
    return {**env, **auth}


@pytest.fixture
def token_head(tmp_path):
    """A one-node cluster with token authentication on, its token TOKEN; one CPU."""
    home = tmp_path / "head-home"
    home.mkdir()
    env = token_env(home, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN)
    env.pop("RAY_gcs_server_port_wait_time_s")
    with ray_head(env, cpus=1, gpus=0) as address:
        yield address


JOIN = """
import sys
from dreamstyle.cluster.session import joined
from dreamstyle.core.settings import ClusterSettings
from dreamstyle.errors import UserError
try:
    with joined(ClusterSettings(backend="ray", address=sys.argv[1])) as session:
        print("joined", session.pool.workers)
except UserError as exc:
    print(f"error: {exc.message} — {exc.hint}", file=sys.stderr)
    sys.exit(2)
"""


def join(address: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", JOIN, address], env=env, capture_output=True, text=True, timeout=180)


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def test_joining_a_token_cluster_without_the_token_says_so_and_what_to_set(token_head, tmp_path):
    """The command line, as a user who never heard of Ray's tokens runs it: the line names the
    token and the variables to set, and does not send them to check an address that is right."""
    args = ["style", SAMPLES / "cat.jpg", SAMPLES / "swirls.jpg", "--sweep", "1,100", "-o", tmp_path / "sweep", "--model",
            "efficientnet-lite0", "--size", 64, "--steps", 1, "--device", "cpu", "--backend", "ray", "--ray-address", token_head]  # fmt: skip
    code = "import sys; from dreamstyle.cli import main; sys.argv = ['dreamstyle', *sys.argv[1:]]; main()"
    res = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=token_env(tmp_path), capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert res.returncode == 2, res.stderr[-3000:]
    line = error_line(res.stderr)
    assert "needs a token" in line and "RAY_AUTH_MODE=token" in line and "RAY_AUTH_TOKEN=" in line, line
    assert "check the address" not in line and not list((tmp_path / "sweep").glob("*.png"))


def test_a_wrong_token_a_missing_one_and_the_right_one(token_head, tmp_path):
    wrong = join(token_head, token_env(tmp_path, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN="f" * 32))
    line = error_line(wrong.stderr)
    assert wrong.returncode == 2 and "refused this machine's token" in line and "RAY_AUTH_TOKEN=" in line, line
    assert "check the address" not in line
    missing = join(token_head, token_env(tmp_path, RAY_AUTH_MODE="token"))  # and no ~/.ray/auth_token in this HOME
    line = error_line(missing.stderr)
    assert missing.returncode == 2 and "no Ray token was found" in line and "RAY_AUTH_TOKEN=" in line, line
    right = join(token_head, token_env(tmp_path, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN))
    assert right.returncode == 0 and "joined 1" in right.stdout, right.stderr[-3000:]


# What Ray 2.60 raises from ray.init(address=…) when the cluster wants a token it did not get
# (seen above, against a real head): a ConnectionError whose cause carries the GCS client's error.
REFUSED = ("Failed to connect to GCS. Last connection error: Traceback (most recent call last):\n"
           '  File ".../ray/_private/node.py", line 996, in _init_gcs_client\n'
           "ray.exceptions.AuthenticationError: RPC error: InvalidAuthToken: Authentication token is missing or "
           "incorrect. Note: RAY_AUTH_MODE is currently 'disabled' (not 'token'). Ensure that the token for the cluster "
           "is available in a local file (e.g., ~/.ray/auth_token or via RAY_AUTH_TOKEN_PATH) or as the `RAY_AUTH_TOKEN` "
           "environment variable.")  # fmt: skip


def refused_by_ray() -> ConnectionError:
    try:
        try:
            raise RuntimeError(REFUSED)
        except RuntimeError as cause:
            raise ConnectionError("Failed to connect to Ray cluster at 192.0.2.2:46379") from cause
    except ConnectionError as exc:
        return exc


@pytest.mark.parametrize(
    "mode, exc, needle",
    [(None, refused_by_ray(), "needs a token (token authentication), and none was sent"),
     ("token", refused_by_ray(), "refused this machine's token"),
     ("token", RuntimeError("Token authentication is enabled but no authentication token was found. Ensure that …"),
      "RAY_AUTH_MODE=token, but no Ray token was found"),
     (None, ConnectionError("Failed to connect to Ray cluster at 10.0.0.9:6379"), "check the address")],
)  # fmt: skip
def test_the_join_error_says_token_or_address_from_what_ray_raised(monkeypatch, mode, exc, needle):
    """The mapping alone, on the exact texts Ray raised in the tests above: fast, and without a cluster."""
    from dreamstyle.cluster.session import join_error

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    if mode:
        monkeypatch.setenv("RAY_AUTH_MODE", mode)
    err = join_error(exc, "10.0.0.9:6379")
    line = f"{err.message} — {err.hint}"
    assert needle in line and "\n" not in line, line
    assert ("check the address" in line) == (needle == "check the address"), line
    assert ("RAY_AUTH_TOKEN=" in line) == (needle != "check the address"), line


def test_an_address_where_no_cluster_listens_gets_the_address_hint(tmp_path):
    res = join(f"127.0.0.1:{free_port()}", token_env(tmp_path))
    line = error_line(res.stderr)
    assert res.returncode == 2 and "check the address" in line and "token" not in line, line


def test_a_sweep_on_a_cluster_joined_by_address(head, tmp_path, lite):
    """`style --sweep` from the command line, made by two workers of a cluster the command
    joined by --ray-address: one picture per style weight, each carrying its own weight, and
    the heavier weight's picture nearer the painting."""
    swirls = SAMPLES / "swirls.jpg"
    args = ["style", SAMPLES / "cat.jpg", swirls, "--sweep", "1,10000", "-o", tmp_path / "sweep", "--model", "efficientnet-lite0",
            "--size", 64, "--steps", 20, "--device", "cpu", "--backend", "ray", "--ray-address", head, "--workers", 2, "-v"]  # fmt: skip
    code = "import sys; from dreamstyle.cli import main; sys.argv = ['dreamstyle', *sys.argv[1:]]; main()"
    res = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=cluster_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "2 written, 0 already there, 0 failed" in res.stderr and "2 workers" in res.stderr, res.stderr[-2000:]
    # Only dreamstyle's words: none of Ray's log lines ("[2026-… E 123 456] core_worker.cc:2465: …
    # max_restarts > 0", or the line saying its log level was set).
    assert not RAY_LOG_LINE.search(res.stderr) and "core_worker" not in res.stderr, res.stderr[-3000:]
    light, heavy = tmp_path / "sweep" / "cat-sw1.png", tmp_path / "sweep" / "cat-sw10000.png"
    from dreamstyle.core.job import Job

    assert (Job.from_png(light).settings.style_weight, Job.from_png(heavy).settings.style_weight) == (1, 10000)
    near = [style_ratio(lite, p, SAMPLES / "cat.jpg", [swirls]) for p in (light, heavy)]
    assert near[1] < STYLE_CLOSER and near[1] < near[0], near
