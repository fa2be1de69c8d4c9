"""Mistakes a user can make get a clear message, not a deep traceback."""

import pytest
import torch

from resattn_min import create_model
from resattn_min.models.cifar import attention_cifar, modules_for_depth


def test_wrong_depth_lists_valid_depths():
    with pytest.raises(ValueError, match=r"depth 100 is not 36m \+ 20.*56, 92, 128, 164"):
        attention_cifar(100)


def test_depth_for_452_configuration():
    assert modules_for_depth(452, p=2, t=4) == 6
    with pytest.raises(ValueError, match="valid depths"):
        modules_for_depth(100, p=2, t=4)


def test_input_too_small_for_the_mask_pooling():
    model = create_model("attention56")
    with pytest.raises(ValueError, match=r"input 16x16 is too small.*at least 32x32"):
        model(torch.randn(1, 3, 16, 16))


def test_wrong_rank_input():
    with pytest.raises(ValueError, match=r"expects a batch of images"):
        create_model("attention56_cifar")(torch.randn(3, 32, 32))


def test_unknown_model_suggests_close_names():
    with pytest.raises(ValueError, match=r"unknown model 'attention93_cifar'.*Did you mean attention92"):
        create_model("attention93_cifar")


@pytest.mark.parametrize(
    "option, message",
    [
        ({"unit": "dense"}, r"unknown unit 'dense'; choose one of \['inception', 'residual', 'resnext'\]"),
        ({"activation": "softmax"}, r"unknown mask activation 'softmax'"),
        ({"combination": "sum"}, r"unknown combination 'sum'"),
        ({"mask": "unet"}, r"unknown mask type 'unet'"),
    ],
)
def test_unknown_option_names(option, message):
    with pytest.raises(ValueError, match=message):
        create_model("attention56_cifar", **option)
