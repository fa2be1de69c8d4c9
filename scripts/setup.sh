#!/usr/bin/env bash
# Set up a fresh machine: a virtual environment in .venv with the pinned requirements and the package,
# and (offline machines) the CIFAR-10 JPEG copy from ../shared/data unpacked into data/ (git-ignored).
# Idempotent: a second run only checks. Source it to get VENV and PY.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RESATTN_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
if [ ! -x "$PY" ] || ! "$PY" -c "import resattn_min, torch, jupyter_book, nbval" 2>/dev/null \
        || [ ! -x "$VENV/bin/actionlint" ]; then
    echo "== creating $VENV and installing requirements (about 3 minutes)"
    python3 -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q -r "$ROOT/requirements.txt"
    "$PY" -m pip install -q --no-deps -e "$ROOT"
fi
SHARED="$ROOT/../shared/data/cifar10-jpeg.tar.gz"
if [ -f "$SHARED" ] && [ ! -d "$ROOT/data/cifar10-jpeg/train" ]; then
    echo "== unpacking the CIFAR-10 JPEG copy into data/cifar10-jpeg (not committed)"
    mkdir -p "$ROOT/data/cifar10-jpeg"
    tar -xzf "$SHARED" -C "$ROOT/data/cifar10-jpeg"
fi
export VENV PY ROOT
