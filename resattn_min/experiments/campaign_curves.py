"""A campaign run's learning curve travels with its checkpoint, and keeps its history on the way.

A run's small files (``log.txt``, ``metrics.csv``, ``metrics.jsonl``) go wherever its checkpoint goes:
into the store, onto the GPU machine, back, into the repository. The trainer continues them when it
resumes: it keeps the rows up to the checkpoint's iteration and appends. If a checkpoint arrives
without them (the bank keeps checkpoints only), the trainer starts new files at the resumed iteration,
and copying those over the repository's would drop every earlier segment's rows. That happened in
session 5: the store came back empty, the bank restored the checkpoints alone, and the six curves came
back starting at 49,600-103,600 (restored from git afterwards).

So :func:`copy_run_files` merges instead of overwriting: a metrics file that starts later than the one
already there keeps the earlier one's rows before its first iteration, and a log that does not begin
with the earlier log is appended to it. A file that holds the whole history (the usual
case) replaces the one there, as a copy would.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

from ..atomic import write_text

__all__ = ["RUN_FILES", "copy_run_files", "merged"]

#: A run's small files, which travel with its checkpoint so that its learning curve stays whole.
RUN_FILES = ("log.txt", "metrics.csv", "metrics.jsonl")


def _rows(name: str, text: str) -> tuple[list[str], list[int]]:
    """The data lines of a metrics file and each line's iteration (the header of a CSV aside)."""
    lines = text.splitlines()[1:] if name.endswith(".csv") else text.splitlines()
    lines = [line for line in lines if line.strip()]
    if name.endswith(".csv"):
        return lines, [int(float(row[0])) for row in csv.reader(io.StringIO("\n".join(lines)))]
    return lines, [int(json.loads(line)["iteration"]) for line in lines]


def merged(name: str, old: str, new: str) -> str:
    """The text of ``name`` (one of :data:`RUN_FILES`) that keeps ``old``'s history under ``new``."""
    if not old.strip() or not new.strip():
        return new or old
    if name == "log.txt":  # every segment's first line is the same command: compare the whole text
        return new if new.startswith(old.rstrip("\n")) else old.rstrip("\n") + "\n" + new
    old_rows, old_its = _rows(name, old)
    new_rows, new_its = _rows(name, new)
    if not new_its or not old_its or new_its[0] <= old_its[0]:
        return new
    kept = [row for row, it in zip(old_rows, old_its, strict=True) if it < new_its[0]]
    header = [new.splitlines()[0]] if name.endswith(".csv") else []
    return "\n".join(header + kept + new_rows) + "\n"


def copy_run_files(source: Path, *targets: Path) -> None:
    """Copy ``source``'s run files into each target folder, keeping the history a target already holds
    (:func:`merged`)."""
    for target in targets:
        target.mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:
            if not (Path(source) / name).is_file():
                continue
            there = target / name
            if there.is_file():
                new = (Path(source) / name).read_text()
                write_text(there, merged(name, there.read_text(), new))
            else:
                shutil.copy2(Path(source) / name, there)
