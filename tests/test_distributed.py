"""Two processes under torchrun train the same model as one process on the same global batch.

The comparison uses a BatchNorm-free network: on CPUs (gloo) SyncBatchNorm does not run, so each process
would normalise with its own half batch's statistics and the two runs would compute different functions.
On GPUs the trainer converts BatchNorm to SyncBatchNorm and the same equality holds for the paper's models.
"""

import json

import pytest
import torch
from _train_helpers import one_thread, run_child, write_config  # noqa: F401

from resattn_min.checkpoint import load_checkpoint
from resattn_min.distributed import DistInfo, shard


def test_each_rank_takes_its_contiguous_slice_of_the_global_batch():
    batch = torch.arange(64)
    slices = [shard(batch, DistInfo(rank=r, world_size=4)) for r in range(4)]
    assert torch.equal(torch.cat(slices), batch) and all(len(s) == 16 for s in slices)
    with pytest.raises(ValueError, match="does not split evenly over 3 processes"):
        shard(batch, DistInfo(rank=0, world_size=3))


def test_two_process_ddp_matches_one_process(tmp_path):
    options = {"model": "tiny_convnet_test", "total_iters": 8, "milestones": [6], "ckpt_every": 4}
    for name, nproc in (("one", 1), ("two", 2)):
        done = run_child(["train", "--config", str(write_config(tmp_path / f"{name}.yaml", tmp_path / name,
                                                                **options))], nproc=nproc)
        assert done.returncode == 0, done.stderr[-3000:]
    one, two = (load_checkpoint(tmp_path / d / "checkpoint-00000008.pt")["model"] for d in ("one", "two"))
    halfway = load_checkpoint(tmp_path / "one" / "checkpoint-00000004.pt")["model"]
    for k in one:
        assert torch.allclose(one[k], two[k], rtol=0, atol=1e-5), k  # float summation order differs
    assert max((one[k] - halfway[k]).abs().max() for k in one) > 1e-3  # ... while training moved the weights
    results = json.loads((tmp_path / "two" / "results.json").read_text())
    assert results["world_size"] == 2 and results["batch_size"] == 16
    # rank 0 alone logs; its losses are those of the whole global batch, as in the one-process run
    rows = [[json.loads(line) for line in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]
            for d in ("one", "two")]
    assert [r["iteration"] for r in rows[1]] == [r["iteration"] for r in rows[0]] == [4, 5, 8]
    assert [r["train_loss"] for r in rows[1]] == pytest.approx([r["train_loss"] for r in rows[0]], rel=1e-5)
