"""The fast training step: forward, backward and SGD update replayed as one CUDA graph.

A CIFAR network at batch 64 launches thousands of small kernels per step; the GPU waits on Python more
than it computes. Capturing the whole step once and replaying it removes that overhead. What has to hold
for a replay to be a real training step (PyTorch's "whole network capture" recipe):

* inputs live in static buffers: each batch is copied into the same tensors before the replay;
* the learning rate is a tensor on the GPU that the step reads, updated in place (a Python float would
  be frozen into the graph at capture time); fused SGD reads it from device memory;
* gradients, momentum buffers and BatchNorm statistics are allocated before or during capture and
  updated in place by every replay;
* a few warm-up steps run on a side stream before capture (cuDNN picks its algorithms, the optimizer
  allocates its buffers); their effect on the weights is then undone, so the run is the same run;
* float16 autocast scales the loss (``precision.py``) without a round trip to the CPU: the fused SGD
  kernel reads the scale and the overflow flag from device memory and skips the update itself, and the
  scale is updated in place, so the whole of ``GradScaler``'s work replays with the graph.

On several GPUs the graph holds the gradient averaging too: one all-reduce of all gradients, flattened,
after the backward pass (NCCL collectives can be captured). DistributedDataParallel's hooks cannot, so the
model is passed unwrapped (with SyncBatchNorm, whose collectives are graph-safe).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from .distributed import average_gradients

__all__ = ["CudaGraphUnavailable", "CudaGraphStep", "TrainingSnapshot", "backward_and_update",
           "device_side_sgd", "loss_and_correct"]


def loss_and_correct(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Mean cross-entropy and the number of correct predictions of a batch.

    Stacked runs (``stacked.py``: logits ``(B, n, classes)``, labels ``(B, n)``) get one loss and
    one count per run; the sum of their losses has, for each run's weights, that run's own gradient.
    """
    if logits.dim() == 3:
        losses = F.cross_entropy(logits.float().transpose(1, 2), labels, reduction="none").mean(0)
        return losses, (logits.argmax(2) == labels).sum(0)
    return F.cross_entropy(logits.float(), labels), (logits.argmax(1) == labels).sum()


def backward_and_update(loss: Tensor, optimizer: torch.optim.Optimizer,
                        scaler: torch.amp.GradScaler | None = None,
                        after_backward: Callable[[], None] | None = None) -> None:
    """Backward pass and SGD update; with a loss scaler (float16), of the scaled loss, skipping a step whose
    gradients overflowed. ``after_backward`` runs between the two (the gradient all-reduce)."""
    (loss.sum() if scaler is None else scaler.scale(loss.sum())).backward()
    if after_backward is not None:
        after_backward()
    if scaler is None:
        optimizer.step()
        return
    scaler.step(optimizer)
    scaler.update()


def device_side_sgd(optimizer: torch.optim.SGD, device: torch.device) -> Tensor:
    """Make SGD read everything that changes between steps from device memory, as a graph replay needs:
    the learning rate (returned, a tensor to fill), and a loss scaler's scale and overflow flag (the fused
    kernel takes them and skips an overflowing update itself)."""
    lr = torch.zeros((), device=device)
    for group in optimizer.param_groups:
        group.update(lr=lr, fused=True, foreach=False)
    optimizer._step_supports_amp_scaling = True  # what SGD(fused=True) sets: GradScaler then syncs nothing
    return lr


class TrainingSnapshot:
    """Weights, BatchNorm statistics, momentum and loss scale, to put back after steps that must leave no
    trace (a CUDA graph's warm-up, the timing of a budgeted run). Restoring copies in place, so a captured
    graph stays valid; momentum created since is zeroed, which makes the next step set it to the
    gradient, as SGD's first step does."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 scaler: torch.amp.GradScaler | None = None) -> None:
        self.model, self.optimizer, self.scaler = model, optimizer, scaler
        self.weights = {k: v.clone() for k, v in model.state_dict().items()}
        self.momentum = {p: s["momentum_buffer"].clone() for p, s in optimizer.state.items()
                         if s.get("momentum_buffer") is not None}
        self.scale = scaler.state_dict() if scaler is not None else None

    @torch.no_grad()
    def restore(self) -> None:
        for k, v in self.model.state_dict().items():
            v.copy_(self.weights[k])
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                buf = self.optimizer.state[p].get("momentum_buffer")
                if buf is not None:
                    buf.copy_(self.momentum[p]) if p in self.momentum else buf.zero_()
        if self.scaler is not None:
            self.scaler.load_state_dict(self.scale)


class CudaGraphUnavailable(RuntimeError):
    """The CUDA-graph step cannot run here (no GPU, or a model wrapped in DistributedDataParallel)."""


class CudaGraphStep:
    """A drop-in for ``train_step``: ``step(images, labels, lr) -> (loss, correct)``, replaying one graph.

    The graph is captured at the first call, for that batch's shape. The returned tensors are the graph's
    static outputs: read (or add them up) before the next call, which overwrites them.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.SGD, amp_dtype: torch.dtype | None = None,
                 channels_last: bool = True, distributed: bool = False, warmup_steps: int = 3,
                 scaler: torch.amp.GradScaler | None = None) -> None:
        device = next(model.parameters()).device
        if device.type != "cuda":
            raise CudaGraphUnavailable(f"the CUDA-graph step needs a GPU (the model is on {device})")
        if isinstance(model, nn.parallel.DistributedDataParallel):
            raise CudaGraphUnavailable("the CUDA-graph step averages gradients itself: pass the model "
                                      "unwrapped, not in DistributedDataParallel")
        self.world = dist.get_world_size() if distributed else 1
        self.model, self.optimizer, self.amp_dtype, self.scaler = model, optimizer, amp_dtype, scaler
        self.channels_last, self.warmup_steps = channels_last, warmup_steps
        self.lr = device_side_sgd(optimizer, device)
        self.graph: torch.cuda.CUDAGraph | None = None

    def _step(self) -> tuple[Tensor, Tensor]:
        amp = self.amp_dtype
        # no autocast weight cache across the capture boundary (PyTorch's advice for graphs)
        with torch.autocast("cuda", dtype=amp or torch.float32, enabled=amp is not None, cache_enabled=False):
            logits = self.model(self.images)
        loss, correct = loss_and_correct(logits, self.labels)
        average = (lambda: average_gradients(self.model, self.world)) if self.world > 1 else None
        backward_and_update(loss, self.optimizer, self.scaler, average)
        return loss.detach(), correct

    def _capture(self, images: Tensor, labels: Tensor) -> None:
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.images = torch.empty_like(images, memory_format=fmt).copy_(images)
        self.labels = labels.clone()
        snapshot = TrainingSnapshot(self.model, self.optimizer, self.scaler)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.warmup_steps):
                self.optimizer.zero_grad(set_to_none=True)
                self._step()
        torch.cuda.current_stream().wait_stream(side)
        self.optimizer.zero_grad(set_to_none=True)  # backward in the graph allocates the static grads
        self.graph = torch.cuda.CUDAGraph()
        # thread_local: a DataLoader's pin-memory thread may use CUDA while this thread captures
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
            self.loss, self.correct = self._step()
        snapshot.restore()  # undo the warm-up: the run is the same run

    def __call__(self, images: Tensor, labels: Tensor, lr: float) -> tuple[Tensor, Tensor]:
        if self.graph is None:
            self._capture(images, labels)
        elif images.shape != self.images.shape:
            raise ValueError(f"the CUDA graph was captured for batches of {tuple(self.images.shape)}, "
                             f"got {tuple(images.shape)} (the training stream must drop its last short "
                             "batch)")
        self.images.copy_(images, non_blocking=True)
        self.labels.copy_(labels, non_blocking=True)
        self.lr.fill_(lr)
        self.graph.replay()
        return self.loss, self.correct
