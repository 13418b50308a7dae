#!/usr/bin/env bash
# README command (b): install everything the tests need on a fresh machine, then run them all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-packages.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
