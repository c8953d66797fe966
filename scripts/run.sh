#!/usr/bin/env bash
# Set up (first time) and start the web assistant on http://127.0.0.1:7860.
# The index is built on first start, with progress shown.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=${EXTRAS:-test} bash scripts/setup.sh
exec .venv/bin/python app.py "$@"
