"""The basic units an Attention Module is built from (paper, Sec. 3 and Sec. 4.2).

* :class:`ResidualUnit` -- the pre-activation bottleneck of He et al. (2016), the unit of every
  Attention-N network in the paper.
* :class:`ResNeXtUnit` -- the post-activation ResNeXt bottleneck (grouped 3x3, cardinality 32) of
  AttentionNeXt-56, as in the released ``AttentionNeXt-56-deploy.prototxt``.
* :class:`InceptionUnit` -- a simplified pre-activation Inception unit for AttentionInception-56
  (no definition was released; ours is documented in its docstring).

Every unit has the signature ``unit(in_channels, out_channels, stride=1)`` so that the attention module,
the soft mask branch and the networks can take any of them by name (:func:`get_unit`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = [
    "conv1x1",
    "conv3x3",
    "ResidualUnit",
    "ResNeXtUnit",
    "InceptionUnit",
    "UNITS",
    "get_unit",
]

UnitFactory = Callable[..., nn.Module]


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias (a BatchNorm always follows or precedes it)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1, without bias."""
    return nn.Conv2d(
        in_channels, out_channels, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False
    )


class ResidualUnit(nn.Module):
    """Pre-activation bottleneck: ``BN-ReLU-1x1 -> BN-ReLU-3x3(stride) -> BN-ReLU-1x1`` plus a shortcut.

    The bottleneck width is ``out_channels // 4`` unless ``width`` is given (the local-convolution mask of
    Table 4 narrows it to cost what the encoder-decoder mask costs). The shortcut is the identity when the
    shape is kept; otherwise a strided 1x1 projection of the *pre-activated* input, created only when it
    is used.
    ``preactivation = True``: the output is a raw sum, so whatever reads it (the mask head, the
    classifier) starts with ``BN-ReLU``.
    """

    preactivation = True

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, width: int | None = None
    ) -> None:
        super().__init__()
        width = out_channels // 4 if width is None else width
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv1x1(in_channels, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn3 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.projection = (
            conv1x1(in_channels, out_channels, stride)
            if stride != 1 or in_channels != out_channels
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        preact = self.relu(self.bn1(x))
        shortcut = x if self.projection is None else self.projection(preact)
        out = self.conv1(preact)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + shortcut


class ResNeXtUnit(nn.Module):
    """Post-activation ResNeXt bottleneck: ``1x1-BN-ReLU -> grouped 3x3-BN-ReLU -> 1x1-BN``, add, ReLU.

    Width ``out_channels // 2`` split into ``cardinality`` groups (32x4d at 256 channels), as in
    ResNeXt (Xie et al., 2017). The projection shortcut is a strided 1x1 conv followed by BN.
    ``preactivation = False``: its output is already normalised and rectified.
    """

    preactivation = False

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, cardinality: int = 32) -> None:
        super().__init__()
        width = out_channels // 2
        if width % cardinality:
            raise ValueError(f"ResNeXtUnit width {width} is not divisible by cardinality {cardinality}")
        self.conv1 = conv1x1(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups=cardinality)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.projection = (
            nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))
            if stride != 1 or in_channels != out_channels
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.projection is None else self.projection(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


class InceptionUnit(nn.Module):
    """A simplified pre-activation Inception unit with a residual shortcut.

    The paper "simplifies the Inception" to keep AttentionInception-56 at the size of Attention-56 but
    released no definition. Ours: after a shared ``BN-ReLU``, three branches of width ``out_channels // 8``
    -- ``1x1``; ``1x1 -> 3x3``; ``1x1 -> 3x3 -> 3x3`` (a factorised 5x5) -- are concatenated and mixed back
    to ``out_channels`` by a 1x1 conv, then added to the shortcut (identity, or a strided 1x1 projection
    of the pre-activated input). The stride is taken by the 3x3 convs and by a strided 1x1 in the first
    branch. It costs about 10% more than :class:`ResidualUnit` at the same channels.
    """

    preactivation = True

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        width = out_channels // 8
        self.bn = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.branch1 = conv1x1(in_channels, width, stride)
        self.branch3 = nn.Sequential(
            conv1x1(in_channels, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            conv3x3(width, width, stride),
        )
        self.branch5 = nn.Sequential(
            conv1x1(in_channels, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            conv3x3(width, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            conv3x3(width, width, stride),
        )
        self.mix_bn = nn.BatchNorm2d(3 * width)
        self.mix = conv1x1(3 * width, out_channels)
        self.projection = (
            conv1x1(in_channels, out_channels, stride)
            if stride != 1 or in_channels != out_channels
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        preact = self.relu(self.bn(x))
        shortcut = x if self.projection is None else self.projection(preact)
        out = torch.cat([self.branch1(preact), self.branch3(preact), self.branch5(preact)], dim=1)
        out = self.mix(self.relu(self.mix_bn(out)))
        return out + shortcut


UNITS: dict[str, UnitFactory] = {
    "residual": ResidualUnit,
    "resnext": ResNeXtUnit,
    "inception": InceptionUnit,
}


def get_unit(name: str) -> UnitFactory:
    """Return the unit class registered under ``name`` (``residual``, ``resnext`` or ``inception``)."""
    try:
        return UNITS[name]
    except KeyError:
        raise ValueError(f"unknown unit {name!r}; choose one of {sorted(UNITS)}") from None
