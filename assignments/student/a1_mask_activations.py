# Student version, generated from assignments/solutions/ by `python -m assignments.make_student`.
# Replace every `raise NotImplementedError(...)` with your code; the docstrings say what to write.
# ruff: noqa: F401 -- the imports are the ones the solution uses: yours may need them
"""Assignment 1 -- channel attention f2 and spatial attention f3 (Sec. 3.3, Eqs. 5 and 6; chapter 4).

The soft mask branch ends with an activation that turns its features ``x`` (shape ``N, C, H, W``) into
the mask ``M(x)``. The paper compares three (Table 1). Mixed attention f1 (Eq. 4) is a plain sigmoid and
is written below as an example. Write the other two:

1. ``channel_attention(x, eps)`` -- f2, Eq. 5: ``x_{i,c} / ||x_i||`` where ``x_i`` is the vector of the
   ``C`` channels at position ``i``. Divide by ``max(||x_i||, eps)`` so that an all-zero position gives
   zeros rather than NaN. Each position's vector then has unit length: only the *mix of channels* is
   kept, the strength of each position is removed.
2. ``spatial_attention(x, eps)`` -- f3, Eq. 6: ``sigmoid((x_{i,c} - mean_c) / std_c)``, where ``mean_c``
   and ``std_c`` are the mean and standard deviation of channel ``c``'s map over its ``H x W`` positions
   (one pair per image and channel). Use the population variance (divide by ``H * W``) and
   ``std_c = sqrt(var_c + eps)``: a constant map (or a 1 x 1 map) then gives 0.5 instead of NaN. Every
   channel's map is brought to the same statistics, so what is left is *where* it is high.

The classes at the end wrap your functions as modules, so the grader can put them into the mask head
of an Attention Module. Do not use the package's own activations (``resattn_min.models.mask_activation``):
that is the book's answer, and a submission that imports it scores zero.

Questions for your report (not graded): each of f2 and f3 throws away something that f1 keeps -- what,
exactly? Table 1 finds mixed attention best; the paper's explanation is that f2 and f3 constrain the
mask. Relate that to what you found. Train ``tiny_network`` from ``assignments/graders/quick.py`` with
each activation for a few hundred steps and several seeds: is the ranking of Table 1 visible at that
scale, or within the spread over seeds?

Grade your work with ``python -m assignments.grade 1`` (add ``--submission PATH`` for a copy elsewhere).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def mixed_attention(x: Tensor) -> Tensor:
    """f1 (Eq. 4), the example: a sigmoid at every position and channel."""
    return torch.sigmoid(x)


def channel_attention(x: Tensor, eps: float = 1e-12) -> Tensor:
    """f2 (Eq. 5): each position's channel vector divided by its L2 norm (at least ``eps``)."""
    raise NotImplementedError(
        "f2 -- Eq. 5 as part 1 states it; a non-zero position must come out of unit length"
    )


def spatial_attention(x: Tensor, eps: float = 1e-5) -> Tensor:
    """f3 (Eq. 6): a sigmoid of each channel's map standardised over its positions."""
    raise NotImplementedError(
        "f3 -- Eq. 6 as part 2 states it; a constant map must come out as 0.5 everywhere"
    )


class ChannelAttentionModule(nn.Module):
    """f2 as a module (given)."""

    def forward(self, x: Tensor) -> Tensor:
        return channel_attention(x)


class SpatialAttentionModule(nn.Module):
    """f3 as a module (given)."""

    def forward(self, x: Tensor) -> Tensor:
        return spatial_attention(x)
