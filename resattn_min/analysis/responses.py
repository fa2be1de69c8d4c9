"""Fig. 4 of the paper on a trained network: the mean absolute response of every block, stage by stage.

Sec. 3.1 argues that naive attention learning (``M * F``) shrinks the signal module by module while
attention residual learning (``(1 + M) * F``) does not. :func:`block_responses` measures it on real
images: a forward hook on every block of every stage (residual units and Attention Modules alike) keeps
the mean of ``|output|``; the last block of a stage gives the stage's output, the quantity of Fig. 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..models.mask_capture import capture_masks

__all__ = ["Responses", "block_responses", "stage_outputs", "module_factors"]

#: A block of a network: ``(stage from 1, index in the stage, class name)``.
Block = tuple[int, int, str]


@dataclass(frozen=True)
class Responses:
    """Averages over images: ``blocks`` (mean |output| per block), ``masks`` (mean M per module,
    keyed by ``(stage, index)``) and the network's ``error`` on the images (a fraction)."""

    blocks: dict[Block, float]
    masks: dict[tuple[int, int], float]
    error: float


def block_responses(model: nn.Module, images: Tensor, labels: Tensor, batch: int = 64) -> Responses:
    """Run ``model`` (eval mode, on the device of ``images``) over normalised ``images`` in batches."""
    sums: dict[Block, float] = {}
    mask_sums: dict[tuple[int, int], float] = {}

    def keep(key: Block):
        def hook(_module, _inputs, output):
            sums[key] = sums.get(key, 0.0) + output.abs().mean(dim=(1, 2, 3)).sum().item()
        return hook

    handles = [block.register_forward_hook(keep((s + 1, b, type(block).__name__)))
               for s, stage in enumerate(model.stages) for b, block in enumerate(stage)]
    wrong = 0
    try:
        with torch.no_grad(), capture_masks(model) as masks:
            for xb, yb in zip(images.split(batch), labels.split(batch), strict=True):
                wrong += (model(xb).argmax(1).cpu() != yb.cpu()).sum().item()
                for rec in masks:
                    key = (rec.stage, rec.index)
                    mask_sums[key] = mask_sums.get(key, 0.0) + rec.mask.mean(dim=(1, 2, 3)).sum().item()
                masks.clear()
    finally:
        for h in handles:
            h.remove()
    n = len(labels)
    return Responses({k: v / n for k, v in sums.items()}, {k: v / n for k, v in mask_sums.items()},
                     wrong / n)


def stage_outputs(responses: Responses) -> dict[int, float]:
    """``{stage: mean |output| of its last block}``, the points of Fig. 4."""
    last: dict[int, float] = {}
    for (stage, _index, _kind), value in sorted(responses.blocks.items()):
        last[stage] = value  # sorted by block index within a stage, so the last block wins
    return last


def module_factors(responses: Responses) -> list[float]:
    """For every Attention Module, its mean |output| divided by that of the block before it."""
    blocks = sorted(responses.blocks.items())
    return [value / blocks[i - 1][1] for i, ((_stage, _b, kind), value) in enumerate(blocks)
            if kind == "AttentionModule" and i > 0]
