#!/usr/bin/env bash
# On a machine with a GPU: the tests that need one, the training and inference benchmarks at
# 2,500 tokens in float32 and mixed_float16, and an estimate of one MIMIC-III epoch.
#
#     bash experiments/gpu_check.sh            # with the project installed (make install)
#     PYTHON=python3 bash experiments/gpu_check.sh
#
# Prints one JSON line per benchmark and a summary; takes a few minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi: not found"
"$PY" -c "import tensorflow as tf; g = tf.config.list_physical_devices('GPU'); print('TensorFlow', tf.__version__, 'GPUs:', g); raise SystemExit(0 if g else 1)" \
    || { echo "gpu_check: TensorFlow sees no GPU"; exit 1; }
"$PY" -m pytest -q -rs -m gpu tests/test_gpu.py; tests=$?
out=$(mktemp)
for precision in float32 mixed_float16; do
    for what in train infer; do
        "$PY" experiments/benchmark.py --what $what --tokens 2500 --labels 50 --batch 16 --precision $precision --json | tail -1 | tee -a "$out"
    done
done
"$PY" experiments/benchmark.py --what train --tokens 2500 --labels 8921 --batch 16 --precision mixed_float16 --json | tail -1 | tee -a "$out"
"$PY" - "$out" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
def rate(what, labels, precision):
    return next((r[f"{what}_docs_per_s"] for r in rows if f"{what}_docs_per_s" in r and r["labels"] == labels
                 and r["precision"] == precision), None)
for precision in ("float32", "mixed_float16"):
    print(f"{precision}: train {rate('train', 50, precision)} docs/s, infer {rate('infer', 50, precision)} docs/s "
          "(2,500 tokens, 50 labels, batch 16)")
top50, full = rate("train", 50, "mixed_float16"), rate("train", 8921, "mixed_float16")
# Upper bounds: every note counted at 2,500 tokens (MIMIC-III discharge summaries are shorter on average).
if top50:
    print(f"estimate, one MIMIC-III-50 epoch (8,066 notes): {8066 / top50 / 60:.1f} min (mixed_float16)")
if full:
    print(f"estimate, one MIMIC-III-full epoch (47,723 notes, 8,921 labels): {47723 / full / 60:.1f} min (mixed_float16)")
PY
exit $tests
