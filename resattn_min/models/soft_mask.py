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
from .residual_unit import ResidualUnit, UnitFactory, conv1x1

__all__ = [
    "SoftMaskBranch", "LocalConvMask", "MaskHead", "MASKS", "upsample_like", "bottom_units",
    "encoder_decoder_units", "local_mask_width",
]


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
        unit: the basic unit class (see :mod:`resattn_min.models.residual_unit`).
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


def encoder_decoder_units(depth: int, r: int = 1) -> float:
    """The units of a :class:`SoftMaskBranch`, each weighted by the share of the input's pixels it sees.

    After ``l`` max-pools a map holds ``1 / 4**l`` of the pixels. Every level but the lowest holds ``r``
    units down, one skip unit and ``r`` units up; the lowest holds :func:`bottom_units`. Units cost in
    proportion to their pixels, so this is the branch's unit cost in full-resolution units.
    """
    return sum((2 * r + 1) / 4**level for level in range(1, depth)) + bottom_units(r) / 4**depth


def _unit_macs(channels: int, width: int) -> int:
    """Multiply-adds per pixel of a shape-keeping residual unit of bottleneck ``width``: 1x1, 3x3, 1x1."""
    return 2 * channels * width + 9 * width * width


def local_mask_width(channels: int, depth: int, r: int = 1, units: int = 3) -> int:
    """Bottleneck width for the local mask's ``units`` so that they cost what the encoder-decoder mask's do.

    Table 4 compares the two masks "using the same number of FLOPs". Three full-width units at full
    resolution cost 1.7-2.0x the encoder-decoder units at the CIFAR stages, so the local mask's units are
    narrowed instead (both masks share the head). At 64, 128, 256 channels with 3, 2, 1 max-pools the
    width is 7, 13, 17 instead of 16, 32, 64.
    """
    target = encoder_decoder_units(depth, r) * _unit_macs(channels, channels // 4) / units
    return min(range(1, channels + 1), key=lambda width: abs(_unit_macs(channels, width) - target))


class LocalConvMask(nn.Module):
    """Table 4's "local convolutions" mask: three residual units at full resolution, no down/up-sampling.

    ``depth`` and ``r`` are those of the encoder-decoder mask it stands in for: its units are narrowed
    (:func:`local_mask_width`) to cost the same multiply-adds. It pools nothing, so ``self.depth = 0``.
    """

    def __init__(
        self, channels: int, depth: int, r: int = 1, *, unit: UnitFactory, activation: str = "mixed"
    ) -> None:
        super().__init__()
        if not (isinstance(unit, type) and issubclass(unit, ResidualUnit)):
            raise ValueError("the local-convolution mask is built of residual units (Table 4), "
                             f"not {getattr(unit, '__name__', unit)}")
        if depth < 1:
            raise ValueError(f"the local mask matches the cost of an encoder-decoder mask of depth >= 1 "
                             f"max-pools, got depth={depth}")
        self.depth = 0
        width = local_mask_width(channels, depth, r)
        self.body = nn.Sequential(*(unit(channels, channels, width=width) for _ in range(3)))
        self.head = MaskHead(channels, activation, unit.preactivation)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


MASKS: dict[str, type[nn.Module]] = {"encoder_decoder": SoftMaskBranch, "local": LocalConvMask}
