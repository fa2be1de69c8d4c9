"""BatchNorm's batch counter, kept out of the training step (issue 12: fewer kernels a step).

``nn.BatchNorm2d`` in training mode adds one to its ``num_batches_tracked`` buffer at every forward
pass. The counter is read only when ``momentum`` is None (a cumulative average of the statistics); with
the fixed momentum the paper's networks use (0.1), the running statistics never depend on it. Yet each
addition is a kernel of its own: in the H200 profile of CIFAR Attention-92's compiled step, one
``add_copy`` kernel ran 193 times a step, once per BatchNorm layer, 7% of the step's 2,914 kernels
(``notes/PERF.md``).

:func:`uncount_batches` turns a network's BatchNorm layers with a fixed momentum into
:class:`UncountedBatchNorm2d`, which normalises and updates its running statistics exactly as before
and leaves the counter alone. The buffer stays, under the same name, so checkpoints keep their keys;
the trainer sets it to the iteration reached before it saves (:func:`set_batch_counts`), the number a
counting layer would hold after one training forward pass per iteration.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["UncountedBatchNorm2d", "uncount_batches", "set_batch_counts"]


class UncountedBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` with a fixed momentum, minus the increment of ``num_batches_tracked``."""

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        batch_statistics = self.training or (self.running_mean is None and self.running_var is None)
        running = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if running else None,
                            self.running_var if running else None, self.weight, self.bias,
                            batch_statistics, self.momentum, self.eps)


def uncount_batches(model: nn.Module) -> int:
    """Make every ``nn.BatchNorm2d`` of ``model`` with a fixed momentum and running statistics an
    :class:`UncountedBatchNorm2d`, in place (same parameters, buffers and state-dict keys); returns how
    many layers changed. Other normalisations (SyncBatchNorm, momentum None) are left as they are."""
    changed = 0
    for module in model.modules():
        if type(module) is nn.BatchNorm2d and module.momentum is not None and module.track_running_stats:
            module.__class__ = UncountedBatchNorm2d
            changed += 1
    return changed


@torch.no_grad()
def set_batch_counts(model: nn.Module, count: int) -> None:
    """Set the batch counter of every uncounted BatchNorm layer of ``model`` to ``count``."""
    for module in model.modules():
        if isinstance(module, UncountedBatchNorm2d) and module.num_batches_tracked is not None:
            module.num_batches_tracked.fill_(count)
