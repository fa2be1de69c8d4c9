"""Runs that span sessions (resattn_min.experiments.campaign): segments, the ledger, checkpoints in pieces."""

import json
import tarfile

import pytest
import torch
from _train_helpers import one_thread, tiny_config  # noqa: F401  (one_thread: an autouse fixture)

from resattn_min.experiments import campaign
from resattn_min.experiments.campaign_pieces import receive
from resattn_min.train.loop import train


def test_pieces_put_back_together_bitwise(tmp_path):
    original = tmp_path / "checkpoint-00000040.pt"
    original.write_bytes(bytes(range(256)) * 41)
    parts = campaign.split_file(original, tmp_path / "pieces", piece=1000)
    assert len(parts) == 11 and all(p.stat().st_size <= 1000 for p in parts)
    (joined,) = campaign.join_pieces(tmp_path / "pieces", tmp_path / "back")
    assert joined.read_bytes() == original.read_bytes()
    parts[3].unlink()
    with pytest.raises(ValueError, match="not complete"):
        campaign.join_pieces(tmp_path / "pieces", tmp_path / "again")


def test_one_calls_return_is_received_whole_and_nothing_outside_the_runs_folder(tmp_path):
    """``campaign receive``: the checkpoints' pieces joined and the runs' small files unpacked, as
    ``collect:all`` left them; an archive entry that would land outside the runs folder is refused."""
    call = tmp_path / "device" / "7"
    original = tmp_path / "checkpoint-00000040.pt"
    original.write_bytes(bytes(range(256)) * 41)
    campaign.split_file(original, call / "ckpt" / "run_a", piece=1000)
    (tmp_path / "small" / "run_a").mkdir(parents=True)
    (tmp_path / "small" / "run_a" / "metrics.csv").write_text("iteration,train_loss\n40,1.0\n")
    with tarfile.open(call / "runs.tgz", "w:gz") as archive:
        archive.add(tmp_path / "small" / "run_a", arcname="./run_a")
    lines = receive(call, tmp_path / "runs")
    assert lines == [f"joined {tmp_path / 'runs' / 'run_a' / original.name}", f"unpacked {call / 'runs.tgz'}"]
    assert (tmp_path / "runs" / "run_a" / original.name).read_bytes() == original.read_bytes()
    assert (tmp_path / "runs" / "run_a" / "metrics.csv").read_text().endswith("40,1.0\n")
    with tarfile.open(call / "runs.tgz", "w:gz") as archive:
        archive.add(tmp_path / "small" / "run_a" / "metrics.csv", arcname="../escaped.csv")
    with pytest.raises(tarfile.TarError):
        receive(call, tmp_path / "runs")
    assert not (tmp_path / "escaped.csv").exists()


def _ledger(name: str) -> dict:
    ledger = campaign.new_ledger(("attention92",))
    ledger["runs"][name] = ledger["runs"].pop("attention92")
    return ledger


@pytest.mark.slow
def test_a_run_in_two_segments_is_recorded_in_the_ledger(tmp_path):
    """Train 24 of 40 iterations ("session 1"), take it in, resume to the end ("session 2"), take it in."""
    runs, store = tmp_path / "runs", tmp_path / "store"
    ledger = _ledger("tiny")
    cfg = tiny_config(runs / "tiny", ckpt_every=8, keep_checkpoints=0)
    train(cfg)  # then made into a run stopped at its checkpoint of iteration 24:
    (runs / "tiny" / "results.json").unlink()
    for late in ("checkpoint-00000032.pt", "checkpoint-00000040.pt"):
        (runs / "tiny" / late).unlink()
    assert campaign.update_ledger(ledger, runs, store, tmp_path / "curves") == [
        f"tiny: paused at 24 (checkpoint-00000024.pt kept in {store / 'tiny'})"]
    entry = ledger["runs"]["tiny"]
    assert entry["status"] == "paused" and entry["iteration"] == 24
    assert [(s["start"], s["end"]) for s in entry["segments"]] == [(0, 24)]
    assert (store / "tiny" / "checkpoint-00000024.pt").is_file()
    curve = (tmp_path / "curves" / "tiny" / "metrics.csv").read_text()
    assert curve == (store / "tiny" / "metrics.csv").read_text() and curve.count("\n") > 4

    # the store's checkpoint and curve travel in pieces and come back together
    assert campaign.pack_checkpoints(ledger, store, tmp_path / "carried") == ["tiny"]
    (joined,) = campaign.join_pieces(tmp_path / "carried" / "tiny", tmp_path / "there" / "tiny")
    assert joined.read_bytes() == (store / "tiny" / "checkpoint-00000024.pt").read_bytes()
    assert (tmp_path / "there" / "tiny" / "metrics.csv").is_file()

    # a new machine: only the stored checkpoint comes back
    state = torch.load(store / "tiny" / "checkpoint-00000024.pt", weights_only=True)
    (runs / "tiny" / "checkpoint-00000024.pt").unlink()
    fresh = tmp_path / "fresh" / "tiny"
    fresh.mkdir(parents=True)
    torch.save(state, fresh / "checkpoint-00000024.pt")
    result = train(cfg.__class__(**{**cfg.__dict__, "run_dir": str(fresh), "resume": "auto"}))
    segments = json.loads((fresh / "results.json").read_text())["segments"]
    assert [(s["start"], s["end"]) for s in segments] == [(0, 24), (24, 40)]
    assert all(s["images_per_s"] > 0 and s["wall_s"] > 0 and s["device"] for s in segments)
    campaign.update_ledger(ledger, tmp_path / "fresh", store, tmp_path / "curves", tmp_path / "record")
    assert entry["status"] == "done" and entry["iteration"] == 40
    # the trained network waits in the store, in place of the paused checkpoint
    assert [p.name for p in (store / "tiny").glob("*.pt")] == ["checkpoint-00000040.pt"]
    assert entry["checkpoint"] == "checkpoint-00000040.pt"
    assert json.loads((tmp_path / "record" / "tiny" / "results.json").read_text())["segments"] == segments
    assert entry["test_error"] == result.test_error and len(entry["segments"]) == 2


def test_a_lost_checkpoint_is_said_and_the_run_starts_again_with_the_lost_attempt_on_record(tmp_path):
    ledger = _ledger("tiny")
    segments = [{"start": 0, "end": 24, "wall_s": 3.0, "images_per_s": 100.0}]
    ledger["runs"]["tiny"].update(status="paused", iteration=24, checkpoint="checkpoint-00000024.pt",
                                  segments=segments)
    curves = tmp_path / "results" / "campaign" / "runs"
    (curves / "tiny").mkdir(parents=True)
    (curves / "tiny" / "metrics.csv").write_text("iteration,train_loss\n8,2.0\n")
    (lost,) = campaign.check_store(ledger, tmp_path / "empty-store", curves)
    assert "missing" in lost and "starts again" in lost
    entry = ledger["runs"]["tiny"]
    assert entry["status"] == "lost" and entry["iteration"] == 0 and entry["segments"] == []
    (attempt,) = entry["lost"]
    assert attempt["iteration"] == 24 and attempt["segments"] == segments
    kept = tmp_path / "results" / attempt["curve"]
    assert (kept / "metrics.csv").read_text().startswith("iteration") and not (curves / "tiny").exists()


def test_the_campaign_is_issue_16s_runs():
    ledger = campaign.new_ledger()
    seeds = {(e["model"], e["seed"]) for e in ledger["runs"].values()}
    assert {("attention92_cifar", s) for s in (0, 1, 2)} <= seeds
    assert {("resnet164_cifar", s) for s in (0, 1, 2)} <= seeds
    assert {e["options"].get("combination", "arl") for n, e in ledger["runs"].items()
            if e["model"] == "attention164_cifar"} == {"arl", "nal"}
    assert all(e["target_iterations"] == 160_000 for e in ledger["runs"].values())


def test_the_learning_curves_of_unfinished_runs_are_not_ignored_by_git():
    """The curves of paused runs are kept in git (results/campaign/runs); an ignore rule for the
    scratch folder ``runs/`` must not swallow them, or a session's curves never reach the repository."""
    import shutil
    import subprocess

    root = campaign.CURVES.parents[2]
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    probe = campaign.CURVES / "attention92" / "metrics.csv"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=root).returncode == 0
    assert not ignored, f"{probe.relative_to(root)} is ignored by git"
    for scratch in ("runs/x/metrics.csv", "chapters/runs/ch6_quick/metrics.csv"):  # the chapters' runs too
        kept_out = subprocess.run(["git", "check-ignore", "-q", scratch], cwd=root).returncode == 0
        assert kept_out, f"the scratch folder of {scratch} should stay out of git"


def test_a_run_split_across_processes_is_reported_exact_and_a_different_run_is_not(tmp_path):
    import shutil

    runs = tmp_path / "runs"
    for name in "AC":
        train(tiny_config(runs / name, total_iters=10, milestones=[5], ckpt_every=5, keep_checkpoints=3))
    (runs / "D").mkdir()
    shutil.copy(runs / "C" / "checkpoint-00000005.pt", runs / "D")
    train(tiny_config(runs / "D", total_iters=10, milestones=[5], ckpt_every=5, keep_checkpoints=3,
                      resume="auto"))
    report = campaign.split_run_report(runs, 5)
    assert report["resumed_from"] == 5 and report["iterations"] == {"A": 10, "C": 10, "D": 10}
    assert report["weight_gap_floor_A_vs_C"] == report["weight_gap_split_D_vs_C"] == 0.0  # the CPU
    assert report["same_end"] and report["split_is_exact"]

    train(tiny_config(runs / "D", total_iters=10, milestones=[5], ckpt_every=5, keep_checkpoints=3,
                      seed=1), overwrite=True)  # another run in D's place
    report = campaign.split_run_report(runs, 5)
    assert report["weight_gap_split_D_vs_C"] > 0 and not report["split_is_exact"]


def test_checkpoints_are_packed_into_as_few_calls_as_the_carry_limit_allows(tmp_path):
    store, mib = tmp_path / "store", 2**20
    ledger = campaign.new_ledger(("attention92", "resnet164", "attention92_s1", "resnet164_s1"))
    for name, entry in ledger["runs"].items():
        entry.update(status="paused", iteration=2000, checkpoint="checkpoint-00002000.pt")
        (store / name).mkdir(parents=True)
        (store / name / "checkpoint-00002000.pt").write_bytes(b"w" * (15 * mib))
    data = tmp_path / "cifar10-jpeg.tar.gz"
    data.write_bytes(b"d" * (20 * mib))
    stage = tmp_path / ".stage"
    calls = campaign.pack_for_calls(ledger, store, stage, tree_bytes=20 * mib, first=(data,))
    # 64 MiB a call: tree 20 + data 20 leave room for one checkpoint (and its small files), then two
    assert calls == [[".stage/cifar10-jpeg.tar.gz", ".stage/ckpt1"], [".stage/ckpt2"], [".stage/ckpt3"]]
    assert sorted(p.name for p in (stage / "ckpt2").iterdir()) == ["attention92_s1", "resnet164"]
    for call in calls:  # each call's carry fits, the tree included
        carried = sum(f.stat().st_size for p in call for f in [tmp_path / p, *(tmp_path / p).rglob("*")]
                      if f.is_file())
        assert 20 * mib + carried <= campaign.CARRY_BYTES
    with pytest.raises(ValueError, match="does not fit"):
        campaign.pack_for_calls(ledger, store, tmp_path / "s2", tree_bytes=50 * mib)


def test_compiled_graphs_are_stored_once_and_carried_after_the_checkpoints(tmp_path):
    store, mib = tmp_path / "store", 2**20
    ledger = campaign.new_ledger(("attention92", "resnet164"))
    runs = tmp_path / "back"  # what a session brought back, unpacked: its compiled graphs
    (runs / campaign.COMPILED).mkdir(parents=True)
    graph = runs / campaign.COMPILED / "attention92_cifar-abc.compiled.gz"
    graph.write_bytes(b"g" * (10 * mib))
    said = campaign.update_ledger(ledger, runs, store, tmp_path / "curves", tmp_path / "done")
    assert said == [f"compiled: attention92_cifar-abc.compiled.gz (10.0 MiB) kept in {store / 'compiled'}"]
    assert campaign.update_ledger(ledger, runs, store, tmp_path / "curves", tmp_path / "done") == []
    huge = store / campaign.COMPILED / "resnet164_cifar-def.compiled.gz"  # fits no call: not carried
    huge.write_bytes(b"h" * (50 * mib))
    for name, entry in ledger["runs"].items():
        entry.update(status="paused", iteration=2000, checkpoint="checkpoint-00002000.pt")
        (store / name).mkdir(parents=True)
        (store / name / "checkpoint-00002000.pt").write_bytes(b"w" * (15 * mib))
    stage = tmp_path / ".stage"
    calls = campaign.pack_for_calls(ledger, store, stage, tree_bytes=20 * mib)
    # 44 MiB beside the tree: the two checkpoints (30), then the 10 MiB of graphs in the same call
    assert calls == [[".stage/ckpt1"]]
    assert sorted(p.name for p in (stage / "ckpt1").iterdir()) == ["attention92", "compiled", "resnet164"]
    (piece,) = (stage / "ckpt1" / "compiled").iterdir()
    assert piece.name == "attention92_cifar-abc.compiled.gz.part00"
    assert piece.read_bytes() == graph.read_bytes()
