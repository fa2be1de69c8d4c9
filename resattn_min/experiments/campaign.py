"""The paper's full-length CIFAR runs, carried across working sessions: a ledger, segments, checkpoints.

A run of 160,000 iterations is longer than the GPU time of one working session, so it is trained in
*segments*: each GPU session resumes every unfinished run from its newest checkpoint, trains until a
deadline, and brings the checkpoints back. Three things make that routine:

* the **ledger** (``results/campaign/ledger.json``, kept in git): every run of the campaign with its
  experiment and seed, the iteration it reached, its status and every segment (iterations, wall time,
  images/s, device, commit, date), so the next session knows where to go on even if a checkpoint is lost;
* the **store** (``~/resattn-campaign/<run>/``, outside the repository) and the **bank** (git's history,
  ``campaign_bank.py``): each unfinished run's newest checkpoint between sessions. A run whose checkpoint
  neither holds is marked ``lost`` and starts again;
* **pieces**: a GPU call brings back files of at most 16 MiB and carries at most 64 MiB, so checkpoints
  travel split into pieces (``campaign_pieces.py``).

The trainer records the segments itself (in each checkpoint and in ``results.json``); the ledger copies
them. ``python -m resattn_min campaign status`` prints the ledger.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from ..atomic import write_json
from ..env import RESULTS
from ..train.checkpoint import list_checkpoints, load_checkpoint, weight_gap
from ..train.compilation import artifact_files
from .campaign_curves import RUN_FILES, copy_run_files
from .campaign_pieces import PIECE_BYTES, join_pieces, split_file
from .catalog import get_experiment

__all__ = [
    "RUNS", "LEDGER", "STORE", "CURVES", "PIECE_BYTES", "RUN_FILES", "new_ledger", "load_ledger",
    "update_ledger", "check_store", "split_file", "join_pieces", "pack_checkpoints", "status_lines",
    "save_ledger", "split_run_report", "pack_for_calls", "CARRY_BYTES", "COMPILED", "CARRIED",
]

#: Issue 16's runs, by priority: Table 6 with three seeds each, then the deepest pair of Table 3.
RUNS = ("attention92", "resnet164", "attention92_s1", "resnet164_s1", "attention92_s2", "resnet164_s2",
        "attention164_arl", "attention164_nal")
LEDGER = RESULTS / "campaign" / "ledger.json"
STORE = Path(os.environ.get("RESATTN_CAMPAIGN_STORE", "~/resattn-campaign")).expanduser()
#: Where the learning curves of unfinished runs are kept in git (a finished run's folder holds its own).
CURVES = RESULTS / "campaign" / "runs"
TARGET = 160_000
#: What one device call may carry, the working tree included, and the room kept for a run's small files.
CARRY_BYTES, CARRY_SLACK = 64 * 2**20, 2**18
#: The folder, beside the runs' (and in the store), of the compiled graphs the runs read before their
#: first step (``compile_artifacts``): with them a process starts training in seconds, not minutes.
COMPILED = "compiled"
#: A file in that folder on the GPU machine, touched after the graphs carried in were joined: the ones
#: not newer came from the store and need not go back.
CARRIED = ".carried"


def new_ledger(runs: tuple[str, ...] = RUNS) -> dict:
    """A ledger of ``runs`` (experiment names), none started."""
    entries = {}
    for name in runs:
        exp = get_experiment(name)
        entries[name] = {"model": exp.model, "options": {k: v for k, v in exp.options.items() if k != "seed"},
                         "seed": exp.options.get("seed", 0), "target_iterations": TARGET, "iteration": 0,
                         "status": "waiting", "checkpoint": None, "segments": []}
    return {"campaign": "CIFAR-10 (JPEG copy), the paper's full schedule", "runs_dir": "cifar10_jpeg_full",
            "store": "~/resattn-campaign/<run>/ (outside the repository)", "runs": entries}


def load_ledger(path: Path = LEDGER) -> dict:
    import json

    return json.loads(Path(path).read_text()) if Path(path).is_file() else new_ledger()


def update_ledger(ledger: dict, runs_dir: Path, store: Path = STORE, curves: Path = CURVES,
                  finished: Path | None = None) -> list[str]:
    """Take in what a GPU session left in ``runs_dir`` (one folder per run); returns what changed.

    A finished run (``results.json``) is ``done`` with its final error, and its results, log and metrics
    go to ``finished/<run>/`` (default ``results/<ledger's runs_dir>/``, a group of the runs on record);
    its last checkpoint, if it came back, replaces its paused one in ``store``.
    An unfinished one is ``paused`` at its newest checkpoint, which is copied into ``store`` (replacing
    the run's older one there) with the run's log and metrics; those also go to ``curves`` (in the
    repository) until the run is done.
    """
    finished = Path(finished) if finished is not None else RESULTS / ledger["runs_dir"]
    changes = []
    for name, entry in ledger["runs"].items():
        folder = Path(runs_dir) / name
        results = folder / "results.json"
        if results.is_file():
            r = json.loads(results.read_text())
            if (Path(curves) / name).is_dir():  # the history, should the GPU's files lack it
                copy_run_files(Path(curves) / name, finished / name)
            copy_run_files(folder, finished / name)
            shutil.copy2(results, finished / name / "results.json")
            final = _keep_final(folder, Path(store) / name, r["iterations"])
            entry.update(status="done", iteration=r["iterations"], segments=r.get("segments", []),
                         test_error=r["test_error"], checkpoint=final)
            changes.append(f"{name}: done at {r['iterations']}, test error {100 * r['test_error']:.2f}%"
                           + (f" ({final} kept in {Path(store) / name})" if final else ""))
            continue
        found = list_checkpoints(folder) if folder.is_dir() else []
        if not found:
            continue
        newest = found[-1]
        state = torch.load(newest, map_location="cpu", weights_only=True)
        if state["iteration"] <= entry["iteration"] and entry["status"] != "lost":
            continue
        kept = Path(store) / name
        _keep_in_store(newest, kept)
        copy_run_files(folder, kept, Path(curves) / name)
        entry.update(status="paused", iteration=state["iteration"], segments=state.get("segments", []),
                     checkpoint=newest.name)
        changes.append(f"{name}: paused at {state['iteration']} ({newest.name} kept in {kept})")
    return changes + _store_compiled(Path(runs_dir) / COMPILED, Path(store) / COMPILED)


def _keep_final(folder: Path, kept: Path, iterations: int) -> str | None:
    """A finished run's last checkpoint, if it came back, into the store in place of its paused one
    (the trained network: ``share-weights`` makes the shipped file from it); returns its name."""
    found = list_checkpoints(folder) if folder.is_dir() else []
    if not found or torch.load(found[-1], map_location="cpu", weights_only=True)["iteration"] != iterations:
        return None
    _keep_in_store(found[-1], kept)
    return found[-1].name


def _keep_in_store(checkpoint: Path, kept: Path) -> None:
    """``checkpoint`` into its run's folder of the store, in place of the one there (one per run)."""
    kept.mkdir(parents=True, exist_ok=True)
    for old in kept.glob("checkpoint-*.pt"):
        old.unlink()
    shutil.copy2(checkpoint, kept / checkpoint.name)


def _store_compiled(folder: Path, store: Path) -> list[str]:
    """Keep the compiled graphs a session brought back (``compiled/``) in the store, for the next one."""
    changes = []
    for path in artifact_files(folder):
        if not (store / path.name).is_file():
            store.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, store / path.name)
            changes.append(f"{COMPILED}: {path.name} ({path.stat().st_size / 2**20:.1f} MiB) kept in {store}")
    return changes


def check_store(ledger: dict, store: Path = STORE, curves: Path = CURVES) -> list[str]:
    """Mark ``lost`` every started, unfinished run whose checkpoint the store no longer holds (bring
    them back from the bank first: ``campaign_bank.withdraw``). The lost attempt stays on record: its
    segments in the ledger's ``lost`` list, its learning curve moved to
    ``<curves>/../lost/<run>-<iteration>/``."""
    lost = []
    for name, entry in ledger["runs"].items():
        if entry["status"] == "paused" and not (Path(store) / name / str(entry["checkpoint"])).is_file():
            kept = Path(curves).parent / "lost" / f"{name}-{entry['iteration']}"
            if (Path(curves) / name).is_dir():
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(Path(curves) / name, kept)
            entry.setdefault("lost", []).append(
                {"iteration": entry["iteration"], "checkpoint": entry["checkpoint"],
                 "segments": entry["segments"],
                 "curve": str(kept.relative_to(Path(curves).parent.parent)) if kept.is_dir() else None})
            lost.append(f"{name}: checkpoint {entry['checkpoint']} missing from {store}; starts again")
            entry.update(status="lost", iteration=0, checkpoint=None, segments=[])
            entry.pop("bank", None)
    return lost


def pack_checkpoints(ledger: dict, store: Path, out_dir: Path, runs: list[str] | None = None,
                     max_bytes: int = 44 * 2**20) -> list[str]:
    """Split the stored checkpoints of ``runs`` (default: every paused run) into ``out_dir/<run>/``,
    taking whole runs until ``max_bytes``; returns the runs packed (the rest go in a later call)."""
    packed, total = [], 0
    for name in runs or [n for n, e in ledger["runs"].items() if e["status"] == "paused"]:
        path = Path(store) / name / str(ledger["runs"][name]["checkpoint"])
        size = path.stat().st_size
        if packed and total + size > max_bytes:
            break
        split_file(path, Path(out_dir) / name)
        copy_run_files(path.parent, Path(out_dir) / name)
        packed.append(name)
        total += size
    return packed


def pack_for_calls(ledger: dict, store: Path, stage: Path, tree_bytes: int, first: tuple[Path, ...] = (),
                   runs: list[str] | None = None, limit: int = CARRY_BYTES) -> list[list[str]]:
    """Pack the stored checkpoints of ``runs`` (default: every paused run) into ``stage/ckpt1``,
    ``stage/ckpt2``, ... so that each device call carries at most ``limit`` bytes with the working tree
    (``tree_bytes``); the first call also carries the files ``first`` (the data), copied into ``stage``.
    Returns what each call carries (paths relative to the stage's parent), in order."""
    stage = Path(stage)
    stage.mkdir(parents=True, exist_ok=True)
    todo = list(runs or [n for n, e in ledger["runs"].items() if e["status"] == "paused"])
    size = {r: (Path(store) / r / str(ledger["runs"][r]["checkpoint"])).stat().st_size + CARRY_SLACK
            for r in todo}
    graphs = [g for g in artifact_files(Path(store) / COMPILED)  # after the runs,
              if g.stat().st_size + CARRY_SLACK <= limit - tree_bytes]  # where one fits in a call
    size |= {f"{COMPILED}/{g.name}": g.stat().st_size + CARRY_SLACK for g in graphs}
    todo += [f"{COMPILED}/{g.name}" for g in graphs]
    carried = []
    for path in first:
        shutil.copy2(path, stage / Path(path).name)
        carried.append(f"{stage.name}/{Path(path).name}")
    room = limit - tree_bytes - sum(Path(p).stat().st_size for p in first)
    calls = []
    while todo:
        group = []
        for run in todo:  # whole runs, in order of priority, while they fit
            if size[run] <= room:
                group.append(run)
                room -= size[run]
        if not group and not carried:
            raise ValueError(f"{todo[0]}'s checkpoint ({size[todo[0]] / 2**20:.1f} MiB) does not fit in a "
                             f"call beside the working tree ({tree_bytes / 2**20:.1f} MiB)")
        if group:
            folder = f"ckpt{len(calls) + 1}"
            runs_in = [r for r in group if not r.startswith(f"{COMPILED}/")]
            if runs_in:
                pack_checkpoints(ledger, store, stage / folder, runs_in, limit)
            for graph in (r for r in group if r not in runs_in):
                split_file(Path(store) / graph, stage / folder / COMPILED)
            carried.append(f"{stage.name}/{folder}")
            todo = [r for r in todo if r not in group]
        calls.append(carried)
        carried, room = [], limit - tree_bytes
    return calls + ([carried] if carried else [])


def status_lines(ledger: dict) -> list[str]:
    """One line per run: status, iteration reached, segments, and the error of a finished run."""
    lines = [f"{'run':<20}{'status':<9}{'iteration':>10}{'of':>8}{'segments':>10}  test error"]
    for name, e in ledger["runs"].items():
        error = f"{100 * e['test_error']:.2f}%" if "test_error" in e else "-"
        lines.append(f"{name:<20}{e['status']:<9}{e['iteration']:>10}{e['target_iterations']:>8}"
                     f"{len(e['segments']):>10}  {error}")
    return lines


def save_ledger(ledger: dict, path: Path = LEDGER) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_json(path, ledger)


def split_run_report(runs: Path, split: int) -> dict:
    """Is a run split across two processes the run trained in one go? ``runs`` holds three folders of
    one configuration: ``A`` and ``C`` trained in one go (their difference is the floor that kernels
    without a deterministic version leave), ``D`` resumed from ``C``'s checkpoint at ``split`` in another
    process. The split is exact when ``D`` ends where ``C`` does (same data position) and differs from
    it no more than twice the floor, bit for bit when the floor is zero (``scripts/resume_check.sh``)."""
    import json

    import pandas as pd

    final = {n: load_checkpoint(list_checkpoints(runs / n)[-1]) for n in "ACD"}
    results = {n: json.loads((runs / n / "results.json").read_text()) for n in "ACD"}
    curves = {n: pd.read_csv(runs / n / "metrics.csv").set_index("iteration") for n in "ACD"}
    after = curves["C"].index[curves["C"].index > split]

    def loss_gap(a: str, b: str) -> float:
        return float((curves[a].loc[after, "train_loss"] - curves[b].loc[after, "train_loss"]).abs().max())

    floor = weight_gap(final["A"]["model"], final["C"]["model"])
    gap = weight_gap(final["D"]["model"], final["C"]["model"])
    same_end = final["D"]["data"] == final["C"]["data"] and final["D"]["iteration"] == final["C"]["iteration"]
    return {"split": split, "resumed_from": results["D"]["resumed_from"],
            "iterations": {n: r["iterations"] for n, r in results.items()},
            "test_error": {n: r["test_error"] for n, r in results.items()},
            "weight_gap_floor_A_vs_C": floor, "weight_gap_split_D_vs_C": gap,
            "loss_gap_floor_A_vs_C": loss_gap("A", "C"), "loss_gap_split_D_vs_C": loss_gap("D", "C"),
            "same_end": same_end, "split_is_exact": same_end and gap <= 2 * floor,
            **{k: results["D"][k] for k in ("device", "git_commit", "date", "torch")}}
