"""Grader of assignment 3: a squeeze-and-excitation residual unit, registered and used by the networks."""

from __future__ import annotations

import torch
from torch import nn

from resattn_min import AttentionModule, attention_cifar, count_parameters, get_unit
from resattn_min.models.residual_unit import ResidualUnit

from ..grading import Assignment
from .quick import assert_learns, tiny_network

ASSIGNMENT = Assignment(
    number=3,
    title="A new basic unit: squeeze-and-excitation, plugged into modules and networks",
    filename="a3_se_unit.py",
    chapter="chapter 1, The trunk; chapter 5, Assembling the networks (Sec. 3, Sec. 4.2)",
    effort="2-3 hours",
)

SHAPES = ((16, 16, 1), (16, 32, 2), (32, 64, 1))


def _se_extra(channels: int, reduction: int = 16) -> int:
    hidden = max(channels // reduction, 1)
    return 2 * channels * hidden + hidden + channels


def _expected_size(plain: nn.Module) -> int:
    """Parameters of ``plain`` once every residual unit in it carries an SE block."""
    units = [m for m in plain.modules() if isinstance(m, ResidualUnit)]
    return count_parameters(plain) + sum(_se_extra(u.conv3.out_channels) for u in units)


@ASSIGNMENT.check(points=1)
def counts_se_parameters(sub) -> None:
    """se_parameters: two 1x1 convolutions with bias, channels -> max(channels // reduction, 1) -> channels"""
    for channels, reduction in ((64, 16), (16, 16), (256, 8), (8, 16)):
        got, expected = sub.se_parameters(channels, reduction), _se_extra(channels, reduction)
        assert got == expected, f"se_parameters({channels}, {reduction}) = {got}, expected {expected}"


@ASSIGNMENT.check(points=1)
def keeps_the_unit_shapes(sub) -> None:
    """The SE unit maps shapes as ResidualUnit does (width change, stride 2)"""
    for c_in, c_out, stride in SHAPES:
        x = torch.randn(2, c_in, 8, 8)
        got = sub.SEResidualUnit(c_in, c_out, stride)(x).shape
        expected = ResidualUnit(c_in, c_out, stride)(x).shape
        assert got == expected, (
            f"SEResidualUnit({c_in}, {c_out}, {stride}): shape {tuple(got)}, expected {tuple(expected)}"
        )


@ASSIGNMENT.check(points=1)
def adds_exactly_the_se_block(sub) -> None:
    """Its size is ResidualUnit's plus the SE block's (reduction 16)"""
    for c_in, c_out, stride in SHAPES:
        got = count_parameters(sub.SEResidualUnit(c_in, c_out, stride))
        expected = count_parameters(ResidualUnit(c_in, c_out, stride)) + _se_extra(c_out)
        assert got == expected, (
            f"SEResidualUnit({c_in}, {c_out}, {stride}): {got} parameters, expected {expected}"
        )


@ASSIGNMENT.check(points=3)
def rescales_the_branch_per_channel(sub) -> None:
    """With a plain unit's weights, output - shortcut = s * branch, one s in (0, 1) per image and channel"""
    plain = ResidualUnit(32, 32)
    se = sub.SEResidualUnit(32, 32)
    loaded = se.load_state_dict(plain.state_dict(), strict=False)
    assert not loaded.unexpected_keys and all(k not in plain.state_dict() for k in loaded.missing_keys), (
        "subclass ResidualUnit and keep its layers: the plain unit's weights should load into yours"
    )
    plain.eval()
    se.eval()
    x = torch.randn(3, 32, 6, 6)
    with torch.no_grad():
        branch, scaled = plain(x) - x, se(x) - x
    s = (scaled * branch).sum(dim=(2, 3)) / branch.square().sum(dim=(2, 3))
    misfit = (scaled - s[:, :, None, None] * branch).abs().max() / branch.abs().max()
    assert misfit < 1e-4, "the branch is not scaled by one number per channel (apply s after conv3, before +)"
    assert s.min() > 0 and s.max() < 1, (
        f"the gates should lie in (0, 1) (a sigmoid); got {s.min():.3f} .. {s.max():.3f}"
    )
    assert s.std() > 0, "all gates are equal: s should depend on the image and the channel"


@ASSIGNMENT.check(points=1)
def squeezes_the_whole_map(sub) -> None:
    """The gates see the whole image: a change at one corner changes the output at the opposite corner"""
    # 256 channels give 16 hidden units, so that some of them pass the ReLU at initialisation.
    se = sub.SEResidualUnit(256, 256).eval()
    x = torch.randn(4, 256, 8, 8)
    changed = x.clone()
    changed[:, :, 0, 0] += 3 * torch.randn(4, 256)
    with torch.no_grad():
        far = (se(changed) - se(x))[:, :, 7, 7].abs().max()
    assert far > 1e-6, "the squeeze should be a global average over the positions"


@ASSIGNMENT.check(points=2)
def builds_attention_modules(sub) -> None:
    """register() makes unit='se' build an Attention Module of SE units in trunk, mask and pre/post units"""
    sub.register()
    assert get_unit("se") is sub.SEResidualUnit, "register() should put SEResidualUnit in UNITS under 'se'"
    module = AttentionModule(32, mask_depth=1, unit="se")
    x = torch.randn(2, 32, 8, 8)
    assert module(x).shape == x.shape
    expected = _expected_size(AttentionModule(32, mask_depth=1))
    assert count_parameters(module) == expected, f"{count_parameters(module)} parameters, expected {expected}"


@ASSIGNMENT.check(points=1)
def builds_a_cifar_network(sub) -> None:
    """attention_cifar(56, unit='se') classifies 32 x 32 images, with an SE block in every unit"""
    sub.register()
    model = attention_cifar(56, unit="se")
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    expected = _expected_size(attention_cifar(56))
    assert count_parameters(model) == expected, f"{count_parameters(model)} parameters, expected {expected}"


@ASSIGNMENT.check(points=1)
def se_network_learns(sub) -> None:
    """A tiny network built from your SE units beats the accuracy threshold on the quick data"""
    sub.register()
    assert_learns(tiny_network("arl", 1, unit="se"), "with SE units")
