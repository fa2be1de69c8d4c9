"""Several GPUs (or CPU processes) with DistributedDataParallel, launched by ``torchrun``.

The same script and config run on one process or many: ``torchrun --nproc_per_node 4 -m resattn_min
train ...``. On the batch streams that live on the GPU (CIFAR, ``--loader gpu``) every rank draws the
same global batch (the stream is seeded identically) and keeps its own contiguous slice, so the global
batch stays the configured size (64 for CIFAR) and the run sees the same images as a single-process run;
DataLoader workers (``--loader workers``) instead read each rank's own share of the files. DDP averages
the gradients, which equals the gradient of the mean loss over the global batch; with SyncBatchNorm (on
GPUs) BatchNorm sees the global batch too. The CUDA-graph step does the same averaging inside its graph
(``average_gradients``). Rank 0 alone writes logs and checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from .precision import resolve_device

__all__ = ["DistInfo", "average_gradients", "init_distributed", "shard", "all_reduce_sum", "wrap_model",
           "barrier", "cleanup"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: its rank among ``world_size`` and the device it trains on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment (one process: nothing to do).

    ``device`` is ``"auto"`` (CUDA if there is one), ``"cuda"`` or ``"cpu"``; GPUs use NCCL, CPUs gloo.
    NVLink multicast (NVLS) stays off unless the caller set ``NCCL_NVLS_ENABLE``.
    """
    resolved = resolve_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return DistInfo(device=resolved)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if resolved.type == "cuda":
        os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if not dist.is_initialized():
        cuda = dev.type == "cuda"
        dist.init_process_group("nccl" if cuda else "gloo", device_id=dev if cuda else None)
    return DistInfo(rank, world, local, dev)


def shard(batch: Tensor, info: DistInfo) -> Tensor:
    """This rank's contiguous slice of a global batch (the batch must divide evenly)."""
    if not info.enabled:
        return batch
    n = len(batch)
    if n % info.world_size:
        raise ValueError(f"a batch of {n} does not split evenly over {info.world_size} processes")
    per = n // info.world_size
    return batch[info.rank * per:(info.rank + 1) * per]


def all_reduce_sum(values: Tensor, info: DistInfo) -> Tensor:
    """Sum a tensor over all ranks (the identity for one process)."""
    if info.enabled:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def wrap_model(model: nn.Module, info: DistInfo, sync_bn: bool = True, ddp: bool = True) -> nn.Module:
    """DDP around ``model``; BatchNorm becomes SyncBatchNorm on GPUs (gloo on CPUs cannot run it).

    ``ddp=False`` (the CUDA-graph step, which averages gradients itself): no wrapper, only rank 0's
    weights copied to every rank, as DDP does when it starts.
    """
    if not info.enabled:
        return model
    if sync_bn and info.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    elif sync_bn and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        if info.is_main:
            print("note: SyncBatchNorm needs GPUs; on CPU each process normalises with its own shard's "
                  "statistics", flush=True)
    if not ddp:
        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                dist.broadcast(tensor, src=0)
        return model
    ids = [info.device.index] if info.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def average_gradients(model: nn.Module, world_size: int) -> None:
    """Replace every gradient by its mean over the ranks (what DDP computes), in one collective."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat.div_(world_size)
    for g, chunk in zip(grads, flat.split([g.numel() for g in grads]), strict=True):
        g.copy_(chunk.view_as(g))


def barrier(info: DistInfo) -> None:
    """Wait for every rank (nothing to wait for with one process)."""
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    """Leave the process group."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
