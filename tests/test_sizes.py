"""Sizes: the released ImageNet files exactly, the paper's CIFAR sizes within 7%, multiply-adds within 1%."""

import pytest
import torch

from resattn_min import count_macs, count_parameters, create_model, list_models
from resattn_min.analysis.paper_tables import PAPER_TABLES, paper_table

RELEASED_PARAMS = {"attention56": 31_810_728, "attention92": 52_466_344, "attentionnext56": 31_318_824}
RELEASED_MACS = {"attention56": 6.27e9, "attention92": 10.53e9, "attentionnext56": 6.42e9}
PAPER_CIFAR_PARAMS = {"attention92_cifar": 1.9e6, "attention236_cifar": 5.1e6, "attention452_cifar": 8.6e6,
                      "resnet164_cifar": 1.7e6}


@pytest.mark.parametrize("name", sorted(RELEASED_PARAMS))
def test_imagenet_parameters_match_released_files_exactly(name):
    assert count_parameters(create_model(name)) == RELEASED_PARAMS[name]


@pytest.mark.parametrize("name", sorted(RELEASED_MACS))
def test_imagenet_multiply_adds_within_one_percent(name):
    macs = count_macs(create_model(name), 224)
    assert macs == pytest.approx(RELEASED_MACS[name], rel=0.01)


@pytest.mark.parametrize("name", sorted(PAPER_CIFAR_PARAMS))
def test_cifar_sizes_within_seven_percent_of_paper(name):
    assert count_parameters(create_model(name)) == pytest.approx(PAPER_CIFAR_PARAMS[name], rel=0.07)


def test_cifar_family_grows_with_depth():
    sizes = [count_parameters(create_model(f"attention{d}_cifar")) for d in (56, 92, 128, 164, 236)]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)


def test_attention56_needs_about_half_of_resnet152():
    """Sec. 4.2: Attention-56 has 52% of ResNet-152's parameters and 56% of its FLOPs."""
    import torchvision

    resnet = torchvision.models.resnet152()
    att = create_model("attention56")
    assert count_parameters(att) / count_parameters(resnet) == pytest.approx(0.52, abs=0.02)
    assert count_macs(att) / count_macs(resnet) == pytest.approx(0.56, abs=0.02)


def test_projection_only_when_needed():
    """A unit that keeps its shape has no projection parameters (a popular port always creates one)."""
    from resattn_min import ResidualUnit

    same, wider = ResidualUnit(64, 64), ResidualUnit(64, 128, stride=2)
    assert same.projection is None and wider.projection is not None
    assert count_parameters(wider) - count_parameters(ResidualUnit(128, 128)) > 0


@pytest.mark.slow
def test_every_registered_model_builds_for_any_class_count():
    """Every name in the registry (also models other code registers) ends in a 7-way classifier."""
    for name in list_models():
        model = create_model(name, num_classes=7)
        classifier = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        assert classifier.out_features == 7, name


@pytest.mark.slow
def test_paper_table_rows_put_paper_and_ours_side_by_side():
    rows = paper_table("Table 6 (CIFAR-10)")
    assert [r["model"] for r in rows] == list(PAPER_TABLES["Table 6 (CIFAR-10)"])
    for row in rows:
        assert row["our params (M)"] == pytest.approx(row["paper params (M)"], rel=0.07)
        assert str(row["our trunk layers"]) in row["model"]  # resnet164_cifar: 164, attention92_cifar: 92
    imagenet = {r["model"]: r for r in paper_table("Table 2 (ImageNet architectures)")}
    assert imagenet["attention56"]["our mult-adds (G)"] == pytest.approx(6.27, abs=0.01)


def test_channels_last_and_bf16_do_not_change_the_function():
    model = create_model("attention56_cifar").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)
        out = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
