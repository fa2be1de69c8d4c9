"""The ImageNet family (Table 2), built to the authors' released deploy files.

``conv7x7/2 -> BN -> ReLU -> maxpool 3x3/2`` then four stages at 56, 28, 14 and 7 pixels (224x224 input)
with 256, 512, 1024 and 2048 channels; the first three hold Attention Modules whose masks use 3, 2 and 1
max-pools (the smallest mask map is 7x7, like the smallest trunk map), the last three units. Counted
against the released files: Attention-56 31,810,728 and Attention-92 52,466,344 parameters,
AttentionNeXt-56 31,318,824 (``tests/test_sizes.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from .network import ResidualAttentionNetwork, Stage
from .registry import register_model

__all__ = ["attention_imagenet"]

IMAGENET_MASK_DEPTHS = (3, 2, 1)


def _imagenet_stem() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )


def attention_imagenet(
    modules: Sequence[int] = (1, 1, 1),
    *,
    num_classes: int = 1000,
    unit: str = "residual",
    name: str = "attention_imagenet",
    **options,
) -> ResidualAttentionNetwork:
    """An ImageNet Residual Attention Network with ``modules`` Attention Modules in stages 1-3."""
    if len(modules) != 3:
        raise ValueError(f"give the Attention Modules of the three attention stages, got {tuple(modules)}")
    d = IMAGENET_MASK_DEPTHS
    stages = [
        Stage(256, 1, modules[0], d[0]),
        Stage(512, 2, modules[1], d[1]),
        Stage(1024, 2, modules[2], d[2]),
        Stage(2048, 2, 0, units_before=3),
    ]
    # Post-activation units (ResNeXt) end normalised; pre-activation ones need a final BN-ReLU.
    preact_head = options.pop("preact_head", unit != "resnext")
    return ResidualAttentionNetwork(
        _imagenet_stem(), 64, 4, stages, num_classes=num_classes, unit=unit, name=name,
        preact_head=preact_head, **options,
    )


@register_model
def attention56(**kwargs) -> ResidualAttentionNetwork:
    """Attention-56: one module per stage; 31.8 M parameters, 6.27 G multiply-adds at 224x224."""
    return attention_imagenet((1, 1, 1), name="attention56", **kwargs)


@register_model
def attention92(**kwargs) -> ResidualAttentionNetwork:
    """Attention-92: (1, 2, 3) modules; 52.5 M parameters, 10.53 G multiply-adds at 224x224."""
    return attention_imagenet((1, 2, 3), name="attention92", **kwargs)


@register_model
def attentionnext56(**kwargs) -> ResidualAttentionNetwork:
    """AttentionNeXt-56: Attention-56 built of ResNeXt units (32x4d), Table 7."""
    return attention_imagenet((1, 1, 1), unit="resnext", name="attentionnext56", **kwargs)


@register_model
def attentioninception56(**kwargs) -> ResidualAttentionNetwork:
    """AttentionInception-56: Attention-56 built of simplified Inception units, Table 7."""
    return attention_imagenet((1, 1, 1), unit="inception", name="attentioninception56", **kwargs)
