"""--ray-address: the command line joins a cluster started on its own, as on a real one.

`ray start --head` runs in a temporary folder of its own (its own session, stopped by its process
group at the end), on 127.0.0.1 only; the CLI runs as a separate process, as a user would run it,
and joins it by address. The only Ray of this module, so it never shares the machine with the
module-scoped one of test_cluster.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers import STYLE_CLOSER, style_ratio

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
RAY = Path(sys.executable).with_name("ray")


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


@pytest.fixture(scope="module")
def head():
    """A one-node cluster: 2 CPUs, 2 logical GPUs (its workers run on the CPU: `--device cpu`)."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    proc = subprocess.Popen(
        [str(RAY), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
         "--num-gpus=2", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}",
         f"--object-store-memory={80 * 2**20}"],
        env=cluster_env(), cwd=temp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while subprocess.run([str(RAY), "status", f"--address={address}"], env=cluster_env(), capture_output=True).returncode != 0:
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
    light, heavy = tmp_path / "sweep" / "cat-sw1.png", tmp_path / "sweep" / "cat-sw10000.png"
    from dreamstyle.core.job import Job

    assert (Job.from_png(light).settings.style_weight, Job.from_png(heavy).settings.style_weight) == (1, 10000)
    near = [style_ratio(lite, p, SAMPLES / "cat.jpg", [swirls]) for p in (light, heavy)]
    assert near[1] < STYLE_CLOSER and near[1] < near[0], near
