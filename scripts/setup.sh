#!/usr/bin/env bash
# Install everything the assistant and its tests need, from this repository's own files.
# Idempotent: a second run only checks. Usage: bash scripts/setup.sh [--with-system]
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--with-system" ]]; then
  # System packages: PostgreSQL binaries (decision-log tests) and Chromium + driver (browser tests).
  need=()
  command -v initdb >/dev/null 2>&1 || [[ -x "$(pg_config --bindir 2>/dev/null)/initdb" ]] || need+=(postgresql)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
  if (( ${#need[@]} )); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
[[ -d .venv ]] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first, pinned to the CPU build on this disk: anything else pulls gigabytes of CUDA.
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[test]"
