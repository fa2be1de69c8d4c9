"""The way back from the GPU machine: which checkpoints a device call returns (issue 16).

A call returns at most 8 files of at most 16 MiB, 64 MiB together. Six runs of the campaign leave six
newest checkpoints of 14-15 MiB, and the Attention-164 pair two of 27 MiB: more than one call can
return. So every call that trains returns what fits, in turn (a machine can be taken back at any
time, and each call's return is all that survives it):

* a run whose newest checkpoint already went back in an earlier call is left out (nothing new);
* the others go in the order of how long ago they last went back (never first), each whole (all its
  pieces) while the call's bytes and files allow.

The runs' compiled graphs (``compiled/``, written by the first process of each network:
``compile_artifacts``) go back once each, in the room the checkpoints leave; the next session carries
them in, and its processes read them instead of compiling for two minutes.

The record of what went back (``returned.json``) lives on the GPU machine beside the runs' folder: it is lost
with the machine, and so is everything it describes. ``scripts/campaign.sh collect:all`` calls
:func:`collect` through ``python -m resattn_min campaign collect``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

from ..atomic import write_json
from ..train.checkpoint import list_checkpoints
from ..train.compilation import artifact_files
from .campaign import CARRIED, COMPILED
from .campaign_pieces import PIECE_BYTES, split_file

__all__ = ["RETURN_BYTES", "RETURN_FILES", "choose", "collect"]

#: What one call may return for the checkpoints: 8 files and 64 MiB, less one file and 1 MiB for
#: the runs' learning curves (``runs.tgz``).
RETURN_BYTES, RETURN_FILES = 63 * 2**20, 7


def _pieces(size: int, piece: int = PIECE_BYTES) -> int:
    """How many returned files a file of ``size`` bytes takes (:func:`split_file`'s pieces)."""
    return max(1, math.ceil(size / piece))


def choose(newest: dict[str, tuple[str, int]], returned: dict[str, dict], max_bytes: int = RETURN_BYTES,
           max_files: int = RETURN_FILES, piece: int = PIECE_BYTES) -> tuple[list[str], dict[str, str]]:
    """The runs whose checkpoints this call returns, and why each other run is left out.

    ``newest`` maps a run to its newest checkpoint's (file name, bytes); ``returned`` maps a run to
    ``{"checkpoint": name, "call": n}`` of its last return.
    """
    left = {}
    fresh = []
    for run, (name, _) in newest.items():
        if returned.get(run, {}).get("checkpoint") == name:
            left[run] = f"{name} went back in call {returned[run]['call']}"
        else:
            fresh.append(run)
    fresh.sort(key=lambda run: returned.get(run, {}).get("call", -1))  # stable: the given order breaks ties
    chosen, room, files = [], max_bytes, max_files
    for run in fresh:
        size = newest[run][1]
        pieces = _pieces(size, piece)
        if size <= room and pieces <= files:
            chosen.append(run)
            room, files = room - size, files - pieces
        else:
            left[run] = f"{newest[run][0]} does not fit in this call ({size / 2**20:.1f} MiB); the next one"
    return chosen, left


def collect(runs_dir: Path, out_dir: Path, runs: list[str], record: Path | None = None,
            max_bytes: int = RETURN_BYTES, max_files: int = RETURN_FILES) -> list[str]:
    """Split the newest checkpoints of the :func:`choose`-n runs into ``out_dir/<run>/``; returns one line
    per run saying what happened. ``record`` (default: ``returned.json`` beside ``runs_dir``) remembers
    the returns."""
    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    record = Path(record) if record else runs_dir.parent / "returned.json"
    returned = json.loads(record.read_text()) if record.is_file() else {}
    compiled_calls = returned.get(COMPILED, {}).values()
    call = 1 + max([r["call"] for run, r in returned.items() if run != COMPILED] + list(compiled_calls),
                   default=0)
    held = runs_dir.parent / ".collect"  # hard links: the trainer may remove a checkpoint being split
    shutil.rmtree(held, ignore_errors=True)
    newest = {}
    for run in runs:
        for _ in range(3):  # the trainer removes its older checkpoint after it writes a newer one
            found = list_checkpoints(runs_dir / run)
            if not found:
                break
            link = held / run / found[-1].name
            link.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(found[-1], link)
            except FileNotFoundError:
                continue
            newest[run] = (link.name, link.stat().st_size)
            break
    chosen, left = choose(newest, returned, max_bytes, max_files)
    lines = []
    for run in chosen:
        name = newest[run][0]
        parts = split_file(held / run / name, out_dir / run)
        returned[run] = {"checkpoint": name, "call": call}
        lines.append(f"{run}: {name} in {len(parts)} piece(s)")
    shutil.rmtree(held, ignore_errors=True)
    lines += [f"{run}: left out, {why}" for run, why in left.items()]
    lines += [f"{run}: no checkpoint yet" for run in runs if run not in newest]
    room = max_bytes - sum(newest[run][1] for run in chosen)
    files = max_files - sum(_pieces(newest[run][1]) for run in chosen)
    lines += _collect_compiled(runs_dir / COMPILED, out_dir / COMPILED, returned.setdefault(COMPILED, {}),
                               call, room, files)
    write_json(record, returned)
    return lines


def _collect_compiled(folder: Path, out_dir: Path, returned: dict[str, int], call: int, room: int,
                      files: int) -> list[str]:
    """Split the files of compiled graphs not returned yet into ``out_dir``, while ``room`` bytes and
    ``files`` files allow; ``returned`` (file name -> call) is updated. Files older than ``folder/.carried``
    (``scripts/campaign.sh stage`` touches it) came from this machine's store and do not go back."""
    lines = []
    carried = folder / CARRIED  # touched when the session's graphs came in: only newer ones go back
    since = carried.stat().st_mtime if carried.is_file() else float("-inf")
    for path in artifact_files(folder):
        if path.name in returned or path.stat().st_mtime <= since:
            continue
        size = path.stat().st_size
        pieces = _pieces(size)
        if size > room or pieces > files:
            lines.append(f"{COMPILED}: left out, {path.name} does not fit in this call "
                         f"({size / 2**20:.1f} MiB); a later one")
            continue
        split_file(path, out_dir)
        returned[path.name] = call
        room, files = room - size, files - pieces
        lines.append(f"{COMPILED}: {path.name} ({size / 2**20:.1f} MiB) in {pieces} piece(s)")
    return lines
