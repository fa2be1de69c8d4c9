"""The Attention Module (Sec. 3, Fig. 2) and its two combination rules (Eq. 1 and Eq. 3).

``p`` pre-processing units, then a split: the trunk branch (``t`` units) gives ``T(x)``, the mask branch
gives ``M(x)`` in the same shape. They are combined by

* attention residual learning (ARL, Eq. 3): ``H = (1 + M) * T`` -- with ``M = 0`` the module is its trunk;
* naive attention learning (NAL, Eq. 1):   ``H = M * T`` -- repeated products with values in [0, 1]
  shrink the features module after module (Sec. 3.1, Fig. 4);

followed by ``p`` post-processing units.
"""

from __future__ import annotations

from torch import Tensor, nn

from .residual_unit import UnitFactory, get_unit
from .soft_mask import MASKS

__all__ = ["AttentionModule", "COMBINATIONS", "combine"]

COMBINATIONS = ("arl", "nal")


def combine(mask: Tensor, trunk: Tensor, rule: str) -> Tensor:
    """Merge the mask into the trunk: ``(1 + M) * T`` for ``"arl"``, ``M * T`` for ``"nal"``."""
    if rule == "arl":
        return (1 + mask) * trunk
    if rule == "nal":
        return mask * trunk
    raise ValueError(f"unknown combination {rule!r}; choose one of {COMBINATIONS}")


def _stack(unit, channels: int, n: int) -> nn.Sequential:
    return nn.Sequential(*(unit(channels, channels) for _ in range(n)))


class AttentionModule(nn.Module):
    """One Attention Module at ``channels`` channels.

    Args:
        channels: trunk width (input and output).
        mask_depth: max-pools in the soft mask branch.
        p, t, r: the paper's hyper-parameters (pre/post units, trunk units, mask units per level).
        unit: basic unit name (``residual``, ``resnext`` or ``inception``), or the unit class itself (a
            network looks its unit up once and passes the class down, as torchvision passes ``block``).
        mask: ``encoder_decoder`` (bottom-up top-down, Sec. 3.2) or ``local`` (Table 4).
        activation: mask activation ``mixed``, ``channel`` or ``spatial`` (Sec. 3.3).
        combination: ``arl`` (Eq. 3) or ``nal`` (Eq. 1).
    """

    def __init__(
        self,
        channels: int,
        mask_depth: int,
        *,
        p: int = 1,
        t: int = 2,
        r: int = 1,
        unit: str | UnitFactory = "residual",
        mask: str = "encoder_decoder",
        activation: str = "mixed",
        combination: str = "arl",
    ) -> None:
        super().__init__()
        if combination not in COMBINATIONS:
            raise ValueError(f"unknown combination {combination!r}; choose one of {COMBINATIONS}")
        if mask not in MASKS:
            raise ValueError(f"unknown mask type {mask!r}; choose one of {sorted(MASKS)}")
        unit_cls = get_unit(unit) if isinstance(unit, str) else unit
        self.combination = combination
        self.pre = _stack(unit_cls, channels, p)
        self.trunk = _stack(unit_cls, channels, t)
        self.mask = MASKS[mask](channels, mask_depth, r, unit=unit_cls, activation=activation)
        self.post = _stack(unit_cls, channels, p)

    @property
    def mask_depth(self) -> int:
        """Number of max-pools in the mask branch (0 for the local-convolution mask)."""
        return self.mask.depth

    def forward(self, x: Tensor) -> Tensor:
        x = self.pre(x)
        trunk = self.trunk(x)
        mask = self.mask(x)
        return self.post(combine(mask, trunk, self.combination))
