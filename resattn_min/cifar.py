"""The CIFAR family: Attention-56 ... Attention-452 and the ResNet-164 baseline (Sec. 4.1).

The paper gives depths and sizes but no definition; our design, chosen to match the paper's sizes:

* stem: a 3x3 conv to 16 channels (as ResNet-164 on CIFAR);
* three stages at 32x32, 16x16 and 8x8 with 64, 128 and 256 channels (bottleneck widths 16/32/64);
  each starts with one unit that changes width and stride, holds ``m`` Attention Modules, and the last
  stage ends with two more units: six units besides the modules, so the trunk depth is ``36m + 20``
  (each module adds ``3 (2p + t)`` = 12 layers per stage);
* mask depth (max-pools) 3, 2, 1 in the three stages -- as in the ImageNet network, every mask's smallest
  map is the same size (4x4 here for a 32x32 image, 7x7 there for 224x224).

Sizes (counted by ``tests/test_sizes.py``): Attention-92 1.89 M (paper 1.9 M), Attention-236 5.13 M
(5.1 M), Attention-452 9.12 M (8.6 M), ResNet-164 1.70 M (1.7 M).
"""

from __future__ import annotations

from torch import nn

from .network import ResidualAttentionNetwork, Stage
from .registry import register_model

__all__ = ["attention_cifar", "modules_for_depth", "CIFAR_DEPTHS", "resnet164_cifar"]

CIFAR_MASK_DEPTHS = (3, 2, 1)
#: Depths with a registered builder (36m + 20 for p, t = 1, 2); 452 is m = 6 with p, t, r = 2, 4, 3.
CIFAR_DEPTHS = {56: 1, 92: 2, 128: 3, 164: 4, 236: 6}


def modules_for_depth(depth: int, p: int = 1, t: int = 2) -> int:
    """Attention Modules per stage ``m`` for a trunk depth ``3 m (2p + t) * 3 + 20`` (36m + 20 by default)."""
    per_module = 3 * 3 * (2 * p + t)
    m, rest = divmod(depth - 20, per_module)
    if rest or m < 1:
        valid = ", ".join(str(per_module * k + 20) for k in range(1, 8))
        raise ValueError(
            f"depth {depth} is not {per_module}m + 20 for p={p}, t={t}; valid depths are {valid}, ..."
        )
    return m


def _cifar_stem() -> nn.Module:
    return nn.Conv2d(3, 16, kernel_size=3, padding=1, bias=False)


def attention_cifar(
    depth: int = 92,
    *,
    num_classes: int = 10,
    p: int = 1,
    t: int = 2,
    r: int = 1,
    mask_depths: tuple[int, int, int] = CIFAR_MASK_DEPTHS,
    **options,
) -> ResidualAttentionNetwork:
    """Attention-``depth`` for 32x32 images; ``options`` select unit, mask, activation, combination."""
    m = modules_for_depth(depth, p, t)
    stages = [
        Stage(64, 1, m, mask_depths[0]),
        Stage(128, 2, m, mask_depths[1]),
        Stage(256, 2, m, mask_depths[2], units_after=2),
    ]
    name = options.pop("name", f"attention{depth}_cifar")
    return ResidualAttentionNetwork(
        _cifar_stem(), 16, 1, stages, num_classes=num_classes, p=p, t=t, r=r, name=name, **options
    )


@register_model
def attention56_cifar(**kwargs) -> ResidualAttentionNetwork:
    """Attention-56 (m = 1), the network of the ablations in Tables 1, 3 and 4."""
    return attention_cifar(56, **kwargs)


@register_model
def attention92_cifar(**kwargs) -> ResidualAttentionNetwork:
    """Attention-92 (m = 2): 4.99% error on CIFAR-10 in the paper (Table 6)."""
    return attention_cifar(92, **kwargs)


@register_model
def attention128_cifar(**kwargs) -> ResidualAttentionNetwork:
    """Attention-128 (m = 3)."""
    return attention_cifar(128, **kwargs)


@register_model
def attention164_cifar(**kwargs) -> ResidualAttentionNetwork:
    """Attention-164 (m = 4), used for the mean absolute response of Fig. 4."""
    return attention_cifar(164, **kwargs)


@register_model
def attention236_cifar(**kwargs) -> ResidualAttentionNetwork:
    """Attention-236 (m = 6)."""
    return attention_cifar(236, **kwargs)


@register_model
def attention452_cifar(**kwargs) -> ResidualAttentionNetwork:
    """Attention-452: m = 6 with p, t, r = 2, 4, 3 (Table 6)."""
    return attention_cifar(452, p=2, t=4, r=3, **kwargs)


@register_model
def resnet164_cifar(*, num_classes: int = 10, **options) -> ResidualAttentionNetwork:
    """Pre-activation ResNet-164 (He et al., 2016): the same stages with 18 units and no modules."""
    stages = [Stage(c, s, 0, units_before=18) for c, s in ((64, 1), (128, 2), (256, 2))]
    return ResidualAttentionNetwork(
        _cifar_stem(), 16, 1, stages, num_classes=num_classes, name="resnet164_cifar", **options
    )
