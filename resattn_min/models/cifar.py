"""The CIFAR family: Attention-56 ... Attention-452 and the ResNet-164 baseline (Sec. 4.1).

The paper gives depths and sizes but no definition. Sec. 4.1: "The network consists of 3 stages and
similar to ResNet, equal number of Attention Modules are stacked in each stage. Additionally, we add two
Residual Units at each stage. The number of weighted layers in trunk branch is 36m+20". Our reading:

* stem: a 3x3 conv to 16 channels (as ResNet-164 on CIFAR);
* three stages at 32x32, 16x16 and 8x8 with 64, 128 and 256 channels (bottleneck widths 16/32/64);
  each opens with a unit that changes width and stride, holds ``m`` Attention Modules, and closes with
  one more unit: two units per stage, six in all, 18 layers; with the stem and the classifier, 20. Each
  module adds ``3 (2p + t)`` = 12 trunk layers per stage, so the trunk depth is ``36m + 20``
  (:func:`resattn_min.models.counting.trunk_depth` counts it);
* mask depth (max-pools) 3, 2, 1 in the three stages. This follows the released ImageNet network's
  numbers, not its rule: there every mask's smallest map (7x7) is the size of the smallest trunk map;
  here it is 4x4, half the smallest CIFAR trunk map (8x8). The rule would give 2, 1, 0 and no mask at
  all in stage 3, which the paper's Attention Modules in every stage rule out.

Sizes (counted by ``tests/test_sizes.py``): Attention-92 1.85 M (paper 1.9 M), Attention-236 5.08 M
(5.1 M), Attention-452 9.07 M (8.6 M), ResNet-164 1.70 M (1.7 M).

Until December 2026 the package built one unit per stage plus two at the end of stage 3: five units,
a trunk of ``36m + 17`` layers. The runs on record that were trained that way say so in their results
(``architecture``), and ``trunk="36m+17"`` still builds that network, so their checkpoints load.
"""

from __future__ import annotations

from torch import nn

from .network import ResidualAttentionNetwork, Stage
from .registry import register_model

__all__ = [
    "attention_cifar", "modules_for_depth", "trunk_of", "CIFAR_DEPTHS", "CIFAR_TRUNKS", "resnet164_cifar",
]

CIFAR_MASK_DEPTHS = (3, 2, 1)
#: Depths with a registered builder (36m + 20 for p, t = 1, 2); 452 is m = 6 with p, t, r = 2, 4, 3.
CIFAR_DEPTHS = {56: 1, 92: 2, 128: 3, 164: 4, 236: 6}
#: Units (before, after) the Attention Modules of each stage: the paper's two per stage, and the
#: five-unit trunk the package built before (``"36m+17"``, kept to load the runs trained with it).
CIFAR_TRUNKS: dict[str, tuple[tuple[int, int], ...]] = {
    "36m+20": ((1, 1), (1, 1), (1, 1)),
    "36m+17": ((1, 0), (1, 0), (1, 2)),
}


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
    trunk: str = "36m+20",
    **options,
) -> ResidualAttentionNetwork:
    """Attention-``depth`` for 32x32 images; ``options`` select unit, mask, activation, combination.

    ``trunk="36m+17"`` builds the package's earlier five-unit trunk (three layers short of the name).
    """
    if trunk not in CIFAR_TRUNKS:
        raise ValueError(f"unknown CIFAR trunk {trunk!r}; choose one of {sorted(CIFAR_TRUNKS)}")
    m = modules_for_depth(depth, p, t)
    stages = [
        Stage(channels, stride, m, mask_depth, units_before=before, units_after=after)
        for (channels, stride), mask_depth, (before, after) in zip(
            ((64, 1), (128, 2), (256, 2)), mask_depths, CIFAR_TRUNKS[trunk], strict=True)
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


def trunk_of(state_dict: dict) -> str | None:
    """Which of :data:`CIFAR_TRUNKS` a CIFAR network's ``state_dict`` was built with, from its keys alone.

    ``None`` when the keys are not those of a three-stage network with Attention Modules. Used to load a
    checkpoint into the network it was trained as, and to say so when it does not fit.
    """
    blocks: dict[int, set[int]] = {}
    modules: dict[int, set[int]] = {}
    for key in state_dict:
        parts = key.split(".")
        if len(parts) > 3 and parts[0] == "stages" and parts[1].isdigit() and parts[2].isdigit():
            stage, block = int(parts[1]), int(parts[2])
            blocks.setdefault(stage, set()).add(block)
            if parts[3] == "mask":
                modules.setdefault(stage, set()).add(block)
    if sorted(blocks) != [0, 1, 2] or sorted(modules) != [0, 1, 2]:
        return None
    layout = tuple((min(modules[s]), max(blocks[s]) - max(modules[s])) for s in range(3))
    return next((name for name, units in CIFAR_TRUNKS.items() if units == layout), None)
