"""Getting the masks ``M(x)`` out of a forward pass, for pictures (Fig. 1) and for Fig. 4's statistics."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from torch import Tensor, nn

from .attention_module import AttentionModule

__all__ = ["MaskRecord", "capture_masks", "attention_modules"]


@dataclass
class MaskRecord:
    """The mask of one Attention Module: its stage (from 1), its index in the stage (from 0), ``M(x)``."""

    stage: int
    index: int
    mask: Tensor


def attention_modules(model: nn.Module) -> list[tuple[int, int, AttentionModule]]:
    """``(stage, index, module)`` for every Attention Module of a network, in forward order."""
    found = []
    network = getattr(model, "network", model)  # a pretrained model: the network inside its normalisation
    for stage_idx, stage in enumerate(getattr(network, "stages", [])):
        modules = [m for m in stage.modules() if isinstance(m, AttentionModule)]
        found += [(stage_idx + 1, i, m) for i, m in enumerate(modules)]
    return found


@contextmanager
def capture_masks(model: nn.Module, detach: bool = True) -> Iterator[list[MaskRecord]]:
    """Record every module's mask during the forward passes run inside the ``with`` block.

    >>> with capture_masks(model) as masks:
    ...     model(images)
    >>> masks[0].stage, masks[0].mask.shape
    """
    records: list[MaskRecord] = []
    handles = []
    for stage, index, module in attention_modules(model):
        def hook(_mod, _inp, out, stage=stage, index=index):
            records.append(MaskRecord(stage, index, out.detach() if detach else out))

        handles.append(module.mask.register_forward_hook(hook))
    try:
        yield records
    finally:
        for h in handles:
            h.remove()
