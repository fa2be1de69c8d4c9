#!/usr/bin/env bash
# Build the book into _build/html with every chapter executed (quick mode unless RESATTN_QUICK is set).
# Warnings are errors (-W) and references are checked (-n): a clean build prints no warning at all.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export RESATTN_QUICK="${RESATTN_QUICK:-1}"
bash scripts/fetch_mathjax.sh
# --all: every page is written again, so that the navigation of every page is current (notebooks
# are still executed only when their code changed: the execution cache is kept).
jupyter-book build . --all -W -n --keep-going
echo "The book is built: open file://$ROOT/_build/html/index.html"
