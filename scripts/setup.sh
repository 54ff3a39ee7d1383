#!/usr/bin/env bash
# Set up textinpaint in ./.venv on a machine with only Python 3.10+ and pip.
#   bash scripts/setup.sh                 # the package, the server and the dev tools
#   bash scripts/setup.sh --with-browser  # also Debian's chromium for the browser test
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned: on the project's machines this takes the local CPU wheel, and
# installing it before the rest keeps any other package from pulling a different build.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[server,dev]"
if [ "${1:-}" = "--with-browser" ] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
      >/dev/null || echo "warning: could not install chromium; the browser test will skip"
  else
    echo "warning: chromium is not installed (needs root and apt-get); the browser test will skip"
  fi
fi
echo "textinpaint is set up in .venv ($(.venv/bin/textinpaint --version))"
