"""Grader of assignment 2: the local-convolution mask of Table 4, its cost and its reach (Fig. 3)."""

from __future__ import annotations

import torch
from torch import nn

from resattn_min import AttentionModule, count_macs, count_parameters
from resattn_min.models.residual_unit import ResidualUnit
from resattn_min.models.soft_mask import MASKS, LocalConvMask, SoftMaskBranch, local_mask_width

from ..grading import Assignment
from .quick import assert_learns, tiny_network

ASSIGNMENT = Assignment(
    number=2,
    title="The local-convolution mask (Table 4) against the encoder-decoder mask",
    filename="a2_local_mask.py",
    chapter="chapter 2, The soft mask branch (Sec. 3.2, Fig. 3, Table 4)",
    effort="2-3 hours",
    forbidden=("resattn_min.LocalConvMask", "resattn_min.models.soft_mask.LocalConvMask", "local_mask_width"),
)

#: The three stages of the CIFAR Attention-56: channels, map size, max-pools of the encoder-decoder mask.
CIFAR_STAGES = ((64, 32, 3), (128, 16, 2), (256, 8, 1))
#: Three units of one 3x3 convolution each: a pixel reaches at most 3 positions away (a 7 x 7 window).
REACH = 3
#: Table 4's "same number of FLOPs", as the tests of the package hold it: within 10%.
EQUAL_COST = 0.10


@ASSIGNMENT.check(points=2)
def width_matches_the_cost(sub) -> None:
    """matched_width gives the width at which three local units cost what the encoder-decoder units do"""
    for channels, _, depth in (*CIFAR_STAGES, (32, 16, 2)):
        got, book = sub.matched_width(channels, depth), local_mask_width(channels, depth)
        assert got == book, (
            f"at {channels} channels with {depth} max-pools: width {got}, expected {book} (the width whose "
            "three units' multiply-adds come closest to the encoder-decoder mask's units)"
        )


@ASSIGNMENT.check(points=2)
def keeps_full_resolution(sub) -> None:
    """The local mask keeps the input's shape, lies in [0, 1], and has no pooling (depth 0)"""
    mask = sub.LocalConvolutionMask(16, 2, unit=ResidualUnit)
    out = mask(torch.randn(2, 16, 12, 10))
    assert out.shape == (2, 16, 12, 10), f"the mask should have the input's shape, got {tuple(out.shape)}"
    assert out.min() >= 0 and out.max() <= 1, "with the mixed activation the mask lies in [0, 1]"
    assert getattr(mask, "depth", None) == 0, "set self.depth = 0: the local mask has no max-pools"
    pools = [m for m in mask.modules() if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d))]
    assert not pools, "the local mask must not pool: it works at full resolution"


@ASSIGNMENT.check(points=1)
def three_units_and_a_head(sub) -> None:
    """It holds three narrowed units and the mask head: as many parameters as Table 4's mask"""
    for channels, depth in ((32, 2), (64, 3), (256, 1)):
        ours = count_parameters(sub.LocalConvolutionMask(channels, depth, unit=ResidualUnit))
        book = count_parameters(LocalConvMask(channels, depth, unit=ResidualUnit))
        assert ours == book, (
            f"at {channels} channels, standing in for {depth} max-pools: {ours} parameters, expected {book} "
            "(three ResidualUnit(channels, channels, width=matched_width(...)) and MaskHead(channels, ...))"
        )


@ASSIGNMENT.check(points=1)
def plugs_into_an_attention_module(sub) -> None:
    """Registered as a mask type, it builds an Attention Module that maps x to the shape of x"""
    MASKS["student_local"] = sub.LocalConvolutionMask
    module = AttentionModule(32, mask_depth=2, mask="student_local")
    x = torch.randn(2, 32, 8, 8)
    assert module(x).shape == x.shape
    assert module.mask_depth == 0
    book = AttentionModule(32, mask_depth=2, mask="local")
    assert count_parameters(module) == count_parameters(book), "the module's size differs from mask='local'"


@ASSIGNMENT.check(points=2)
def sees_only_a_local_window(sub) -> None:
    """Changing one pixel changes the local mask only within 3 positions of it (Fig. 3's small field)"""
    mask = sub.LocalConvolutionMask(32, 2, unit=ResidualUnit).eval()
    x = torch.randn(1, 32, 16, 16)
    changed = x.clone()
    changed[0, :, 8, 8] += torch.randn(32)
    with torch.no_grad():
        diff = (mask(changed) - mask(x)).abs().amax(dim=1)[0]
    rows, cols = torch.nonzero(diff > 1e-6, as_tuple=True)
    assert len(rows), "changing the input changed nothing: does the mask read its input?"
    far = torch.maximum((rows - 8).abs(), (cols - 8).abs()).max().item()
    assert far <= REACH, f"a change at (8, 8) reached {far} positions away; three 3x3 layers reach {REACH}"


@ASSIGNMENT.check(points=2)
def spread_measures_reach(sub) -> None:
    """spread: at most a 7 x 7 window for the local mask, most of the map for the encoder-decoder mask"""
    local = LocalConvMask(32, 2, unit=ResidualUnit)
    centre, corner = sub.spread(local, 32, 16, (8, 8)), sub.spread(local, 32, 16, (0, 0))
    assert 1 <= centre <= (2 * REACH + 1) ** 2, f"local mask, centre: {centre} positions, expected 1 .. 49"
    assert 1 <= corner <= (REACH + 1) ** 2, f"local mask, corner (0, 0): {corner} positions, expected 1 .. 16"
    encoder_decoder = SoftMaskBranch(32, 2, unit=ResidualUnit)
    wide = sub.spread(encoder_decoder, 32, 16, (8, 8))
    assert wide >= 16 * 16 // 2, (
        f"the encoder-decoder mask (2 max-pools) changed at only {wide} of 256 positions; expected most of "
        "the map (count positions where any channel changed)"
    )
    assert encoder_decoder.training and local.training, "spread should restore the mask's training mode"


@ASSIGNMENT.check(points=1)
def mask_cost_counts(sub) -> None:
    """mask_cost gives the learnable parameters and the multiply-adds of one forward pass"""
    mask = SoftMaskBranch(32, 2, unit=ResidualUnit)
    cost = sub.mask_cost(mask, 32, 16)
    expected = {"params": count_parameters(mask), "macs": count_macs(mask, image_size=16, channels=32)}
    assert cost == expected, f"got {cost}, expected {expected}"


@ASSIGNMENT.check(points=2)
def compares_at_the_cifar_stages(sub) -> None:
    """compare_masks measures both masks at the three stages of the CIFAR Attention-56"""
    for channels, size, depth in CIFAR_STAGES:
        got = sub.compare_masks(channels, size, depth)
        for name, mask in (("encoder_decoder", SoftMaskBranch(channels, depth, unit=ResidualUnit)),
                           ("local", LocalConvMask(channels, depth, unit=ResidualUnit))):
            expected = {"params": count_parameters(mask), "macs": count_macs(mask, size, channels)}
            assert got.get(name) == expected, (
                f"{name} mask at {channels} channels, {size}x{size}, depth {depth}: got {got.get(name)}, "
                f"expected {expected}"
            )
        ratio = got["local"]["macs"] / got["encoder_decoder"]["macs"]
        assert abs(ratio - 1) <= EQUAL_COST, f"the local mask costs {ratio:.2f}x the encoder-decoder mask"


@ASSIGNMENT.check(points=1)
def local_mask_network_learns(sub) -> None:
    """A tiny network with your local mask in every module beats the accuracy threshold on the quick data"""
    MASKS["student_local"] = sub.LocalConvolutionMask
    assert_learns(tiny_network("arl", 1, mask="student_local"), "with the local-convolution mask")
