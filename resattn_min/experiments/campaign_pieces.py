"""Pieces: how the campaign's files cross a device call's limits (issue 16).

A call returns files of at most 16 MiB, and a checkpoint of Attention-164 is 27 MiB, so every file that
travels between this machine and the GPU's goes as ``<name>.part00``, ``.part01``, ... and is put back
together on the other side (atomically: a call cut short leaves no half-joined checkpoint).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from ..atomic import write_atomic
from .campaign_curves import copy_run_files

__all__ = ["PIECE_BYTES", "split_file", "join_pieces", "join_folders", "receive"]

#: Size of one piece of a checkpoint on its way between machines (a returned file may hold 16 MiB).
PIECE_BYTES = 15 * 2**20


def split_file(path: Path, out_dir: Path, piece: int = PIECE_BYTES) -> list[Path]:
    """``path`` as ``out_dir/<name>.part00``, ``.part01``, ... of at most ``piece`` bytes each."""
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    with open(path, "rb") as f:
        while chunk := f.read(piece):
            part = out_dir / f"{path.name}.part{len(parts):02d}"
            part.write_bytes(chunk)
            parts.append(part)
    return parts


def join_pieces(folder: Path, dest: Path) -> list[Path]:
    """Put together every ``<name>.partNN`` series of ``folder`` as ``dest/<name>`` (atomically); the run's
    small files (log, metrics) that came with them are copied beside it."""
    series: dict[str, list[Path]] = {}
    for part in sorted(Path(folder).glob("*.part[0-9][0-9]")):
        series.setdefault(part.name.rsplit(".part", 1)[0], []).append(part)
    dest.mkdir(parents=True, exist_ok=True)
    joined = []
    for name, parts in series.items():
        if [p.name[-2:] for p in parts] != [f"{i:02d}" for i in range(len(parts))]:
            raise ValueError(f"pieces of {name} in {folder} are not complete: {[p.name for p in parts]}")
        def write(out, parts=parts) -> None:
            for part in parts:
                out.write(part.read_bytes())

        joined.append(write_atomic(dest / name, write))
    copy_run_files(Path(folder), dest)
    return joined


def join_folders(pieces: Path, dest: Path) -> list[Path]:
    """:func:`join_pieces` for every run's folder of ``pieces`` (``<run>/*.partNN``), into
    ``dest/<run>/``; returns the files joined."""
    folders = sorted(p for p in Path(pieces).iterdir() if p.is_dir())
    return [joined for folder in folders for joined in join_pieces(folder, Path(dest) / folder.name)]


def receive(returned: Path, dest: Path) -> list[str]:
    """What one device call brought back (``returned``: ``ckpt/<run>/`` of pieces and ``runs.tgz`` of the
    runs' small files, from ``scripts/campaign.sh collect:all``) into the runs folder ``dest``, ready
    for ``campaign update``; returns one line per file joined. The archive's files are the runs' own
    (``tarfile``'s ``data`` filter refuses links and paths outside ``dest``)."""
    returned, dest = Path(returned), Path(dest)
    joined = join_folders(returned / "ckpt", dest) if (returned / "ckpt").is_dir() else []
    lines = [f"joined {path}" for path in joined]
    if (returned / "runs.tgz").is_file():
        with tarfile.open(returned / "runs.tgz") as archive:
            archive.extractall(dest, filter="data")
        lines.append(f"unpacked {returned / 'runs.tgz'}")
    return lines
