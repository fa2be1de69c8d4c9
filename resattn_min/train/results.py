"""What a run leaves behind: ``metrics.csv`` / ``metrics.jsonl`` as it goes, ``results.json`` at the end.

The book's results chapters read these files; every number they quote comes from one of them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..atomic import append_line, write_text
from ..env import REPO_ROOT

__all__ = ["METRIC_FIELDS", "MetricsLog", "TrainResult", "environment", "git_commit", "peak_memory",
           "read_metrics"]

METRIC_FIELDS = ["iteration", "lr", "train_loss", "train_acc", "test_error", "images_per_s", "elapsed_s"]


class MetricsLog:
    """Rows of training metrics, appended to ``metrics.csv`` and ``metrics.jsonl`` as they come.

    ``metrics.jsonl`` is the record; ``metrics.csv`` is the same rows for spreadsheets. Each row is on
    disk before the checkpoint of its iteration is written, so a killed run never loses rows it has a
    checkpoint for. A resumed run keeps the rows up to the checkpoint's iteration and drops the ones a
    killed run wrote after it (they are about to be computed again), and a last line that a kill cut
    short. ``write=False`` (ranks other than 0) keeps the new rows in memory only.
    """

    def __init__(self, run_dir: str | Path, resume_iteration: int | None = None, write: bool = True) -> None:
        self.csv_path = Path(run_dir) / "metrics.csv"
        self.jsonl_path = Path(run_dir) / "metrics.jsonl"
        self.write = write
        self.rows: list[dict[str, Any]] = []
        if write and resume_iteration is not None and self.jsonl_path.exists():  # rank 0 alone reads
            self.rows = [r for r in read_metrics(self.jsonl_path) if r["iteration"] <= resume_iteration]
        if write:
            write_text(self.csv_path, _csv_lines(self.rows, header=True))
            write_text(self.jsonl_path, "".join(json.dumps(r) + "\n" for r in self.rows))

    def append(self, row: dict[str, Any], durable: bool = False) -> None:
        """Add one row (missing fields stay empty: ``test_error`` exists only at evaluation points).

        ``durable=True`` (the row of a checkpoint) waits until the rows are on the disk itself, so that they
        survive even a crash of the machine; other rows survive a killed process, not a power cut."""
        row = {k: row.get(k) for k in METRIC_FIELDS}
        self.rows.append(row)
        if self.write:
            append_line(self.jsonl_path, json.dumps(row), durable)
            append_line(self.csv_path, _csv_lines([row]).rstrip("\n"), durable)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl``; a last line cut short by a kill is dropped, with a note."""
    lines = Path(path).read_text().splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number < len(lines):
                raise ValueError(f"{path}, line {number}, is not a metrics row ({err}); mend or delete that "
                                 "line, then resume again") from None
            print(f"note: dropped the last line of {path}, cut short when the run was stopped", flush=True)
    return rows


def _csv_lines(rows: list[dict[str, Any]], header: bool = False) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, METRIC_FIELDS, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def git_commit() -> str | None:
    """The repository's commit (with ``-dirty`` for uncommitted changes), or None outside a git checkout.

    ``RESATTN_COMMIT`` names it where the code runs from a copy without ``.git`` (a rented GPU machine).
    """
    if os.environ.get("RESATTN_COMMIT"):
        return os.environ["RESATTN_COMMIT"]
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        commit = git("rev-parse", "HEAD")
        return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: torch.device) -> dict[str, Any]:
    """Where and when a result was made: device, software versions, commit, date, command line."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "cpu")
    return {
        "device": name,
        "device_type": device.type,
        "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "python": platform.python_version(),
        "git_commit": git_commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def peak_memory(device: torch.device) -> int | None:
    """Peak GPU memory allocated (bytes), or on a CPU the process's peak resident memory (POSIX only)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    try:
        import resource
    except ImportError:  # Windows
        return None
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * (1 if sys.platform == "darwin" else 1024)


@dataclass
class TrainResult:
    """What :func:`resattn_min.train.loop.train` returns: the trained model and its numbers.

    ``test_error`` is the error of the final iteration's weights (no checkpoint is chosen on the test set).
    ``metrics`` is a list of dicts, ready for ``pandas.DataFrame(result.metrics)``.
    """

    run_dir: Path
    test_error: float
    metrics: list[dict[str, Any]]
    results: dict[str, Any]
    model: nn.Module = field(repr=False)

    @property
    def test_accuracy(self) -> float:
        return 1.0 - self.test_error
