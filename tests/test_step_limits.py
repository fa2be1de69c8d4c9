"""The floors under a training step (issue 12): arithmetic, memory traffic, kernels, counted by hand."""

import pytest
import torch
from torch import nn

from resattn_min import count_macs, create_model
from resattn_min.train.step_limits import PEAKS, DevicePeak, step_floors, step_work


def test_a_single_convolution_is_counted_by_hand():
    conv = nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False)  # 8 x 3 x 9 weights, 16 x 16 output
    work = step_work(conv, batch=4, image_size=16)
    macs = 8 * 16 * 16 * 3 * 9
    assert work["macs_per_image"] == macs and work["flops"] == 6 * macs * 4  # forward + 2x backward
    elements = 3 * 16 * 16 + 8 * 16 * 16  # read the input, write the output
    assert work["activation_bytes"] == 3 * elements * 4 * 2  # three passes' worth, batch 4, bfloat16
    assert work["optimizer_bytes"] == 5 * 4 * 8 * 3 * 9 and work["layer_calls"] == 1


def test_floors_divide_by_the_peaks_and_the_network_is_left_as_it_was():
    model = create_model("attention56_cifar").train()
    work = step_work(model, batch=64, image_size=32)
    assert model.training and work["macs_per_image"] == count_macs(model, 32)
    assert work["layer_calls"] > 300  # every leaf layer of every unit and mask
    peak = DevicePeak(bf16_tflops=100.0, memory_tb_s=2.0)
    floors = step_floors(work, peak, kernels=1000, per_kernel_us=3.0)
    assert floors["compute_ms"] == pytest.approx(work["flops"] / 1e14 * 1e3)
    assert floors["memory_ms"] == pytest.approx((work["activation_bytes"] + work["optimizer_bytes"]) / 2e9)
    assert floors["kernels_ms"] == pytest.approx(3.0)
    assert "kernels_ms" not in step_floors(work, peak)
    assert PEAKS["NVIDIA H200"].memory_tb_s > PEAKS["NVIDIA H100 80GB HBM3"].memory_tb_s


def test_work_grows_with_the_batch_and_the_image():
    model = create_model("resnet164_cifar")
    small, large = step_work(model, 32, 32), step_work(model, 64, 32)
    assert large["flops"] == 2 * small["flops"] and large["activation_bytes"] == 2 * small["activation_bytes"]
    assert large["optimizer_bytes"] == small["optimizer_bytes"]  # the weights do not grow with the batch
    assert torch.is_grad_enabled()
