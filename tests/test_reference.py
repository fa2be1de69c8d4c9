"""Reference tests: every layer against an independent plain-``torch.nn.functional`` version of the released
definition (architecture.md, Sec. 3), and whole networks against stored outputs (``tests/reference``).

All in float64 with formula-given weights (``fill_weights``), so the comparisons can be tight: a wrong
upsampling grid, a shortcut that reads the wrong tensor or a missing ReLU moves the numbers far more than
rounding does.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from reference.make_reference import NETWORKS, REFERENCE_FILE, compute, fill_weights, hashed_uniform

from resattn_min import AttentionModule, ResidualUnit, SoftMaskBranch, combine, get_activation
from resattn_min.models.soft_mask import MaskHead, upsample_like

TIGHT = {"rtol": 1e-10, "atol": 1e-12}


@pytest.fixture(autouse=True)
def _deterministic():
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(previous)


def _input(*shape: int, name: str = "x") -> torch.Tensor:
    return hashed_uniform(math.prod(shape), name).view(shape) * math.sqrt(3)


# --- independent functional versions of the released layers --------------------------------------------


def bn_relu(x, bn):
    """Inference-mode BatchNorm with the module's statistics and affine, then ReLU."""
    return F.relu(F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps))


def ref_unit(x, u: ResidualUnit):
    """Pre-activation bottleneck; the projection (if any) reads the pre-activated input, stride s."""
    stride = u.conv2.stride
    pre = bn_relu(x, u.bn1)
    out = F.conv2d(pre, u.conv1.weight)
    out = F.conv2d(bn_relu(out, u.bn2), u.conv2.weight, stride=stride, padding=1)
    out = F.conv2d(bn_relu(out, u.bn3), u.conv3.weight)
    shortcut = x if u.projection is None else F.conv2d(pre, u.projection.weight, stride=stride)
    return out + shortcut


def ref_activation(z, name):
    """Eqs. 4-6 written out: sigmoid; L2 over channels at each position; per-channel z-score, sigmoid."""
    if name == "mixed":
        return 1 / (1 + torch.exp(-z))
    if name == "channel":
        return z / torch.sqrt((z * z).sum(dim=1, keepdim=True))
    mean = z.mean(dim=(2, 3), keepdim=True)
    # population std, guarded by 1e-5 as BatchNorm's is (a 1x1 map has std 0)
    std = (((z - mean) ** 2).mean(dim=(2, 3), keepdim=True) + 1e-5).sqrt()
    return 1 / (1 + torch.exp(-(z - mean) / std))


def ref_head(x, head: MaskHead, activation: str):
    """BN-ReLU-1x1conv-BN-ReLU-1x1conv-activation (the first BN-ReLU only after pre-activation units)."""
    x = bn_relu(x, head.bn1) if isinstance(head.bn1, torch.nn.BatchNorm2d) else x
    x = F.conv2d(x, head.conv1.weight)
    return ref_activation(F.conv2d(bn_relu(x, head.bn2), head.conv2.weight), activation)


def interpolation_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) weights of 1-D linear interpolation with corners aligned (Caffe ``Interp``):
    output pixel i samples input position i (n_in - 1) / (n_out - 1)."""
    w = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        pos = i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        lo = min(math.floor(pos), n_in - 1)
        hi = min(lo + 1, n_in - 1)
        w[i, lo] += 1 - (pos - lo)
        w[i, hi] += pos - lo
    return w


def ref_upsample(x, size):
    rows, cols = interpolation_matrix(x.shape[-2], size[0]), interpolation_matrix(x.shape[-1], size[1])
    return torch.einsum("ih,nchw,jw->ncij", rows, x, cols)


def ref_soft_mask(x, branch: SoftMaskBranch, activation: str):
    """Max-pool 3x3/2 then units, down to the lowest level; each level above it feeds a skip unit. Going
    up: bilinear to the skip's size, add the skip unit's output (only it), units; last, to x's size."""
    out, skips = x, []
    for level in range(branch.depth):
        out = F.max_pool2d(out, 3, 2, 1)
        for u in branch.down[level]:
            out = ref_unit(out, u)
        if level < branch.depth - 1:
            skips.append(ref_unit(out, branch.skips[level]))
    for level in reversed(range(branch.depth - 1)):
        out = ref_upsample(out, skips[level].shape[-2:]) + skips[level]
        for u in branch.up[level]:
            out = ref_unit(out, u)
    return ref_head(ref_upsample(out, x.shape[-2:]), branch.head, activation)


def _units(x, units):
    for u in units:
        x = ref_unit(x, u)
    return x


# --- (i) layers against the functional versions ---------------------------------------------------------


@pytest.mark.parametrize("cin, cout, stride", [(16, 16, 1), (16, 64, 1), (32, 64, 2), (64, 64, 2)])
def test_residual_unit_is_the_preactivation_bottleneck(cin, cout, stride):
    unit = fill_weights(ResidualUnit(cin, cout, stride))
    x = _input(2, cin, 9, 7)
    with torch.no_grad():
        torch.testing.assert_close(unit(x), ref_unit(x, unit), **TIGHT)


def test_projection_shortcut_reads_the_preactivated_input():
    """With the residual branch silenced, the unit is its shortcut: conv1x1(ReLU(BN(x))), not conv1x1(x)."""
    unit = fill_weights(ResidualUnit(16, 32, stride=2))
    unit.conv3.weight.data.zero_()
    x = _input(1, 16, 8, 8)
    with torch.no_grad():
        expected = F.conv2d(bn_relu(x, unit.bn1), unit.projection.weight, stride=2)
        torch.testing.assert_close(unit(x), expected, **TIGHT)
        assert not torch.allclose(unit(x), F.conv2d(x, unit.projection.weight, stride=2))


@pytest.mark.parametrize("activation", ["mixed", "channel", "spatial"])
@pytest.mark.parametrize("preactivation", [True, False])
def test_mask_head_is_bn_relu_conv_bn_relu_conv_activation(activation, preactivation):
    head = fill_weights(MaskHead(16, activation, preactivation))
    x = _input(2, 16, 5, 6)
    x = x if preactivation else F.relu(x)  # post-activation units hand over rectified maps
    with torch.no_grad():
        torch.testing.assert_close(head(x), ref_head(x, head, activation), **TIGHT)


def test_both_mask_convs_read_rectified_inputs():
    """The release has BN+ReLU before *each* 1x1 conv of the head: neither conv may see a negative."""
    head = fill_weights(MaskHead(16, "mixed"))
    seen = []
    hooks = [conv.register_forward_pre_hook(lambda _m, a: seen.append(a[0].min()))
             for conv in (head.conv1, head.conv2)]
    with torch.no_grad():
        head(_input(2, 16, 5, 5))
    for h in hooks:
        h.remove()
    assert len(seen) == 2 and all(m >= 0 for m in seen), seen


def test_upsampling_aligns_corners_on_a_hand_computed_example():
    """2x2 -> 4x4 of a plane with corners aligned samples it at 0, 1/3, 2/3, 1: out[i, j] = 2i + j.
    (Half-pixel centres, align_corners=False, would give rows 0, .5, 1.5, 2 with flat ends.)"""
    x = torch.tensor([[0.0, 3.0], [6.0, 9.0]], dtype=torch.float64).view(1, 1, 2, 2)
    expected = torch.tensor([[2.0 * i + j for j in range(4)] for i in range(4)], dtype=torch.float64)
    torch.testing.assert_close(upsample_like(x, torch.empty(1, 1, 4, 4))[0, 0], expected, **TIGHT)


@pytest.mark.parametrize("src, dst", [
    ((2, 2), (4, 4)), ((3, 2), (5, 4)), ((4, 3), (7, 6)), ((7, 7), (14, 14)), ((1, 1), (2, 2)),
    ((5, 4), (9, 7)),
])
def test_upsampling_matches_explicit_index_arithmetic(src, dst):
    x = _input(2, 3, *src)
    torch.testing.assert_close(upsample_like(x, torch.empty(1, 1, *dst)), ref_upsample(x, dst), **TIGHT)


@pytest.mark.parametrize("activation", ["mixed", "channel", "spatial"])
@pytest.mark.parametrize("depth, size", [(1, (8, 8)), (2, (11, 9)), (3, (14, 14)), (3, (27, 21))])
def test_soft_mask_branch_matches_the_released_structure(depth, size, activation):
    branch = fill_weights(SoftMaskBranch(16, depth, unit=ResidualUnit, activation=activation))
    x = _input(1, 16, *size)
    with torch.no_grad():
        torch.testing.assert_close(branch(x), ref_soft_mask(x, branch, activation), **TIGHT)


def test_soft_mask_sizes_halve_rounding_up_and_come_back():
    """56 -> 28 -> 14 -> 7 (Caffe's pooling rounds up: 27 -> 14 -> 7 -> 4); skips at every level but the
    lowest; each upsampling goes to the next level's size and the last one to the input's."""
    branch = fill_weights(SoftMaskBranch(8, 3, unit=ResidualUnit))
    sizes: dict[str, list] = {"down": [], "skip": [], "up": [], "head": []}
    hooks = [m.register_forward_hook(lambda _m, _i, out, key=key: sizes[key].append(tuple(out.shape[-2:])))
             for key, ms in (("down", branch.down), ("skip", branch.skips), ("up", branch.up)) for m in ms]
    hooks.append(branch.head.register_forward_pre_hook(
        lambda _m, a: sizes["head"].append(tuple(a[0].shape[-2:]))))
    with torch.no_grad():
        out = branch(_input(1, 8, 27, 21))
    for h in hooks:
        h.remove()
    assert sizes == {"down": [(14, 11), (7, 6), (4, 3)], "skip": [(14, 11), (7, 6)],
                     "up": [(7, 6), (14, 11)], "head": [(27, 21)]}
    assert out.shape == (1, 8, 27, 21)


@pytest.mark.parametrize("rule", ["arl", "nal"])
def test_attention_module_combines_mask_and_trunk_by_eq3_or_eq1(rule):
    """H = (1 + M) T (Eq. 3, ARL) or M T (Eq. 1, NAL), between one pre- and one post-processing unit."""
    module = fill_weights(AttentionModule(16, mask_depth=2, combination=rule))
    x = _input(1, 16, 10, 10)
    with torch.no_grad():
        pre = _units(x, module.pre)
        trunk, mask = _units(pre, module.trunk), ref_soft_mask(pre, module.mask, "mixed")
        fused = (1 + mask) * trunk if rule == "arl" else mask * trunk
        torch.testing.assert_close(module(x), _units(fused, module.post), **TIGHT)


def test_combine_is_one_plus_m_times_t_not_m_times_t():
    mask, trunk = torch.sigmoid(_input(2, 4, 3, 3, name="m")), _input(2, 4, 3, 3, name="t")
    torch.testing.assert_close(combine(mask, trunk, "arl"), trunk + mask * trunk, **TIGHT)
    torch.testing.assert_close(combine(mask, trunk, "nal"), mask * trunk, **TIGHT)
    # ARL's trunk term survives the mask: |H| >= |T| everywhere, while NAL shrinks it (M < 1)
    assert (combine(mask, trunk, "arl").abs() >= trunk.abs()).all()
    assert (combine(mask, trunk, "nal").abs() < trunk.abs()).all()


@pytest.mark.parametrize("name", ["mixed", "channel", "spatial"])
def test_mask_activations_follow_eqs_4_to_6(name):
    z = _input(2, 6, 4, 5)
    torch.testing.assert_close(get_activation(name)(z), ref_activation(z, name), **TIGHT)


def test_channel_attention_forgets_the_scale_of_each_position():
    """f2 divides by ||x_i||: scaling one position's channel vector leaves its mask unchanged."""
    z = _input(1, 6, 4, 4)
    scale = 1 + 4 * torch.arange(16, dtype=torch.float64).view(1, 1, 4, 4)
    f2 = get_activation("channel")
    torch.testing.assert_close(f2(z * scale), f2(z), **TIGHT)
    torch.testing.assert_close(f2(z).norm(dim=1), torch.ones(1, 4, 4, dtype=torch.float64), **TIGHT)


def test_spatial_attention_forgets_each_channels_statistics():
    """f3 standardises each channel's map over the positions: a per-channel shift and positive scale of
    the input leave the mask unchanged, and the pre-sigmoid map has mean 0 and std 1 per channel."""
    z = _input(1, 6, 5, 5)
    shift = torch.arange(6, dtype=torch.float64).view(1, 6, 1, 1)
    f3 = get_activation("spatial")
    # up to the 1e-5 guard added to the variance, which a larger scale weighs less
    torch.testing.assert_close(f3(z * (1 + shift) + 3 * shift), f3(z), rtol=1e-4, atol=1e-5)
    logit = torch.logit(f3(z))
    zeros, ones = torch.zeros(1, 6, dtype=torch.float64), torch.ones(1, 6, dtype=torch.float64)
    torch.testing.assert_close(logit.mean(dim=(2, 3)), zeros, atol=1e-6, rtol=0)
    torch.testing.assert_close(logit.std(dim=(2, 3), unbiased=False), ones, atol=1e-4, rtol=0)


# --- (ii) whole networks against stored outputs ---------------------------------------------------------


@pytest.fixture(scope="module")
def stored():
    return torch.load(REFERENCE_FILE, weights_only=True)["networks"]


def test_stored_reference_covers_every_network_listed(stored):
    assert sorted(stored) == sorted(NETWORKS), "regenerate with tests/reference/make_reference.py"
    assert REFERENCE_FILE.stat().st_size < 300 * 1024


@pytest.mark.parametrize("entry", list(NETWORKS))
def test_network_outputs_match_the_stored_reference(entry, stored):
    got = compute(entry)
    assert sorted(got) == sorted(stored[entry])
    for key, expected in stored[entry].items():
        torch.testing.assert_close(got[key], expected, rtol=1e-7, atol=1e-9,
                                   msg=lambda m, key=key: f"{entry} {key}: {m}")
