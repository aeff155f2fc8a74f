#!/usr/bin/env bash
# One prepared GPU check for a single-GPU machine without network, in under 10 minutes:
# a few 4-bit QLoRA steps of a small model, the transformers engine with its KV cache sized from
# free memory answering 16 concurrent requests, the memory estimate against the measured peak,
# and the serving dtype. One line per check (`gpu_check <name>: PASS|FAIL|SKIP ...`); exit 1 if
# any failed. See benchmarks/gpu_check.py.
#
#   bash benchmarks/gpu_check.sh                 # from the repository root
#
# Needs torch (CUDA), transformers and peft. What else the checks import (trl, datasets,
# accelerate, bitsandbytes, tokenizers, pyyaml) is installed from wheels in benchmarks/wheels/
# when that folder exists (`pip download -d benchmarks/wheels -c requirements.lock trl datasets
# accelerate bitsandbytes` on a machine with network), into a private folder, never from an
# index; a check whose packages are missing says SKIP.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 DO_NOT_TRACK=1
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
if [ -d benchmarks/wheels ] && ls benchmarks/wheels/*.whl >/dev/null 2>&1; then
  site="${TMPDIR:-/tmp}/ftk-gpu-check-site"
  "$PY" -m pip install -q --no-index --find-links benchmarks/wheels --target "$site" \
    benchmarks/wheels/*.whl >/dev/null 2>&1 || echo "gpu_check wheels: FAIL installing benchmarks/wheels"
  export PYTHONPATH="$PWD:$site${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
exec timeout 570 "$PY" benchmarks/gpu_check.py
