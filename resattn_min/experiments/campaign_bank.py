"""The bank: the campaign's unfinished checkpoints kept in git's history, out of its working tree.

Between two sessions a paused run's newest checkpoint used to wait only in the store outside the
repository (``~/resattn-campaign``). On 2026-12-03 the store was gone: the working machine came back
fresh, and only what had landed in git remained, so six runs at 51,000-68,000 iterations had to start
again (the ledger's ``lost`` entries). What lands is git's history, so the checkpoints go there too:

* :func:`deposit` commits the newest checkpoint of every paused run once (the *deposit* commit), then
  removes it from the tree in the next commit, which also records in the ledger where each one lives
  (commit, path, SHA-256). The tree stays small (a GPU call carries the whole working tree, 64 MiB at
  most); the history grows by one checkpoint per run and session (14-15 MiB for Attention-92 or
  ResNet-164) until the run is done.
* :func:`withdraw` brings a checkpoint the store lacks back from that commit (``git show``) and checks
  its SHA-256; ``campaign check`` calls it before it declares a run lost.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from ..atomic import write_atomic, write_json

__all__ = ["BANK", "deposit", "withdraw", "sha256_of"]

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


def deposit(ledger: dict, store: Path, repo: Path, ledger_path: Path) -> str | None:
    """Commit every paused run's stored checkpoint that the bank does not hold yet, then take them out
    of the tree and record in the ledger (``ledger_path``, in ``repo``) where they are, in a second
    commit. Returns the deposit commit, or None when there was nothing to bank."""
    due = {name: e for name, e in ledger["runs"].items()
           if e["status"] == "paused" and (e.get("bank") or {}).get("checkpoint") != e["checkpoint"]}
    if not due:
        return None
    repo, paths = Path(repo), []
    for name, entry in due.items():
        source = Path(store) / name / entry["checkpoint"]
        if not source.is_file():
            raise FileNotFoundError(f"{name}: {source} is not in the store; run 'campaign check' first")
        rel = f"{BANK}/{name}/{entry['checkpoint']}"
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, repo / rel)
        entry["bank"] = {"checkpoint": entry["checkpoint"], "path": rel, "sha256": sha256_of(source),
                         "bytes": source.stat().st_size}
        paths.append(rel)
    _git(repo, "add", "-f", "--", *paths)
    summary = ", ".join(f"{n} at {e['iteration']:,}" for n, e in due.items())
    _git(repo, "commit", "-q", "-m", f"campaign bank: checkpoints of {summary}", "--", *paths)
    commit = _git(repo, "rev-parse", "HEAD")
    for entry in due.values():
        entry["bank"]["commit"] = commit
    _git(repo, "rm", "-q", "-r", "--", BANK)
    ledger_path = Path(ledger_path)
    write_json(ledger_path, ledger)
    rel_ledger = str(ledger_path.resolve().relative_to(repo.resolve()))
    _git(repo, "add", "--", rel_ledger)
    _git(repo, "commit", "-q", "-m", f"campaign ledger: checkpoints banked in {commit[:10]}, out of the "
         "tree again", "--", BANK, rel_ledger)
    return commit


def withdraw(ledger: dict, store: Path, repo: Path) -> list[str]:
    """Bring back from the bank every paused run's checkpoint that ``store`` lacks; returns what it did.
    A checkpoint whose commit is not in this repository's history, or whose bytes differ from the
    recorded SHA-256, stays missing (``campaign check`` then marks the run lost)."""
    said = []
    for name, entry in ledger["runs"].items():
        bank = entry.get("bank") or {}
        target = Path(store) / name / str(entry["checkpoint"])
        if entry["status"] != "paused" or target.is_file() or bank.get("checkpoint") != entry["checkpoint"]:
            continue
        try:
            blob = _git(Path(repo), "show", f"{bank['commit']}:{bank['path']}", text=False)
        except RuntimeError as err:
            said.append(f"{name}: not in the bank here ({err})")
            continue
        if hashlib.sha256(blob).hexdigest() != bank["sha256"]:
            said.append(f"{name}: the bank's copy of {entry['checkpoint']} does not match its SHA-256")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, lambda f, blob=blob: f.write(blob))
        said.append(f"{name}: {entry['checkpoint']} brought back from commit {bank['commit'][:10]}")
    return said
