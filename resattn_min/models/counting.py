"""Parameter and multiply-add counts, and the trunk depth that names a network (Attention-92).

We report **multiply-adds** (MACs), the unit behind the paper's "FLOPs": ``torch.utils.flop_counter``
counts FLOPs = 2 x MACs for convolutions and matrix products, and we halve it. Only convolutions and the
classifier are counted (BatchNorm, ReLU, pooling and interpolation are left out, as in the paper).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .attention_module import AttentionModule
from .residual_unit import UNITS

__all__ = ["count_parameters", "count_macs", "trunk_depth", "architecture_of"]


def count_parameters(model: nn.Module) -> int:
    """Number of learnable parameters (conv weights, BN affine, classifier)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def trunk_depth(model: nn.Module) -> int:
    """Weighted layers on the trunk path, the depth in a name like Attention-92 (Sec. 4.1).

    The stem's convolutions, three per unit outside the mask branches (a projection shortcut is not on
    the path) and the classifier. Attention-56 and Attention-92 count 56 and 92 in both families.
    """
    in_masks = {id(m) for module in model.modules() if isinstance(module, AttentionModule)
                for m in module.mask.modules()}
    units = [m for m in model.modules() if isinstance(m, tuple(UNITS.values())) and id(m) not in in_masks]
    stem = sum(isinstance(m, nn.Conv2d) for m in model.stem.modules())
    return stem + 3 * len(units) + 1


def architecture_of(model: nn.Module) -> str | None:
    """The label a run's results carry: ``"CIFAR trunk 36m+20: 92 layers"``, ``"164 trunk layers"``.

    ``None`` for networks that are not ours (torchvision's ResNets).
    """
    from .cifar import trunk_of
    from .network import ResidualAttentionNetwork

    if not isinstance(model, ResidualAttentionNetwork):
        return None
    trunk, depth = trunk_of(model.state_dict()), trunk_depth(model)
    return f"CIFAR trunk {trunk}: {depth} layers" if trunk else f"{depth} trunk layers"


def count_macs(model: nn.Module, image_size: int = 224, channels: int = 3) -> int:
    """Multiply-adds of one forward pass on one ``image_size`` x ``image_size`` image."""
    was_training = model.training
    model.eval()
    x = torch.zeros(1, channels, image_size, image_size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() // 2
