"""Two processes under torchrun train the same model as one process on the same global batch.

The comparison uses a BatchNorm-free network: on CPUs (gloo) SyncBatchNorm does not run, so each process
would normalise with its own half batch's statistics and the two runs would compute different functions.
On GPUs the trainer converts BatchNorm to SyncBatchNorm and the same equality holds for the paper's models.
"""

import json

import pytest
import torch
from _train_helpers import one_thread, run_child, write_config  # noqa: F401

from resattn_min.train.checkpoint import load_checkpoint
from resattn_min.train.distributed import DistInfo, average_gradients, shard, wrap_model


def test_each_rank_takes_its_contiguous_slice_of_the_global_batch():
    batch = torch.arange(64)
    slices = [shard(batch, DistInfo(rank=r, world_size=4)) for r in range(4)]
    assert torch.equal(torch.cat(slices), batch) and all(len(s) == 16 for s in slices)
    with pytest.raises(ValueError, match="does not split evenly over 3 processes"):
        shard(batch, DistInfo(rank=0, world_size=3))


@pytest.mark.slow
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


def _graph_step_rank(rank: int, store: str, out: str) -> None:
    """One rank of the CUDA-graph step's recipe without DDP: broadcast weights, own half batch, average."""
    import _tiny_models  # noqa: F401

    from resattn_min.models.registry import create_model

    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    torch.manual_seed(rank)  # different initial weights on purpose: wrap_model must make them rank 0's
    model = wrap_model(create_model("tiny_convnet_test"), DistInfo(rank, 2), ddp=False)
    g = torch.Generator().manual_seed(0)
    images, labels = torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)
    half = slice(4 * rank, 4 * rank + 4)
    torch.nn.functional.cross_entropy(model(images[half]), labels[half]).backward()
    average_gradients(model, 2)
    torch.save({"weights": model.state_dict(), "grads": [p.grad for p in model.parameters()]},
               f"{out}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_averaged_half_batch_gradients_are_the_global_batch_gradient(tmp_path):
    import _tiny_models  # noqa: F401

    from resattn_min.models.registry import create_model

    torch.multiprocessing.spawn(_graph_step_rank, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    torch.manual_seed(0)
    model = create_model("tiny_convnet_test")  # rank 0's initial weights
    for k, v in model.state_dict().items():
        assert torch.equal(ranks[1]["weights"][k], v), k
    g = torch.Generator().manual_seed(0)
    images, labels = torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)
    torch.nn.functional.cross_entropy(model(images), labels).backward()
    for p, a, b in zip(model.parameters(), ranks[0]["grads"], ranks[1]["grads"], strict=True):
        torch.testing.assert_close(a, p.grad, rtol=0, atol=1e-6)
        assert torch.equal(a, b)
