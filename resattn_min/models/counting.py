"""Parameter and multiply-add counts beside the paper's Tables 2, 6 and 7.

We report **multiply-adds** (MACs), the unit behind the paper's "FLOPs": ``torch.utils.flop_counter``
counts FLOPs = 2 x MACs for convolutions and matrix products, and we halve it. Only convolutions and the
classifier are counted (BatchNorm, ReLU, pooling and interpolation are left out, as in the paper).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .attention_module import AttentionModule
from .registry import create_model
from .residual_unit import UNITS

__all__ = ["count_parameters", "count_macs", "trunk_depth", "architecture_of", "PAPER_TABLES", "paper_table"]


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


#: The paper's numbers: (params x 1e6, multiply-adds x 1e9 or None, test error % or None).
PAPER_TABLES: dict[str, dict[str, tuple]] = {
    "Table 2 (ImageNet architectures)": {
        "attention56": (31.9, 6.2, None),
        "attention92": (51.3, 10.4, None),
    },
    "Table 6 (CIFAR-10)": {
        "resnet164_cifar": (1.7, None, 5.46),
        "attention92_cifar": (1.9, None, 4.99),
        "attention236_cifar": (5.1, None, 4.14),
        "attention452_cifar": (8.6, None, 3.90),
    },
    "Table 7 (ImageNet, single crop)": {
        "resnet152": (60.2, 11.3, 22.16),
        "attention56": (31.9, 6.3, 21.76),
        "attentionnext56": (31.9, 6.3, 21.2),
        "attentioninception56": (31.9, 6.3, 20.36),  # the paper tests it at 299 x 299
        "resnet200": (64.7, 15.0, 20.1),
        "attention92": (51.3, 10.4, 19.5),
    },
}

_IMAGE_SIZE = {"Table 6 (CIFAR-10)": 32}


def _build(name: str) -> nn.Module | None:
    if name in ("resnet152", "resnet200"):
        import torchvision

        return getattr(torchvision.models, name, lambda: None)()
    return create_model(name, num_classes=1000 if "cifar" not in name else 10)


def paper_table(table: str, macs: bool = True) -> list[dict]:
    """Rows of ``table`` with the paper's numbers beside ours (parameters and multiply-adds).

    Models we cannot build (torchvision has no ResNet-200) keep only the paper's numbers.
    """
    size = _IMAGE_SIZE.get(table, 224)
    rows = []
    for name, (params, gmacs, error) in PAPER_TABLES[table].items():
        model = _build(name)
        row = {
            "model": name,
            "paper params (M)": params,
            "our params (M)": None if model is None else round(count_parameters(model) / 1e6, 3),
            "paper error (%)": error,
        }
        if size == 32:  # the CIFAR networks are named by their trunk depth (Sec. 4.1): count ours
            row["our trunk layers"] = trunk_depth(model)
        if size == 224:
            row["paper mult-adds (G)"] = gmacs
            row["our mult-adds (G)"] = (
                None if model is None or not macs else round(count_macs(model, size) / 1e9, 2)
            )
        rows.append(row)
    return rows
