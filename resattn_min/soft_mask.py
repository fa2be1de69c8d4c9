"""The soft mask branch (Sec. 3.2, Fig. 2) and the local-convolution mask of Table 4.

Bottom-up: ``depth`` max-pools (3x3, stride 2), each followed by ``r`` units, with ``r + 1`` units at
the lowest resolution (see :func:`bottom_units`). Each level above the lowest also feeds a *skip unit*.
Top-down: bilinear upsampling to the size of the level above, plus that level's skip unit output, then
``r`` units; a last upsampling back to the trunk's size. The head is ``BN-ReLU-1x1 -> BN-ReLU-1x1``
and a mask activation.

Two details that popular ports get wrong (see the book, chapter 2): the merge adds *only* the skip unit's
output (Caffe's two-input ``Interp`` uses its second input for the size alone), and no size is hard-coded:
every upsampling goes to the size of the map it is merged with, so any input size works.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .mask_activation import get_activation
from .residual_unit import UnitFactory, conv1x1

__all__ = ["SoftMaskBranch", "LocalConvMask", "MaskHead", "MASKS", "upsample_like", "bottom_units"]


def upsample_like(x: Tensor, ref: Tensor) -> Tensor:
    """Bilinear upsampling of ``x`` to the spatial size of ``ref`` (Caffe ``Interp``, corners aligned)."""
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=True)


def bottom_units(r: int) -> int:
    """Units at the lowest resolution of the mask: ``r + 1``.

    The released ImageNet files (``r = 1``) hold two units there; the paper gives no other value of ``r``
    except Attention-452 (``r = 3``). ``r + 1`` keeps both: two for ``r = 1``, and Attention-452 at 9.1 M
    parameters against the paper's 8.6 M (``2r`` would give 10.2 M; see chapter 5).
    """
    return r + 1


def _units(unit: UnitFactory, channels: int, n: int) -> nn.Sequential:
    return nn.Sequential(*(unit(channels, channels) for _ in range(n)))


class MaskHead(nn.Module):
    """``BN-ReLU-conv1x1 -> BN-ReLU-conv1x1 -> activation``: turns mask features into ``M(x)``.

    After post-activation units (ResNeXt) the input is already normalised and rectified, and the first
    ``BN-ReLU`` is left out, as in the released AttentionNeXt-56.
    """

    def __init__(self, channels: int, activation: str = "mixed", preactivation: bool = True) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels) if preactivation else nn.Identity()
        self.conv1 = conv1x1(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = conv1x1(channels, channels)
        self.relu = nn.ReLU(inplace=True)
        self.activation = get_activation(activation)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(self.relu(self.bn1(x)))
        x = self.conv2(self.relu(self.bn2(x)))
        return self.activation(x)


class SoftMaskBranch(nn.Module):
    """Bottom-up top-down mask with skip connections; ``M(x)`` has the shape of its input.

    Args:
        channels: channels of the trunk (kept through the whole branch).
        depth: number of max-pools (3, 2, 1 in the ImageNet stages at 56, 28, 14 pixels).
        r: units after each max-pool and after each upsampling (``r + 1`` at the lowest resolution).
        unit: the basic unit class (see :mod:`resattn_min.residual_unit`).
        activation: ``mixed``, ``channel`` or ``spatial`` (Sec. 3.3).
    """

    def __init__(
        self, channels: int, depth: int, r: int = 1, *, unit: UnitFactory, activation: str = "mixed"
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"a soft mask branch needs at least one max-pool, got depth={depth}")
        self.depth = depth
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        # down[i] runs after the (i+1)-th max-pool; the lowest level holds bottom_units(r).
        self.down = nn.ModuleList(
            _units(unit, channels, bottom_units(r) if i == depth - 1 else r) for i in range(depth)
        )
        self.skips = nn.ModuleList(unit(channels, channels) for _ in range(depth - 1))
        self.up = nn.ModuleList(_units(unit, channels, r) for _ in range(depth - 1))
        self.head = MaskHead(channels, activation, unit.preactivation)

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        out = x
        for level, units in enumerate(self.down):
            out = units(self.pool(out))
            if level < self.depth - 1:
                skips.append(self.skips[level](out))
        for skip, units in zip(reversed(skips), reversed(self.up), strict=True):
            out = units(upsample_like(out, skip) + skip)
        return self.head(upsample_like(out, x))


class LocalConvMask(nn.Module):
    """Table 4's "local convolutions" mask: three units at full resolution, no down/up-sampling."""

    def __init__(
        self, channels: int, depth: int = 0, r: int = 1, *, unit: UnitFactory, activation: str = "mixed"
    ) -> None:
        super().__init__()
        self.depth = 0
        self.body = _units(unit, channels, 3)
        self.head = MaskHead(channels, activation, unit.preactivation)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


MASKS: dict[str, type[nn.Module]] = {"encoder_decoder": SoftMaskBranch, "local": LocalConvMask}
