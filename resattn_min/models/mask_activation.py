"""The three mask activations of Sec. 3.3 (Eqs. 4-6), selectable by name.

* ``mixed``   f1: a sigmoid at every channel and position, no constraint (the paper's default).
* ``channel`` f2: L2 normalisation over the channels at each position: only *which channels*, the same
  for every position up to scale -- spatial information is removed.
* ``spatial`` f3: each channel's map is standardised (mean 0, std 1 over the positions), then a sigmoid:
  attention that depends on *where*, with every channel given the same statistics.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["MixedAttention", "ChannelAttention", "SpatialAttention", "ACTIVATIONS", "get_activation"]


class MixedAttention(nn.Module):
    """f1 (Eq. 4): ``sigmoid(x)`` at each position and channel; values in [0, 1]."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x)


class ChannelAttention(nn.Module):
    """f2 (Eq. 5): ``x / ||x_i||`` where ``x_i`` is the channel vector at position ``i``."""

    def __init__(self, eps: float = 1e-12) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x / x.norm(p=2, dim=1, keepdim=True).clamp_min(self.eps)


class SpatialAttention(nn.Module):
    """f3 (Eq. 6): ``sigmoid((x - mean_c) / std_c)`` with the statistics of each channel's map."""

    def __init__(self, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        # Population statistics, so a 1x1 map gives 0.5 rather than NaN.
        var, mean = torch.var_mean(x, dim=(2, 3), unbiased=False, keepdim=True)
        return torch.sigmoid((x - mean) / (var + self.eps).sqrt())


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "mixed": MixedAttention,
    "channel": ChannelAttention,
    "spatial": SpatialAttention,
}


def get_activation(name: str) -> nn.Module:
    """A new mask activation module: ``mixed`` (f1), ``channel`` (f2) or ``spatial`` (f3)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown mask activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None
