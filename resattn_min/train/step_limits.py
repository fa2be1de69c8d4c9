"""How fast could one training step be? The floors that arithmetic, memory traffic and the number of
kernels put under a step, to set beside measured step times (issue 12's report, ``notes/PERF.md``).

* **compute**: a training step does about three forward passes of work (the forward, and a backward that
  computes gradients for the inputs and for the weights), 2 FLOPs per multiply-add: ``6 * MACs * batch``
  FLOPs, at the GPU's dense bfloat16 peak;
* **memory**: every layer reads its input and writes its output once in the forward pass, and about
  twice as much moves in the backward pass (the saved input and the output's gradient in, the input's
  gradient out): ``3 * (inputs + outputs)`` elements of 2 bytes (bfloat16), plus the optimizer, which
  reads the fp32 weights, gradients and momentum and writes weights and momentum (5 x 4 bytes a
  parameter), at the GPU's memory bandwidth. Caches make the real traffic smaller, missing fusion larger:
  an estimate of the order, not a bound;
* **kernels**: a step that runs ``kernels`` kernels one after the other cannot take less than
  ``kernels * per_kernel_us``; the kernel count and time come from a profile (``notes/gpu_profile.py``).

The peaks are the vendors' datasheet numbers (dense, without sparsity), not measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..models.counting import count_macs

__all__ = ["DevicePeak", "PEAKS", "step_work", "step_floors"]


@dataclass(frozen=True)
class DevicePeak:
    """A GPU's datasheet peaks: dense bfloat16 tensor-core TFLOP/s and memory bandwidth in TB/s."""

    bf16_tflops: float
    memory_tb_s: float


#: NVIDIA's datasheets: H100 SXM5 80 GB and H200 SXM 141 GB (the same compute, faster memory).
PEAKS = {"NVIDIA H100 80GB HBM3": DevicePeak(989.4, 3.35), "NVIDIA H200": DevicePeak(989.4, 4.8)}


def step_work(model: nn.Module, batch: int, image_size: int, bytes_per_value: int = 2) -> dict:
    """The FLOPs and the bytes of one training step of ``model`` on ``batch`` images of ``image_size``
    pixels (see the module's docstring for what is counted), and the layer calls of one forward pass."""
    moved = {"elements": 0, "calls": 0}

    def count(module: nn.Module, inputs: tuple, output) -> None:
        moved["elements"] += sum(t.numel() for t in inputs if torch.is_tensor(t)) + output.numel()
        moved["calls"] += 1

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    hooks = [m.register_forward_hook(count) for m in leaves]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, image_size, image_size))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    parameters = sum(p.numel() for p in model.parameters())
    macs = count_macs(model, image_size)
    return {"batch": batch, "macs_per_image": macs, "flops": 6 * macs * batch,
            "activation_bytes": 3 * moved["elements"] * batch * bytes_per_value,
            "optimizer_bytes": 5 * 4 * parameters, "layer_calls": moved["calls"]}


def step_floors(work: dict, peak: DevicePeak, kernels: int | None = None,
                per_kernel_us: float | None = None) -> dict:
    """Milliseconds one step cannot go below for its arithmetic, for its memory traffic and (given a
    profile's kernel count and time per kernel) for its kernels run one after the other."""
    moved = work["activation_bytes"] + work["optimizer_bytes"]
    floors = {"compute_ms": work["flops"] / (peak.bf16_tflops * 1e12) * 1e3,
              "memory_ms": moved / (peak.memory_tb_s * 1e12) * 1e3}
    if kernels is not None and per_kernel_us is not None:
        floors["kernels_ms"] = kernels * per_kernel_us / 1e3
    return floors
