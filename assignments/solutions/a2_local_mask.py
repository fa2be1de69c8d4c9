"""Assignment 2 -- the local-convolution mask of Table 4, against the encoder-decoder mask (chapter 2).

Table 4 of the paper replaces the bottom-up top-down soft mask branch by "local convolutions": three
units at full resolution, no down- or up-sampling, and finds it worse (6.48% against 5.52% error). The
paper says the two use "the same number of FLOPs". Build the local mask, then measure that claim and what
each mask can see (Fig. 3 compares their receptive fields).

1. ``LocalConvolutionMask`` -- three basic units ``unit(channels, channels)`` in a row, then the mask head
   ``MaskHead(channels, activation, unit.preactivation)`` (given by the package). Its constructor takes the
   same arguments as ``SoftMaskBranch`` so that an Attention Module can use either; it ignores ``depth``
   and ``r``, and sets ``self.depth = 0`` (no max-pools).
2. ``mask_cost(mask, channels, size)`` -- a dict ``{"params": ..., "macs": ...}``: the learnable parameters
   and the multiply-adds of one forward pass on a ``1 x channels x size x size`` input
   (``resattn_min.count_parameters`` and ``resattn_min.count_macs`` do the counting).
3. ``compare_masks(channels, size, depth)`` -- ``{"encoder_decoder": cost, "local": cost}`` for the
   package's ``SoftMaskBranch(channels, depth, unit=ResidualUnit)`` and your local mask with
   ``ResidualUnit``, at the same channels and input size.
4. ``spread(mask, channels, size, position)`` -- how far one pixel reaches: put the mask in eval mode, run
   it on a random ``1 x channels x size x size`` input and on a copy whose channels at ``position = (row,
   col)`` are changed, and return the number of positions ``(i, j)`` where the mask differs (by more
   than 1e-6 in some channel). Restore the mask's training mode afterwards.

Do not use the package's ``LocalConvMask`` (the book's answer): a submission that does scores zero.

Questions for your report (not graded): does "the same number of FLOPs" hold at the three stages of the
CIFAR Attention-56 (64, 128, 256 channels at 32, 16, 8 pixels with 3, 2, 1 max-pools)? How does
``spread`` differ between the two masks, and what does that say about Table 4?

Grade your work with ``python -m assignments.grade 2``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from resattn_min import count_macs, count_parameters
from resattn_min.residual_unit import ResidualUnit, UnitFactory
from resattn_min.soft_mask import MaskHead, SoftMaskBranch


class LocalConvolutionMask(nn.Module):
    """Three units at full resolution and the mask head: the "local convolutions" mask of Table 4."""

    def __init__(
        self, channels: int, depth: int = 0, r: int = 1, *, unit: UnitFactory, activation: str = "mixed"
    ) -> None:
        super().__init__()
        # BEGIN SOLUTION: set self.depth = 0, then build three unit(channels, channels) and a MaskHead
        self.depth = 0
        self.body = nn.Sequential(*(unit(channels, channels) for _ in range(3)))
        self.head = MaskHead(channels, activation, unit.preactivation)
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION: the three units, then the head; the output has the shape of x
        return self.head(self.body(x))
        # END SOLUTION


def mask_cost(mask: nn.Module, channels: int, size: int) -> dict[str, int]:
    """Learnable parameters and multiply-adds of ``mask`` on one ``channels x size x size`` input."""
    # BEGIN SOLUTION: {"params": count_parameters(...), "macs": count_macs(...)}
    return {"params": count_parameters(mask), "macs": count_macs(mask, image_size=size, channels=channels)}
    # END SOLUTION


def compare_masks(channels: int, size: int, depth: int) -> dict[str, dict[str, int]]:
    """The cost of the encoder-decoder mask (``depth`` max-pools) and of the local mask, side by side."""
    # BEGIN SOLUTION: build SoftMaskBranch and LocalConvolutionMask with unit=ResidualUnit; cost each
    masks = {
        "encoder_decoder": SoftMaskBranch(channels, depth, unit=ResidualUnit),
        "local": LocalConvolutionMask(channels, unit=ResidualUnit),
    }
    return {name: mask_cost(mask, channels, size) for name, mask in masks.items()}
    # END SOLUTION


def spread(mask: nn.Module, channels: int, size: int, position: tuple[int, int]) -> int:
    """Positions of the mask's output that change when the input changes at one ``position`` only."""
    # BEGIN SOLUTION: eval mode, two forward passes (x and x changed at position), count changed positions
    was_training = mask.training
    mask.eval()
    x = torch.randn(1, channels, size, size)
    changed = x.clone()
    changed[:, :, position[0], position[1]] += torch.randn(channels)
    with torch.no_grad():
        diff = (mask(changed) - mask(x)).abs().amax(dim=1)
    mask.train(was_training)
    return int((diff > 1e-6).sum())
    # END SOLUTION
