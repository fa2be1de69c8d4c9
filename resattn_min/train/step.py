"""One training step and one evaluation pass: what the loop (``loop.py``) repeats.

``train_step`` is the eager SGD step; ``make_step`` returns it, or the same step replayed as one CUDA graph
(``cuda_graph.CudaGraphStep``) when the config asks for it and the device allows it.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from torch import Tensor, nn

from .cuda_graph import CudaGraphStep, CudaGraphUnavailable, backward_and_update, loss_and_correct
from .distributed import DistInfo, all_reduce_sum
from .run_config import TrainConfig

__all__ = ["seed_everything", "train_step", "evaluate", "make_step"]


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, numpy and torch; in deterministic mode, use deterministic kernels wherever they exist.

    On a CPU this makes two runs bitwise equal. On a GPU a few backward kernels our networks use
    (bilinear upsampling, adaptive average pooling) have no deterministic CUDA version: PyTorch warns
    about them instead of stopping the run.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it to be deterministic
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = not deterministic  # fixed shapes: autotuning pays off


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, images: Tensor, labels: Tensor, lr: float,
               amp_dtype: torch.dtype | None = None,
               scaler: torch.amp.GradScaler | None = None) -> tuple[Tensor, Tensor]:
    """One SGD step on one batch; returns the loss and the number of correct predictions (on the device).

    ``amp_dtype`` runs the forward pass in autocast; float16 needs a loss ``scaler`` (``precision.py``).
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    with torch.autocast(images.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        logits = model(images)
    loss, correct = loss_and_correct(logits, labels)
    optimizer.zero_grad(set_to_none=True)
    backward_and_update(loss, optimizer, scaler)
    return loss.detach(), correct


@torch.no_grad()


def evaluate(model: nn.Module, batches, device: torch.device, amp_dtype: torch.dtype | None = None,
             channels_last: bool = False, info: DistInfo = DistInfo(),
             sharded: bool = False) -> tuple[float, int]:
    """Top-1 error of ``model`` over one pass of ``batches`` and the number of images (all ranks together).

    Every rank takes every ``world_size``-th image of each batch, unless the batches are already this
    rank's share (``sharded``: the ImageNet loaders shard the files).
    """
    rank, world = (0, 1) if sharded else (info.rank, info.world_size)
    was_training = model.training
    model.eval()
    counts = torch.zeros(2, dtype=torch.int64, device=device)  # wrong, seen
    for images, labels in batches:
        images = images[rank::world].to(device, non_blocking=True)  # strided: short batches split too
        labels = labels[rank::world].to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits = model(images)
        counts[0] += (logits.argmax(1) != labels).sum()
        counts[1] += len(labels)
    model.train(was_training)
    wrong, seen = all_reduce_sum(counts, info).tolist()
    return wrong / max(seen, 1), seen


def make_step(cfg: TrainConfig, forward: nn.Module, optimizer: torch.optim.Optimizer,
               amp_dtype: torch.dtype | None, channels_last: bool, info: DistInfo,
               scaler: torch.amp.GradScaler | None = None):
    """The eager :func:`train_step`, or the CUDA-graph step when asked for and possible."""
    if cfg.cuda_graph:
        try:
            return CudaGraphStep(forward, optimizer, amp_dtype, channels_last, distributed=info.enabled,
                             scaler=scaler)
        except CudaGraphUnavailable as err:
            if info.is_main:
                print(f"note: {err}; using the eager step", flush=True)

    def step(images: Tensor, labels: Tensor, lr: float) -> tuple[Tensor, Tensor]:
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return train_step(forward, optimizer, images, labels, lr, amp_dtype, scaler)

    return step
