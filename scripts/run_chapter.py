"""Run a chapter's code cells as one Python script, where Jupyter is not installed (the GPU machine).

    python3 scripts/run_chapter.py chapters/06_training_cifar.ipynb \
        --set 'lesson_minutes=20=>lesson_minutes=3' --set 'amp="auto"=>amp="fp16"'

Each ``--set OLD=>NEW`` edits the cells as a reader would edit them by hand (the size cell, an option),
and must match exactly once. The cells run in order in one namespace, from the chapter's folder, with
figures drawn off screen; the first error stops the run and names its cell.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path


def code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def edited(cells: list[str], changes: list[str]) -> list[str]:
    """The cells with every ``OLD=>NEW`` applied; an edit that matches other than once is refused."""
    for change in changes:
        old, new = change.split("=>", 1)
        hits = sum(cell.count(old) for cell in cells)
        if hits != 1:
            raise SystemExit(f"--set {change!r}: {old!r} occurs {hits} times in the chapter, not once")
        cells = [cell.replace(old, new) for cell in cells]
    return cells


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter", type=Path)
    parser.add_argument("--set", dest="changes", action="append", default=[], metavar="OLD=>NEW")
    args = parser.parse_args()
    cells = edited(code_cells(args.chapter.resolve()), args.changes)
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.chdir(args.chapter.resolve().parent)
    namespace = {"__name__": "__main__", "display": print}
    for number, source in enumerate(cells, 1):
        print(f"---- cell {number}", flush=True)
        try:
            exec(compile(source, f"{args.chapter.name}, code cell {number}", "exec"), namespace)
        except Exception:
            traceback.print_exc()
            print(f"FAILED: {args.chapter.name}, code cell {number}", file=sys.stderr)
            return 1
    print(f"ran all {len(cells)} code cells of {args.chapter.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
