import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished tiny run with checkpoints at iterations 5 and 10 (tests must leave its folder as it is)."""
    from _train_helpers import tiny_config

    from resattn_min.train.loop import train

    run_dir = tmp_path_factory.mktemp("run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # module fixtures run before the per-test one_thread
    result = train(tiny_config(run_dir, total_iters=10, milestones=[5], ckpt_every=5))
    torch.set_num_threads(threads)
    return run_dir, result
