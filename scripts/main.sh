#!/usr/bin/env bash
# The main job: set up (scripts/setup.sh), print the paper's architecture tables beside our counts,
# and build the book with every chapter executed in quick mode (RESATTN_QUICK=1 unless set).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
export RESATTN_QUICK="${RESATTN_QUICK:-1}"
"$PY" -m resattn_min report
PATH="$VENV/bin:$PATH" bash scripts/build_book.sh
