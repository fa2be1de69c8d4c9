"""The paper's Tables 2, 6 and 7 beside our parameter and multiply-add counts (``python -m resattn_min
report``): what the counts of ``models/counting.py`` say about the networks as built here."""

from __future__ import annotations

from torch import nn

from ..models.counting import count_macs, count_parameters, trunk_depth
from ..models.registry import create_model

__all__ = ["PAPER_TABLES", "paper_table"]


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
