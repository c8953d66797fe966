#!/usr/bin/env bash
# One command for lint and tests; CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
# The browser tests drive Debian's Chromium (never a downloaded browser).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is not installed: browser tests will be skipped (apt-get install chromium)" >&2
  fi
fi
# axe-core (accessibility checks in the browser tests) from the npm registry,
# into a test-only folder; pinned so a run is repeatable.
AXE_VERSION=4.14.1
AXE_DIR=.cache/axe-core
if [ ! -f "$AXE_DIR/axe.min.js" ]; then
  if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  fi
  if command -v npm >/dev/null 2>&1; then
    mkdir -p "$AXE_DIR"
    (cd "$AXE_DIR" && npm pack "axe-core@$AXE_VERSION" --silent >/dev/null \
      && tar -xzf "axe-core-$AXE_VERSION.tgz" --strip-components=1 package/axe.min.js package/LICENSE \
      && rm -f "axe-core-$AXE_VERSION.tgz")
  else
    echo "npm is not installed: the accessibility tests will be skipped (apt-get install npm)" >&2
  fi
fi
ruff check .
python -m pytest -q "$@"
