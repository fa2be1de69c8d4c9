"""BatchNorm's batch counter out of the step (train/batch_counter): the same training, bit for bit,
the same checkpoint keys and counts, one kernel fewer per BatchNorm layer and step."""

import copy

import torch
from _train_helpers import one_thread, tiny_config  # noqa: F401  (one_thread: an autouse fixture)
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from resattn_min import create_model
from resattn_min.train.batch_counter import UncountedBatchNorm2d, set_batch_counts, uncount_batches
from resattn_min.train.checkpoint import list_checkpoints, load_checkpoint
from resattn_min.train.loop import train


def _steps(model, batches):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    for images, labels in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()


def test_uncounted_batchnorm_trains_bit_for_bit_as_batchnorm_and_keeps_its_keys():
    torch.manual_seed(0)
    counted = create_model("tiny_attention_test")
    uncounted = copy.deepcopy(counted)
    norms = sum(type(m) is nn.BatchNorm2d for m in counted.modules())
    assert uncount_batches(uncounted) == norms > 0
    assert not any(type(m) is nn.BatchNorm2d for m in uncounted.modules())
    assert list(uncounted.state_dict()) == list(counted.state_dict())  # checkpoints keep their keys
    batches = [(torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))) for _ in range(3)]
    _steps(counted, batches)
    _steps(uncounted, batches)
    a, b = counted.state_dict(), uncounted.state_dict()
    counters = [k for k in a if k.endswith("num_batches_tracked")]
    assert all(a[k] == 3 and b[k] == 0 for k in counters)  # the only difference: nobody counted
    assert all(torch.equal(a[k], b[k]) for k in a if k not in counters)  # statistics and weights
    set_batch_counts(uncounted, 3)
    assert all(torch.equal(a[k], uncounted.state_dict()[k]) for k in a)
    counted.eval(), uncounted.eval()
    x = torch.randn(4, 3, 32, 32)
    assert torch.equal(counted(x), uncounted(x))  # and tests with the same running statistics


def test_only_layers_whose_statistics_ignore_the_counter_change():
    cumulative = nn.BatchNorm2d(4, momentum=None)  # a cumulative average reads the counter
    no_running = nn.BatchNorm2d(4, track_running_stats=False)
    fixed = nn.BatchNorm2d(4)
    assert uncount_batches(nn.Sequential(cumulative, no_running, fixed)) == 1
    assert type(cumulative) is nn.BatchNorm2d and type(no_running) is nn.BatchNorm2d
    assert type(fixed) is UncountedBatchNorm2d


class _Adds(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.adds = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.adds += func is torch.ops.aten.add_.Tensor
        return func(*args, **(kwargs or {}))


def test_a_training_forward_no_longer_adds_to_a_counter_per_layer():
    torch.manual_seed(0)
    model = create_model("tiny_attention_test")
    norms = sum(type(m) is nn.BatchNorm2d for m in model.modules())
    x = torch.randn(2, 3, 32, 32)
    with _Adds() as before:
        model(x)
    uncount_batches(model)
    with _Adds() as after:
        model(x)
    assert before.adds - after.adds == norms  # one in-place addition (a kernel) per layer, gone


def test_a_run_saves_the_counts_a_counting_network_would_hold(tmp_path):
    train(tiny_config(tmp_path / "run", total_iters=6, milestones=[3, 5], ckpt_every=3, keep_checkpoints=2,
                      eval_every=6))
    for path in list_checkpoints(tmp_path / "run"):
        ckpt = load_checkpoint(path)
        counts = {v.item() for k, v in ckpt["model"].items() if k.endswith("num_batches_tracked")}
        assert counts == {ckpt["iteration"]}  # 3, then 6: one training forward pass per iteration
