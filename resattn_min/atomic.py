"""Files that are whole or absent: the one writer for every file a run or a command leaves behind.

A file is written to a hidden temporary file beside its final name (``.NAME.XXXXXXXX.tmp``), flushed to
disk, renamed over the final name, and the folder synced, so a crash, a kill or a full disk at any moment
leaves the earlier version (or nothing), never half a file. Only a temporary file can be left behind:
:func:`remove_stale_temps` clears a run folder's at the run's next start.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["write_atomic", "write_text", "write_json", "append_line", "remove_stale_temps",
           "check_output_file"]


def write_atomic(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(f)`` on a temporary file, make it durable, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        cause = err if isinstance(err, OSError) else err.__context__  # torch.save hides its write's error
        if isinstance(cause, OSError):
            raise _named(cause, path) from None
        raise
    _fsync_dir(path.parent)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return write_atomic(path, lambda f: f.write(text.encode()))


def write_json(path: str | Path, obj: dict) -> Path:
    """Write ``obj`` as indented JSON atomically (values JSON does not know become strings)."""
    return write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def append_line(path: str | Path, line: str, durable: bool = False) -> None:
    """Append one line. Once this returns, a killed process cannot lose it (the line is in the operating
    system's hands; a kill during the write can cut only this line short). ``durable=True`` also waits for
    the disk (``fsync``), so that the line survives a crash of the machine: that costs milliseconds to
    tens of milliseconds a call, which a run logging every few steps cannot pay on every row."""
    try:
        with open(path, "a") as f:
            f.write(line + "\n")
            f.flush()
            if durable:
                os.fsync(f.fileno())
    except OSError as err:
        raise _named(err, path) from None


def remove_stale_temps(folder: str | Path) -> int:
    """Delete the temporary files that killed writers left in ``folder``; returns the bytes freed.

    Call it only where no other process writes (a run folder under its lock).
    """
    freed = 0
    for tmp in Path(folder).glob(".*.tmp"):
        freed += tmp.stat().st_size
        tmp.unlink()
    return freed


def check_output_file(path: str | Path, flag: str = "--out") -> None:
    """Refuse, before any work, an output path that is a folder or lies in a folder that cannot be made."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a folder; give a file name, e.g. {path / 'out.json'}")
    parent = next((p for p in path.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise ValueError(f"{flag} {path}: {parent} is a file, not a folder")


def _named(err: OSError, path: Path) -> OSError:
    """``err`` naming the file it was about (a failed write names none): ``[Errno 28] ...: 'path'``."""
    return type(err)(err.errno, err.strerror or str(err), str(path))


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
