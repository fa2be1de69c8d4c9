"""Every network takes any input size its pooling allows and any number of classes."""

import pytest
import torch

from resattn_min import create_model


@pytest.mark.parametrize("size", [32, 64, 224, 320])
def test_imagenet_attention56_any_size(size):
    model = create_model("attention56", num_classes=5).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, size, size)).shape == (1, 5)


@pytest.mark.parametrize("size", [8, 32, 40, 64])
@pytest.mark.parametrize("classes", [10, 100])
def test_cifar_attention56_any_size_and_classes(size, classes):
    model = create_model("attention56_cifar", num_classes=classes).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, size, size)).shape == (2, classes)


def test_non_square_inputs_and_odd_sizes_keep_mask_shape():
    """No hard-coded size: the mask upsamples to the map it is merged with, even for odd sizes."""
    from resattn_min import capture_masks

    model = create_model("attention56_cifar").eval()
    x = torch.randn(1, 3, 37, 50)
    with torch.no_grad(), capture_masks(model) as masks:
        model(x)
    assert [m.mask.shape[-2:] for m in masks] == [(37, 50), (19, 25), (10, 13)]


@pytest.mark.parametrize(
    "options",
    [
        {"combination": "nal"},
        {"activation": "channel"},
        {"activation": "spatial"},
        {"mask": "local"},
        {"unit": "resnext"},
        {"unit": "inception"},
    ],
)
def test_every_ablation_is_one_argument_away(options):
    model = create_model("attention56_cifar", **options).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_features_and_head_compose_to_forward():
    model = create_model("attention56_cifar").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.forward_head(model.forward_features(x)), model(x))
    model.reset_classifier(3)
    assert model(x).shape == (2, 3)


def test_masks_are_captured_per_stage_for_fig4():
    from resattn_min import capture_masks

    model = create_model("attention92_cifar").eval()
    with torch.no_grad(), capture_masks(model) as masks:
        model(torch.randn(2, 3, 32, 32))
    assert [(m.stage, m.index) for m in masks] == [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]
    assert masks[0].mask.shape == (2, 64, 32, 32) and masks[-1].mask.shape == (2, 256, 8, 8)
