"""The bank: the campaign's unfinished checkpoints kept in git's history, out of its working tree.

Between two sessions a paused run's newest checkpoint used to wait only in the store outside the
repository (``~/resattn-campaign``). On 2026-12-03 the store was gone: the working machine came back
fresh, and only what had landed in git remained, so six runs at 51,000-68,000 iterations had to start
again (the ledger's ``lost`` entries). What lands is git's history, so the checkpoints go there too:

* :func:`deposit` commits the newest checkpoint of every paused run, and the last one of every finished
  run (the trained network the book ships and looks into), once (the *deposit* commit), then
  removes it from the tree in the next commit, which also records in the ledger where each one lives
  (commit, path, SHA-256). The tree stays small (a GPU call carries the whole working tree, 64 MiB at
  most); the history grows by one checkpoint per run and session (14-15 MiB for Attention-92 or
  ResNet-164) until the run is done.
* :func:`withdraw` brings a checkpoint the store lacks back from that commit (``git show``) and checks
  its SHA-256; ``campaign check`` calls it before it declares a run lost.

The store's files of compiled graphs (``compiled/``, ``train/compilation.py``) go into the same deposit
when they are new, and come back the same way: losing them costs every process a compile (150-160 s
for Attention-92 on the H200), and they change only with the networks or torch. The ledger's
``compiled`` entry lists the files the store held at the last deposit, and only those come back.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from ..atomic import write_atomic, write_json
from ..train.compilation import artifact_files
from .campaign import COMPILED, CURVES
from .campaign_curves import copy_run_files

__all__ = ["BANK", "deposit", "withdraw", "sha256_of", "tree_bytes"]

#: Where a deposit commit holds the checkpoints, relative to the repository.
BANK = "results/campaign/bank"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def _git(repo: Path, *args: str, text: bool = True) -> str | bytes:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=text)
    if done.returncode != 0:
        err = done.stderr if text else done.stderr.decode(errors="replace")
        raise RuntimeError(f"git {' '.join(args[:2])} failed: {err.strip()}")
    return done.stdout.strip() if text else done.stdout


def tree_bytes(repo: Path) -> int:
    """What a device call carries of ``repo``'s working tree, the reason checkpoints stay out of it:
    tracked files and untracked ones git does not ignore (a symbolic link travels as a link)."""
    listed = _git(Path(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard", text=False)
    files = (Path(repo) / name.decode() for name in listed.split(b"\0") if name)
    return sum(f.stat().st_size for f in files if f.is_file() and not f.is_symlink())


def _holdings(ledger: dict, store: Path) -> list[tuple[str, dict, Path, str]]:
    """What the bank keeps: each paused run's newest checkpoint and each finished run's last one (its
    trained network, when it came back), as (run, the ledger entry that records it, its file in the
    store, its path in the bank)."""
    return [(name, entry, Path(store) / name / str(entry["checkpoint"]),
             f"{BANK}/{name}/{entry['checkpoint']}")
            for name, entry in ledger["runs"].items()
            if entry["status"] == "paused" or (entry["status"] == "done" and entry.get("checkpoint"))]


def deposit(ledger: dict, store: Path, repo: Path, ledger_path: Path) -> str | None:
    """Commit every paused run's stored checkpoint that the bank does not hold yet, then take them out
    of the tree and record in the ledger (``ledger_path``, in ``repo``) where they
    are, in a second commit. Returns the deposit commit, or None when there was nothing to bank."""
    repo, due = Path(repo), []
    for label, entry, source, rel in _holdings(ledger, store):
        if not source.is_file():
            raise FileNotFoundError(f"{label}: {source} is not in the store; run 'campaign check' first")
        digest = sha256_of(source)
        if (entry.get("bank") or {}).get("sha256") == digest:
            continue
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, repo / rel)
        entry["bank"] = {"checkpoint": source.name, "path": rel, "sha256": digest,
                         "bytes": source.stat().st_size}
        due.append((label, entry, rel))
    due += _compiled_due(ledger, Path(store), repo)
    if not due:
        return None
    paths = [rel for _, _, rel in due]
    _git(repo, "add", "-f", "--", *paths)
    summary = ", ".join(f"{label} at {e['iteration']:,}" if "iteration" in e else label
                        for label, e, _ in due)
    _git(repo, "commit", "-q", "-m", f"campaign bank: {summary}", "--", *paths)
    commit = _git(repo, "rev-parse", "HEAD")
    for _, entry, _ in due:
        entry["bank"]["commit"] = commit
    _git(repo, "rm", "-q", "-r", "--", BANK)
    ledger_path = Path(ledger_path)
    write_json(ledger_path, ledger)
    rel_ledger = str(ledger_path.resolve().relative_to(repo.resolve()))
    _git(repo, "add", "--", rel_ledger)
    _git(repo, "commit", "-q", "-m", f"campaign ledger: checkpoints banked in {commit[:10]}, out of the "
         "tree again", "--", BANK, rel_ledger)
    return commit


def withdraw(ledger: dict, store: Path, repo: Path, curves: Path = CURVES) -> list[str]:
    """Bring back from the bank every paused run's checkpoint that ``store``
    lacks, with the run's learning curve so far from ``curves`` (the bank holds checkpoints only);
    returns what it did. A file whose commit is not in this repository's history, or whose bytes
    differ from the recorded SHA-256, stays missing (``campaign check`` then marks the run lost)."""
    said = []
    for label, entry, target, _ in _holdings(ledger, store):
        bank = entry.get("bank") or {}
        if target.is_file() or bank.get("checkpoint") != target.name:
            continue
        if not _bring_back(Path(repo), bank, target, label, said):
            continue
        if (Path(curves) / label).is_dir():
            copy_run_files(Path(curves) / label, target.parent)
    for name, bank in (ledger.get(COMPILED) or {}).items():
        target = Path(store) / COMPILED / name
        if not target.is_file():
            _bring_back(Path(repo), bank, target, COMPILED, said)
    return said


def _compiled_due(ledger: dict, store: Path, repo: Path) -> list[tuple[str, dict, str]]:
    """Copy into the bank's folder the store's files of compiled graphs that the bank does not hold
    yet; the ledger's ``compiled`` entry becomes the store's files (banked before, or now). A store
    without any (not yet brought back) leaves the entry as it is."""
    folder, banked, held, due = store / COMPILED, ledger.get(COMPILED) or {}, {}, []
    files = artifact_files(folder)
    if not files:
        return []
    for source in files:
        digest = sha256_of(source)
        if (banked.get(source.name) or {}).get("sha256") == digest:
            held[source.name] = banked[source.name]
            continue
        rel = f"{BANK}/{COMPILED}/{source.name}"
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, repo / rel)
        held[source.name] = {"path": rel, "sha256": digest, "bytes": source.stat().st_size}
        due.append((f"{COMPILED}/{source.name}", {"bank": held[source.name]}, rel))
    ledger[COMPILED] = held
    return due


def _bring_back(repo: Path, bank: dict, target: Path, label: str, said: list[str]) -> bool:
    """Write the bank's copy of ``target`` (``bank``: commit, path, SHA-256) and say so in ``said``;
    False, with the reason said, when the commit is not here or the bytes do not match."""
    try:
        blob = _git(repo, "show", f"{bank['commit']}:{bank['path']}", text=False)
    except RuntimeError as err:
        said.append(f"{label}: not in the bank here ({err})")
        return False
    if hashlib.sha256(blob).hexdigest() != bank["sha256"]:
        said.append(f"{label}: the bank's copy of {target.name} does not match its SHA-256")
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, lambda f: f.write(blob))
    said.append(f"{label}: {target.name} brought back from commit {bank['commit'][:10]}")
    return True
