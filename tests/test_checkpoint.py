"""Checkpoints survive crashes: atomic writes, clear refusals, and nothing good is ever lost."""

import random

import numpy as np
import pytest
import torch

from resattn_min.train.checkpoint import (
    CheckpointError,
    find_resume_checkpoint,
    list_checkpoints,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    weight_gap,
)


def payload(value: float = 1.0, model: str = "tiny_attention_test") -> dict:
    return {"model": {"w": torch.full((3,), value)}, "optimizer": {"state": {}, "param_groups": []},
            "data": {"epoch": 0, "position": 3}, "config": {"model": model, "milestones": [2, 4]}}


def test_round_trip_with_weights_only_loading(tmp_path):
    path = save_checkpoint(tmp_path, 7, payload(2.0))
    state = load_checkpoint(path, model_name="tiny_attention_test")
    assert state["iteration"] == 7 and torch.equal(state["model"]["w"], torch.full((3,), 2.0))
    assert state["config"]["milestones"] == [2, 4]


def test_random_states_are_restored_exactly():
    saved = rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(saved)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]


def test_keeps_the_last_two_and_drops_older_ones(tmp_path):
    for it in (10, 20, 30):
        save_checkpoint(tmp_path, it, payload(it), keep=2)
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["checkpoint-00000020.pt", "checkpoint-00000030.pt"]


def test_a_crash_during_save_never_replaces_a_good_checkpoint(tmp_path, monkeypatch):
    good = save_checkpoint(tmp_path, 10, payload(1.0))
    good_bytes = good.read_bytes()

    def crash_halfway(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_halfway)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, 20, payload(2.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == [good.name]  # no half file, no temp file left
    assert good.read_bytes() == good_bytes
    assert load_checkpoint(good)["iteration"] == 10


@pytest.mark.parametrize("damage, message", [
    ("garbage", "not a readable checkpoint"),
    ("truncated", "not a readable checkpoint"),
    ("foreign", "not a resattn-min checkpoint"),
    ("other_model", "holds a 'attention92_cifar' model, not 'tiny_attention_test'"),
])
def test_unusable_checkpoints_are_refused_clearly_and_the_good_one_stays(tmp_path, damage, message):
    good = save_checkpoint(tmp_path, 10, payload(1.0))
    bad = tmp_path / "checkpoint-00000020.pt"
    if damage == "garbage":
        bad.write_bytes(b"\x00\xffnot a checkpoint" * 50)
    elif damage == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "foreign":
        torch.save({"state_dict": {"w": torch.zeros(3)}}, bad)
    else:
        save_checkpoint(tmp_path, 20, payload(2.0, model="attention92_cifar"), keep=0)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(bad, model_name="tiny_attention_test")
    # --resume auto skips the bad newest checkpoint for the good one, deleting neither
    state = find_resume_checkpoint(tmp_path, model_name="tiny_attention_test")
    assert state["iteration"] == 10 and bad.exists() and good.exists()


def test_a_new_checkpoint_does_not_prune_a_good_one_for_a_bad_later_one(tmp_path):
    save_checkpoint(tmp_path, 10, payload(1.0))
    (tmp_path / "checkpoint-00000099.pt").write_bytes(b"garbage")
    save_checkpoint(tmp_path, 20, payload(2.0), keep=2)
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["checkpoint-00000010.pt", "checkpoint-00000020.pt", "checkpoint-00000099.pt"]


def test_missing_checkpoint_and_empty_run_dir(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nope.pt")
    assert find_resume_checkpoint(tmp_path) is None


def test_the_weight_gap_is_the_largest_difference_and_zero_only_bit_for_bit():
    a = {"w": torch.tensor([1.0, 2.0, 3.0]), "bn.num_batches_tracked": torch.tensor(5),
         "empty": torch.zeros(0)}
    b = {k: v.clone() for k, v in a.items()}
    assert weight_gap(a, b) == 0.0
    b["w"][1] = torch.nextafter(torch.tensor(2.0), torch.tensor(3.0))  # one unit in the last place
    assert weight_gap(a, b) == pytest.approx(2.0**-22)
    b["w"][2] = 2.5
    b["bn.num_batches_tracked"] = torch.tensor(6)
    assert weight_gap(a, b) == pytest.approx(1.0)  # the counter's difference is the largest
    with pytest.raises(ValueError, match="not of one network"):
        weight_gap(a, {"w": a["w"]})
