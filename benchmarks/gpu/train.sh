#!/usr/bin/env bash
# Train minuet on one GPU within a time limit, simulation included; see
# docs/training/gpu.rst. Arguments go to benchmarks/gpu/train_gpu.py, e.g.
#
#   bash benchmarks/gpu/train.sh                       # 10 minutes, writes to $OUT
#   bash benchmarks/gpu/train.sh --minutes 30 --output-dir gpu-run
#
# Python packages that the machine lacks travel as wheels in .whl/ (made by
# `python benchmarks/gpu/pack_wheels.py` on a machine with network access);
# they are installed into a scratch folder, never into the system.
set -euo pipefail
cd "$(dirname "$0")/../.."
site="${TMPDIR:-/tmp}/minuet-gpu-site"
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$site" .whl/*.whl
    export PYTHONPATH="$site:$PWD"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1
exec python3 benchmarks/gpu/train_gpu.py "$@"
