#!/usr/bin/env bash
# Put MathJax 3 into book/_static/mathjax/ so that the built site renders math offline.
#
# Only what the page needs is copied: the combined tex-chtml-full.js, the CommonHTML web fonts it
# loads, and the small ui/ and a11y/ components its context menu loads on demand. The npm package is
# fetched into a temporary folder and removed; book/_static/mathjax/ is git-ignored.
# Usage: bash scripts/fetch_mathjax.sh [--force]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/book/_static/mathjax"
VERSION="${MATHJAX_VERSION:-3}"

if [[ -f "$DEST/tex-chtml-full.js" && "${1:-}" != "--force" ]]; then
    echo "MathJax already in $DEST (use --force to fetch it again)"
    exit 0
fi
if ! command -v npm >/dev/null; then
    echo "npm is needed to fetch MathJax (apt-get install -y npm, or install Node.js)" >&2
    exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "mathjax@$VERSION" >/dev/null && tar xzf mathjax-*.tgz)
ES5="$TMP/package/es5"

rm -rf "$DEST"
mkdir -p "$DEST/output/chtml/fonts"
cp "$ES5/tex-chtml-full.js" "$DEST/"
cp -r "$ES5/output/chtml/fonts/woff-v2" "$DEST/output/chtml/fonts/"
cp -r "$ES5/ui" "$ES5/a11y" "$DEST/"
cp "$TMP/package/LICENSE" "$DEST/LICENSE"
echo "MathJax $(node -p "require('$TMP/package/package.json').version" 2>/dev/null || echo "$VERSION") copied to $DEST"
