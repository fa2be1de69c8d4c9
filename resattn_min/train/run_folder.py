"""One run per folder: a lock while a run trains there, and no fresh run over an earlier run's files.

A run holds an exclusive ``flock`` on ``<run_dir>/.lock`` while it trains; the operating system drops the
lock when the process ends, however it ends (kill -9 included), so a dead run never leaves the folder
locked. The file names the holder (process id and host) for the message a second run gets.

A fresh run (no ``resume``, or a checkpoint from elsewhere) in a folder that holds an earlier run's
checkpoints, metrics or results is refused: continuing would mix two runs' files, and ``resume auto``
would later pick up the old run's checkpoints. ``overwrite=True`` deletes that run first.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..atomic import remove_stale_temps
from .checkpoint import list_checkpoints

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are not guarded against each other there
    fcntl = None

__all__ = ["RunFolderError", "LOCK_NAME", "RUN_FILES", "claim_run_folder", "is_fresh"]

LOCK_NAME = ".lock"
#: What a run writes besides its checkpoints.
RUN_FILES = ("metrics.csv", "metrics.jsonl", "results.json")


class RunFolderError(RuntimeError):
    """A run folder that cannot take this run: in use, holding another run, or not writable."""


def is_fresh(run_dir: str | Path, resume: str | None) -> bool:
    """True unless the run continues from ``auto`` or from a checkpoint inside ``run_dir`` itself."""
    if resume is None:
        return True
    return resume != "auto" and Path(resume).resolve().parent != Path(run_dir).resolve()


@contextmanager
def claim_run_folder(run_dir: str | Path, fresh: bool, overwrite: bool = False) -> Iterator[Path]:
    """Make and lock ``run_dir`` for one run; refuse a fresh run over an earlier one unless ``overwrite``.

    Temporary files that killed writers left there are removed once the lock is held.
    """
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(run_dir / LOCK_NAME, "a+")  # noqa: SIM115 (held open as long as the run trains)
    except OSError as err:
        raise RunFolderError(f"cannot write in the run folder {run_dir}: {err.strerror or err}") from None
    try:
        _lock(handle, run_dir)
        earlier = _earlier_run(run_dir)
        if fresh and earlier and not overwrite:
            raise RunFolderError(
                f"{run_dir} holds an earlier run ({', '.join(earlier)}); continue it with --resume auto, "
                "give this run another --run-dir, or pass --overwrite to delete the earlier run")
        if fresh and earlier:
            for name in [*RUN_FILES, *(p.name for p in list_checkpoints(run_dir))]:
                (run_dir / name).unlink(missing_ok=True)
            print(f"note: deleted the earlier run in {run_dir} ({', '.join(earlier)})", flush=True)
        freed = remove_stale_temps(run_dir)
        if freed:
            print(f"note: removed temporary files ({freed / 2**20:.1f} MiB) that an interrupted run left in "
                  f"{run_dir}", flush=True)
        yield run_dir
    finally:
        handle.close()  # closing the file releases the lock


def _lock(handle, run_dir: Path) -> None:
    """Take the folder's lock or say who holds it; the file then names this process."""
    if fcntl is None:
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        raise RunFolderError(f"{run_dir} is in use by another run ({holder}); wait for it to end, or give "
                             "this run another --run-dir") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    handle.flush()


def _earlier_run(run_dir: Path) -> list[str]:
    """What an earlier run left in ``run_dir``: its run files and a count of its checkpoints."""
    found = [name for name in RUN_FILES if (run_dir / name).exists()]
    checkpoints = len(list_checkpoints(run_dir))
    return found + ([f"{checkpoints} checkpoint{'s' * (checkpoints > 1)}"] if checkpoints else [])
