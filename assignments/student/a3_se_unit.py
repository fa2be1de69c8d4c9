# Student version, generated from assignments/solutions/ by `python -m assignments.make_student`.
# Replace every `raise NotImplementedError(...)` with your code; the docstrings say what to write.
# ruff: noqa: F401 -- the imports are the ones the solution uses: yours may need them
"""Assignment 3 -- a new basic unit: the squeeze-and-excitation residual unit (chapters 1 and 5).

The paper builds Attention Modules from any basic unit: pre-activation residual units, ResNeXt and
Inception units (Sec. 3, Sec. 4.2). The package picks units by name from
``resattn_min.models.residual_unit.UNITS``
(``get_unit``), so a new unit plugs into every module and network once it is registered there. Add the
squeeze-and-excitation (SE) unit of Hu et al. (CVPR 2018): a pre-activation bottleneck whose residual
branch is rescaled channel by channel before the shortcut is added,

    out = shortcut(x) + s * F(x),    s = sigmoid(W2 relu(W1 avgpool(F(x)) + b1) + b2)

where ``F(x)`` is the residual branch of ``ResidualUnit`` (its three convolutions), ``avgpool`` is the
global average over the positions (one number per channel: the "squeeze"), ``W1`` maps the
``out_channels`` channels to ``hidden = max(out_channels // reduction, 1)`` and ``W2`` back (the
"excitation"), both as 1x1 convolutions *with* bias. ``s`` has one value per image and channel, in (0, 1).

1. ``se_parameters(channels, reduction)`` -- the number of learnable parameters the SE block adds to a
   unit with ``channels`` output channels.
2. ``SEResidualUnit`` -- subclass ``ResidualUnit`` (keep its layers and their names: the grader loads a
   plain unit's weights into yours) and add the SE block; write ``forward`` as ``ResidualUnit.forward``
   with ``s`` applied to the branch before the addition. Keep the signature
   ``(in_channels, out_channels, stride=1)``: every unit of the package is built that way.
3. ``register()`` -- register your class in ``UNITS`` under the name ``"se"``. Afterwards
   ``AttentionModule(64, 2, unit="se")`` and ``attention_cifar(56, unit="se")`` are built from SE units
   (trunk, mask branch and the units between the modules).

Question for your report (not graded): the SE block is itself an attention mask -- a channel attention
with one value per channel for the whole image. How does it differ from the paper's channel attention
f2 (Eq. 5) and from the soft mask branch? How many parameters does it add to Attention-56?

Grade your work with ``python -m assignments.grade 3``.
"""

from __future__ import annotations

from torch import Tensor, nn

from resattn_min.models.residual_unit import UNITS, ResidualUnit


def se_parameters(channels: int, reduction: int = 16) -> int:
    """Learnable parameters of the SE block of a unit with ``channels`` output channels."""
    raise NotImplementedError("two 1x1 convolutions with bias: channels -> hidden -> channels")


class SEResidualUnit(ResidualUnit):
    """Pre-activation bottleneck with squeeze-and-excitation on its residual branch (Hu et al., 2018)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, reduction: int = 16) -> None:
        super().__init__(in_channels, out_channels, stride)
        raise NotImplementedError("global average pool, 1x1 conv to hidden, ReLU, 1x1 conv back, sigmoid")

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError(
            "as ResidualUnit.forward, with the branch multiplied by s before the addition"
        )


def register() -> None:
    """Make the unit available to every module and network as ``unit="se"``."""
    raise NotImplementedError("one assignment into the UNITS dictionary")

