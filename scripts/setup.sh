#!/usr/bin/env bash
# Create .venv and install the project with everything its tests need.
# torch is installed first from the CPU build (a bare "torch" requirement would
# pull a multi-GB CUDA build). Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -c "import torch" 2>/dev/null || pip install -q torch==2.13.0
extras=${EXTRAS:-test}
pip install -q -e ".[${extras}]"
