"""Weights to share (the shipped fp16 files): a trained run's network in half precision, loadable as
the float32 network up to half precision's rounding, without the run's state."""

import copy

import pytest
import torch
from _train_helpers import one_thread, tiny_config  # noqa: F401  (one_thread: an autouse fixture)

from resattn_min.train.checkpoint import CheckpointError, list_checkpoints, load_checkpoint, share_weights
from resattn_min.train.loop import train


def test_a_trained_network_shared_in_half_precision_predicts_as_it_did(tmp_path):
    result = train(tiny_config(tmp_path / "run", total_iters=8, milestones=[4, 6], eval_every=8))
    last = list_checkpoints(tmp_path / "run")[-1]
    shared_path = share_weights(last, tmp_path / "tiny.fp16.pt")
    shared = load_checkpoint(shared_path)  # accepted as shared weights: they evaluate, not resume
    assert shared["dtype"] == "float16" and shared["iteration"] == 8 and "optimizer" not in shared
    assert {str(t.dtype) for t in shared["model"].values()} <= {"torch.float16", "torch.int64"}
    assert shared_path.stat().st_size < 0.5 * last.stat().st_size  # no momentum, half the bytes
    trained = result.model.eval()
    again = copy.deepcopy(trained)
    again.load_state_dict(shared["model"])  # float32 parameters take the half-precision values
    x = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = trained(x), again(x)
    assert torch.allclose(got, expected, rtol=1e-2, atol=1e-2)
    assert torch.equal(got.argmax(1), expected.argmax(1))


def test_a_value_beyond_half_precision_is_refused_not_made_infinite(tmp_path):
    train(tiny_config(tmp_path / "run", total_iters=4, milestones=[2, 3], eval_every=4))
    last = list_checkpoints(tmp_path / "run")[-1]
    state = torch.load(last, weights_only=True)
    name = next(k for k, v in state["model"].items() if v.is_floating_point())
    state["model"][name] = torch.full_like(state["model"][name], 1e6)
    torch.save(state, last)
    with pytest.raises(CheckpointError, match="beyond half precision's range"):
        share_weights(last, tmp_path / "tiny.fp16.pt")
    assert not (tmp_path / "tiny.fp16.pt").exists()


def test_the_command_writes_the_file_and_says_how_to_install_it(tmp_path, capsys):
    from resattn_min.cli import main

    train(tiny_config(tmp_path / "run", total_iters=4, milestones=[2, 3], eval_every=4))
    last = list_checkpoints(tmp_path / "run")[-1]
    assert main(["share-weights", str(last), str(tmp_path / "w" / "tiny.fp16.pt")]) == 0
    assert "float16); to install it, add an entry to WEIGHTS" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "w" / "tiny.fp16.pt")["dtype"] == "float16"
