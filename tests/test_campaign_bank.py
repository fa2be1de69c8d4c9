"""The bank keeps a paused run's checkpoint in git's history, out of the tree, and brings it back."""

import json
import shutil
import subprocess

import pytest
import torch

from resattn_min.experiments import campaign
from resattn_min.experiments.campaign_bank import BANK, deposit, sha256_of, withdraw


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "results" / "campaign").mkdir(parents=True)
    (repo / ".gitignore").write_text("*.pt\n")  # as in the project: checkpoints are ignored
    _git(tmp_path, "init", "-q", str(repo))
    _git(repo, "config", "user.email", "t@example.org")
    _git(repo, "config", "user.name", "test")
    _git(repo, "add", ".gitignore")
    _git(repo, "commit", "-q", "-m", "start")
    return repo


def _paused(store, name, iteration):
    ledger = campaign.new_ledger(("attention92",))
    ledger["runs"] = {name: {**ledger["runs"]["attention92"], "status": "paused", "iteration": iteration,
                             "checkpoint": f"checkpoint-{iteration:08d}.pt"}}
    (store / name).mkdir(parents=True)
    state = {"iteration": iteration, "model": {"w": torch.randn(64)}}
    torch.save(state, store / name / f"checkpoint-{iteration:08d}.pt")
    return ledger


def test_a_deposit_lives_in_history_not_in_the_tree_and_comes_back_bit_for_bit(repo, tmp_path):
    store = tmp_path / "store"
    ledger = _paused(store, "run_a", 4000)
    original = (store / "run_a" / "checkpoint-00004000.pt").read_bytes()
    commit = deposit(ledger, store, repo, repo / "results" / "campaign" / "ledger.json")
    bank = ledger["runs"]["run_a"]["bank"]
    assert bank["commit"] == commit and bank["path"] == f"{BANK}/run_a/checkpoint-00004000.pt"
    assert bank["sha256"] == sha256_of(store / "run_a" / "checkpoint-00004000.pt")
    # the tip of the branch holds the ledger that says where the checkpoint is, not the checkpoint
    assert _git(repo, "ls-files", BANK) == ""
    tip = json.loads(_git(repo, "show", "HEAD:results/campaign/ledger.json"))
    assert tip["runs"]["run_a"]["bank"] == bank
    assert _git(repo, "status", "--porcelain") == ""
    # a new machine: an empty store, the repository cloned
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(repo), str(clone))
    fresh = tmp_path / "fresh-store"
    curves = tmp_path / "curves"  # the learning curve so far, in the repository
    (curves / "run_a").mkdir(parents=True)
    (curves / "run_a" / "metrics.csv").write_text("iteration,train_loss\n2000,1.5\n4000,1.2\n")
    (said,) = withdraw(ledger, fresh, clone, curves)
    assert "brought back" in said
    assert (fresh / "run_a" / "checkpoint-00004000.pt").read_bytes() == original
    # with its history: the GPU continues the curve instead of starting one at iteration 4,000
    assert (fresh / "run_a" / "metrics.csv").read_text() == (curves / "run_a" / "metrics.csv").read_text()
    assert campaign.check_store(ledger, fresh, tmp_path / "curves") == []  # nothing lost
    assert deposit(ledger, store, repo, repo / "ledger.json") is None  # already banked


def test_a_checkpoint_not_in_the_history_or_not_matching_stays_missing_and_is_lost(repo, tmp_path):
    store = tmp_path / "store"
    ledger = _paused(store, "run_a", 4000)
    deposit(ledger, store, repo, repo / "results" / "campaign" / "ledger.json")
    ledger["runs"]["run_a"]["bank"]["sha256"] = "0" * 64
    (said,) = withdraw(ledger, tmp_path / "fresh", repo)
    assert "does not match" in said
    ledger["runs"]["run_a"]["bank"]["commit"] = "f" * 40
    (said,) = withdraw(ledger, tmp_path / "fresh", repo)
    assert "not in the bank" in said
    (lost,) = campaign.check_store(ledger, tmp_path / "fresh", tmp_path / "curves")
    assert "starts again" in lost and "bank" not in ledger["runs"]["run_a"]


def test_the_tree_a_call_carries_counts_tracked_and_unignored_files_not_ignored_ones_or_links(repo):
    from resattn_min.experiments.campaign_bank import tree_bytes

    base = tree_bytes(repo)  # the fixture's .gitignore
    (repo / "notes.md").write_bytes(b"n" * 1000)  # untracked, not ignored: it travels
    (repo / "weights.pt").write_bytes(b"w" * 5000)  # ignored: it stays
    (repo / "link.md").symlink_to(repo / "notes.md")  # a link travels as a link
    assert tree_bytes(repo) == base + 1000


def test_the_compiled_graphs_are_banked_once_and_come_back_to_a_fresh_store(repo, tmp_path):
    """A fresh machine lost them three times: every process then compiles again (150-160 s for
    Attention-92 on the H200). Only the files the store holds at a deposit come back."""
    store = tmp_path / "store"
    ledger = _paused(store, "run_a", 4000)
    (store / "compiled").mkdir()
    graphs = store / "compiled" / "net-0123456789ab.compiled.gz"
    graphs.write_bytes(b"graphs" * 100)
    deposit(ledger, store, repo, repo / "results" / "campaign" / "ledger.json")
    kept = ledger["compiled"]["net-0123456789ab.compiled.gz"]
    assert kept["sha256"] == sha256_of(graphs) and kept["commit"] == ledger["runs"]["run_a"]["bank"]["commit"]
    assert _git(repo, "ls-files", BANK) == "" and _git(repo, "status", "--porcelain") == ""
    fresh = tmp_path / "fresh"
    said = withdraw(ledger, fresh, repo)
    assert len(said) == 2 and all("brought back" in line for line in said)
    assert (fresh / "compiled" / graphs.name).read_bytes() == graphs.read_bytes()
    assert deposit(ledger, store, repo, repo / "ledger.json") is None  # nothing new: no commit
    # a store whose graphs were not brought back yet forgets nothing of the bank's
    shutil.rmtree(fresh / "compiled")
    assert deposit(ledger, fresh, repo, repo / "ledger.json") is None
    assert list(ledger["compiled"]) == [graphs.name]
    # newer graphs replace the old (another torch): the old ones are no longer brought back
    graphs.unlink()
    (store / "compiled" / "net-ba9876543210.compiled.gz").write_bytes(b"newer" * 100)
    second = deposit(ledger, store, repo, repo / "results" / "campaign" / "ledger.json")
    assert list(ledger["compiled"]) == ["net-ba9876543210.compiled.gz"]
    assert ledger["compiled"]["net-ba9876543210.compiled.gz"]["commit"] == second
    emptier = tmp_path / "emptier"
    assert [line.split(":")[0] for line in withdraw(ledger, emptier, repo)] == ["run_a", "compiled"]
    assert [p.name for p in (emptier / "compiled").iterdir()] == ["net-ba9876543210.compiled.gz"]


def test_a_finished_runs_trained_network_is_banked_and_comes_back(repo, tmp_path):
    """The final checkpoint is what the shipped weights and chapter 11's masks are made from; a session
    that ends before they are made must not lose it with the working machine."""
    store = tmp_path / "store"
    ledger = _paused(store, "run_a", 160_000)
    ledger["runs"]["run_a"].update(status="done", test_error=0.05)
    deposit(ledger, store, repo, repo / "results" / "campaign" / "ledger.json")
    assert ledger["runs"]["run_a"]["bank"]["checkpoint"] == "checkpoint-00160000.pt"
    fresh = tmp_path / "fresh"
    (said,) = withdraw(ledger, fresh, repo)
    assert "brought back" in said
    assert (fresh / "run_a" / "checkpoint-00160000.pt").read_bytes() == (
        store / "run_a" / "checkpoint-00160000.pt").read_bytes()
    assert campaign.check_store(ledger, fresh) == []  # a done run is never 'lost'
    ledger["runs"]["run_a"]["checkpoint"] = None  # a run finished before its checkpoint came back
    assert deposit(ledger, tmp_path / "empty", repo, repo / "ledger.json") is None
