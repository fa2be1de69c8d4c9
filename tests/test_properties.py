"""Properties the paper states: mask range, the identity of ARL (Sec. 3.1), Eq. 2, and Eqs. 4-6."""

import pytest
import torch

from resattn_min import AttentionModule, ResidualUnit, SoftMaskBranch, capture_masks, create_model
from resattn_min.models.mask_activation import get_activation
from resattn_min.models.mask_capture import attention_modules


def _zero_mask(module: AttentionModule):
    return module.mask.register_forward_hook(lambda _m, _i, out: torch.zeros_like(out))


@pytest.mark.parametrize("activation", ["mixed", "spatial"])
def test_mask_values_lie_in_unit_interval(activation):
    model = create_model("attention56_cifar", activation=activation).eval()
    with torch.no_grad(), capture_masks(model) as masks:
        model(torch.randn(4, 3, 32, 32) * 5)
    for record in masks:
        assert record.mask.min() >= 0 and record.mask.max() <= 1


def test_arl_is_the_trunk_when_the_mask_is_zero():
    """H = (1 + M) * T equals T when M = 0: the module can do no worse than its trunk."""
    module = AttentionModule(32, mask_depth=2, combination="arl").eval()
    x = torch.randn(2, 32, 16, 16)
    handle = _zero_mask(module)
    with torch.no_grad():
        out = module(x)
        pre = module.pre(x)
        expected = module.post(module.trunk(pre))
    handle.remove()
    assert torch.equal(out, expected)


def test_nal_gives_zero_when_the_mask_is_zero():
    module = AttentionModule(32, mask_depth=2, combination="nal").eval()
    x = torch.randn(2, 32, 16, 16)
    handle = _zero_mask(module)
    with torch.no_grad():
        fused = []
        h2 = module.post.register_forward_pre_hook(lambda _m, args: fused.append(args[0]))
        module(x)
    handle.remove(), h2.remove()
    assert torch.count_nonzero(fused[0]) == 0


@pytest.mark.parametrize("rule", ["arl", "nal"])
def test_trunk_gradient_is_scaled_by_the_mask(rule):
    """Eq. 2: d(M T)/d(phi) = M dT/d(phi); with ARL the factor is (1 + M)."""
    module = AttentionModule(16, mask_depth=1, combination=rule, p=0)
    x = torch.randn(1, 16, 8, 8)
    trunk_param = module.trunk[-1].conv3.weight

    def grad_of_trunk(scale_mask: torch.Tensor | None):
        module.zero_grad()
        handle = None
        if scale_mask is not None:
            handle = module.mask.register_forward_hook(lambda _m, _i, out: scale_mask.expand_as(out))
        module(x).sum().backward()
        if handle:
            handle.remove()
        return trunk_param.grad.clone()

    one = torch.ones(1, 16, 8, 8)
    g_mask_one = grad_of_trunk(one)
    g_mask_quarter = grad_of_trunk(0.25 * one)
    factor = {"arl": (1 + 0.25) / (1 + 1), "nal": 0.25}[rule]
    torch.testing.assert_close(g_mask_quarter, factor * g_mask_one)


def test_mask_gets_no_gradient_into_trunk_parameters_through_mask_only_path():
    """The mask branch's parameters are distinct from the trunk's (theta vs phi in Eq. 2)."""
    module = AttentionModule(16, mask_depth=1)
    trunk_ids = {id(p) for p in module.trunk.parameters()}
    assert trunk_ids.isdisjoint(id(p) for p in module.mask.parameters())


def test_mixed_activation_is_the_sigmoid():
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(get_activation("mixed")(x), 1 / (1 + torch.exp(-x)))


def test_channel_activation_is_l2_normalisation_over_channels():
    x = torch.randn(2, 8, 5, 5, dtype=torch.float64)
    out = get_activation("channel")(x)
    for n in range(2):
        for i in range(5):
            for j in range(5):
                v = x[n, :, i, j]
                torch.testing.assert_close(out[n, :, i, j], v / v.norm())
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2, 5, 5, dtype=torch.float64))


def test_spatial_activation_standardises_each_channel_then_sigmoid():
    x = torch.randn(2, 8, 5, 5, dtype=torch.float64)
    out = get_activation("spatial")(x)
    for n in range(2):
        for c in range(8):
            m = x[n, c]
            z = (m - m.mean()) / m.std(unbiased=False)
            torch.testing.assert_close(out[n, c], torch.sigmoid(z), rtol=1e-4, atol=1e-5)  # eps in the std


def test_spatial_activation_on_a_single_pixel_is_finite():
    assert torch.isfinite(get_activation("spatial")(torch.randn(1, 4, 1, 1))).all()


def test_soft_mask_merges_add_only_the_skip_unit_output():
    """Zeroing the skip units' outputs must change the mask (they are added) while the merge does not add
    the down-path feature: with skips zeroed, the mask equals the path without any skip."""
    torch.manual_seed(1)
    mask = SoftMaskBranch(16, depth=2, unit=ResidualUnit).eval()
    x = torch.randn(1, 16, 16, 16)
    handles = [s.register_forward_hook(lambda _m, _i, out: torch.zeros_like(out)) for s in mask.skips]
    with torch.no_grad():
        zeroed = mask(x)
        low = mask.down[1](mask.pool(mask.down[0](mask.pool(x))))
        from resattn_min.models.soft_mask import upsample_like

        mid_ref = mask.down[0](mask.pool(x))
        expected = mask.head(upsample_like(mask.up[0](upsample_like(low, mid_ref)), x))
    for h in handles:
        h.remove()
    torch.testing.assert_close(zeroed, expected)
    with torch.no_grad():
        assert not torch.allclose(mask(x), zeroed)


def test_mask_structure_follows_released_stage_1():
    """Stage 1 of the released ImageNet files: 3 max-pools, 2 skips, 2 down / 2 bottom / 2 up units."""
    mask = SoftMaskBranch(256, depth=3, unit=ResidualUnit)
    assert [len(d) for d in mask.down] == [1, 1, 2]
    assert len(mask.skips) == 2 and [len(u) for u in mask.up] == [1, 1]


def test_nal_features_shrink_with_depth_but_arl_features_do_not():
    """Sec. 3.1: repeated products with masks in [0, 1] shrink features; ARL keeps them (at init)."""
    torch.manual_seed(0)
    x = torch.randn(4, 3, 32, 32)
    means = {}
    for rule in ("arl", "nal"):
        model = create_model("attention164_cifar", combination=rule).eval()
        responses: list[float] = []

        def record(_m, _i, out, responses=responses):
            responses.append(out.abs().mean().item())

        hooks = [m.register_forward_hook(record) for _, _, m in attention_modules(model)]
        with torch.no_grad():
            model(x)
        for h in hooks:
            h.remove()
        means[rule] = responses
    # Within stage 1 (4 modules), NAL's response falls relative to ARL's.
    ratio = [n / a for n, a in zip(means["nal"][:4], means["arl"][:4], strict=True)]
    assert ratio[-1] < ratio[0] < 1
