# Student version, generated from assignments/solutions/ by `python -m assignments.make_student`.
# Replace every `raise NotImplementedError(...)` with your code; the docstrings say what to write.
# ruff: noqa: F401 -- the imports are the ones the solution uses: yours may need them
"""Assignment 2 -- the local-convolution mask of Table 4, against the encoder-decoder mask (chapter 2).

Table 4 of the paper replaces the bottom-up top-down soft mask branch by "local convolutions": "three
Residual Units using the same number of FLOPs", no down- or up-sampling, and finds it worse (6.48%
against 5.52% error). Three full-width units at full resolution cost far more than the encoder-decoder
mask, whose units mostly run on pooled maps; so the local mask's units must be narrower. Find how much
narrower, build the mask, then measure the claim and what each mask can see (Fig. 3 compares their
receptive fields).

1. ``matched_width(channels, depth, r)`` -- the bottleneck width ``b`` (a whole number from 1 to
   ``channels``) for which three ``ResidualUnit(channels, channels, width=b)`` at full resolution cost
   the multiply-adds closest to the units of ``SoftMaskBranch(channels, depth, r, unit=ResidualUnit)``
   (both masks end in the same head, so the units decide). Count them however you like: by formula, or
   with ``count_macs`` on real modules at a size that halves cleanly ``depth`` times.
2. ``LocalConvolutionMask`` -- three ``ResidualUnit(channels, channels, width=matched_width(...))`` in a
   row, then the mask head ``MaskHead(channels, activation, unit.preactivation)`` (given by the package).
   Its constructor takes the same arguments as ``SoftMaskBranch`` so that an Attention Module can use
   either; ``depth`` and ``r`` are those of the encoder-decoder mask it stands in for. Set ``self.depth =
   0`` (it has no max-pools).
3. ``mask_cost(mask, channels, size)`` -- a dict ``{"params": ..., "macs": ...}``: the learnable parameters
   and the multiply-adds of one forward pass on a ``1 x channels x size x size`` input
   (``resattn_min.count_parameters`` and ``resattn_min.count_macs`` do the counting).
4. ``compare_masks(channels, size, depth)`` -- ``{"encoder_decoder": cost, "local": cost}`` for the
   package's ``SoftMaskBranch(channels, depth, unit=ResidualUnit)`` and your local mask (same ``depth``)
   with ``ResidualUnit``, at the same channels and input size.
5. ``spread(mask, channels, size, position)`` -- how far one pixel reaches: put the mask in eval mode, run
   it on a random ``1 x channels x size x size`` input and on a copy whose channels at ``position = (row,
   col)`` are changed, and return the number of positions ``(i, j)`` where the mask differs (by more
   than 1e-6 in some channel). Restore the mask's training mode afterwards.

Do not use the package's ``LocalConvMask`` or ``local_mask_width`` (the book's answers): a submission
that does scores zero.

Questions for your report (not graded): at the three stages of the CIFAR Attention-56 (64, 128, 256
channels at 32, 16, 8 pixels with 3, 2, 1 max-pools), how much would three full-width units cost beside
the encoder-decoder mask, and how much of their width is left at equal cost? How does ``spread`` differ
between the two masks, and what does that say about Table 4?

Grade your work with ``python -m assignments.grade 2``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from resattn_min import count_macs, count_parameters
from resattn_min.models.residual_unit import ResidualUnit, UnitFactory
from resattn_min.models.soft_mask import MaskHead, SoftMaskBranch


def matched_width(channels: int, depth: int, r: int = 1) -> int:
    """Bottleneck width of three full-resolution units that cost what the encoder-decoder mask's units do."""
    raise NotImplementedError(
        "cost the encoder-decoder units, then pick the width whose three units come closest"
    )


class LocalConvolutionMask(nn.Module):
    """Three narrowed units at full resolution and the mask head: the "local convolutions" mask of Table 4."""

    def __init__(
        self, channels: int, depth: int, r: int = 1, *, unit: UnitFactory, activation: str = "mixed"
    ) -> None:
        super().__init__()
        raise NotImplementedError(
            "self.depth = 0; three ResidualUnit(channels, channels, width=...) and a MaskHead"
        )

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError("the three units, then the head; the output has the shape of x")


def mask_cost(mask: nn.Module, channels: int, size: int) -> dict[str, int]:
    """Learnable parameters and multiply-adds of ``mask`` on one ``channels x size x size`` input."""
    raise NotImplementedError("{\"params\": count_parameters(...), \"macs\": count_macs(...)}")


def compare_masks(channels: int, size: int, depth: int) -> dict[str, dict[str, int]]:
    """The cost of the encoder-decoder mask (``depth`` max-pools) and of the local mask, side by side."""
    raise NotImplementedError(
        "build SoftMaskBranch and LocalConvolutionMask with unit=ResidualUnit; cost each"
    )


def spread(mask: nn.Module, channels: int, size: int, position: tuple[int, int]) -> int:
    """Positions of the mask's output that change when the input changes at one ``position`` only."""
    raise NotImplementedError(
        "eval mode, two forward passes (x and x changed at position), count changed positions"
    )
