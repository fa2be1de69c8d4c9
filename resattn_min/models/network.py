"""One configurable Residual Attention Network; the CIFAR and ImageNet families are configurations of it.

A network is a stem, a list of stages and a classifier head. A stage is ``units_before`` basic units (the
first one changes width and stride), ``attention_modules`` Attention Modules, then ``units_after`` basic
units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .attention_module import AttentionModule
from .residual_unit import get_unit

__all__ = ["Stage", "ResidualAttentionNetwork", "init_weights"]


@dataclass(frozen=True)
class Stage:
    """One stage: width, stride of its first unit, Attention Modules and the max-pools of their masks."""

    channels: int
    stride: int
    attention_modules: int
    mask_depth: int = 0
    units_before: int = 1
    units_after: int = 0


def init_weights(model: nn.Module) -> None:
    """He (Kaiming-normal, fan-out) init for convs, as in the paper's training set-up; BN to (1, 0)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)


class ResidualAttentionNetwork(nn.Module):
    """A stack of stages of basic units and Attention Modules (Wang et al., CVPR 2017).

    Args:
        stem: maps the image to ``stem_channels`` channels (and may downsample by ``stem_stride``).
        stem_channels: channels out of the stem.
        stem_stride: total downsampling of the stem (used to check input sizes).
        stages: the :class:`Stage` list.
        num_classes: outputs of the classifier.
        p, t, r, unit, mask, activation, combination: passed to every :class:`AttentionModule`.
        preact_head: end with ``BN-ReLU`` before pooling (pre-activation units leave the last sum
            un-normalised); post-activation units (ResNeXt) need no such head.
        name: the registered name, used in error messages.
    """

    def __init__(
        self,
        stem: nn.Module,
        stem_channels: int,
        stem_stride: int,
        stages: Sequence[Stage],
        *,
        num_classes: int = 10,
        p: int = 1,
        t: int = 2,
        r: int = 1,
        unit: str = "residual",
        mask: str = "encoder_decoder",
        activation: str = "mixed",
        combination: str = "arl",
        preact_head: bool = True,
        name: str = "residual_attention_network",
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}")
        unit_cls = get_unit(unit)
        self.name = name
        self.stem = stem
        self.stages = nn.ModuleList()
        self.min_input_size = 1
        channels, stride = stem_channels, stem_stride
        for spec in stages:
            stride *= spec.stride
            if spec.attention_modules and mask != "local":
                # Each of the mask's max-pools must see a map of at least 2x2.
                self.min_input_size = max(self.min_input_size, stride * 2**spec.mask_depth)
            blocks = [unit_cls(channels, spec.channels, spec.stride)]
            blocks += [unit_cls(spec.channels, spec.channels) for _ in range(spec.units_before - 1)]
            blocks += [
                AttentionModule(
                    spec.channels, spec.mask_depth, p=p, t=t, r=r, unit=unit_cls, mask=mask,
                    activation=activation, combination=combination,
                )
                for _ in range(spec.attention_modules)
            ]
            blocks += [unit_cls(spec.channels, spec.channels) for _ in range(spec.units_after)]
            self.stages.append(nn.Sequential(*blocks))
            channels = spec.channels
        self.min_input_size = max(self.min_input_size, stride)
        self.num_features = channels
        self.head_act = (
            nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True)) if preact_head else nn.Identity()
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        init_weights(self)

    def check_input(self, x: Tensor) -> None:
        """Raise a clear error for an input the network cannot take (rank, channels, size)."""
        if x.dim() != 4:
            raise ValueError(
                f"{self.name} expects a batch of images (N, C, H, W), got shape {tuple(x.shape)}"
            )
        h, w = x.shape[-2:]
        if min(h, w) < self.min_input_size:
            raise ValueError(
                f"{self.name}: input {h}x{w} is too small; the soft mask branch's max-pools need at least "
                f"{self.min_input_size}x{self.min_input_size} pixels (resize or pad the images, or use a "
                "model with shallower masks)"
            )

    def forward_features(self, x: Tensor) -> Tensor:
        """Stem and stages: the last feature map, before the classifier head."""
        self.check_input(x)
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head_act(x)

    def forward_head(self, x: Tensor) -> Tensor:
        """Global average pooling and the linear classifier."""
        return self.fc(torch.flatten(self.pool(x), 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier for ``num_classes`` outputs (for fine-tuning)."""
        self.fc = nn.Linear(self.num_features, num_classes)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)
