#!/usr/bin/env bash
# The test command: sets up (scripts/setup.sh), then runs the unit tests, every chapter notebook through
# nbval (quick mode), the assignments' graders, and the browser test of the built site.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
export RESATTN_QUICK=1
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing headless Chromium for the site test"
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed"
fi
"$PY" -m pytest -q --nbval-lax tests chapters "$@"
