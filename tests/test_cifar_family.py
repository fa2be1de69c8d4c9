"""The CIFAR family as Sec. 4.1 defines it: two units per stage, trunk depth 36m + 20, Table 4's equal cost.

Also the networks trained before the fix (trunk ``36m+17``): their checkpoints load into the network they
were trained as, and are refused with a clear message by the new one.
"""

import pytest
import torch
from torch import nn

from resattn_min import (
    AttentionModule,
    ResidualUnit,
    architecture_of,
    count_macs,
    count_parameters,
    create_model,
    list_models,
    trunk_depth,
)
from resattn_min.analysis.runs_on_record import RESULTS, load_trained
from resattn_min.models.cifar import CIFAR_TRUNKS, trunk_of
from resattn_min.models.soft_mask import LocalConvMask, SoftMaskBranch
from resattn_min.train.build import build_model
from resattn_min.train.checkpoint import CheckpointError, load_weights, trained_config
from resattn_min.train.run_config import ConfigError, TrainConfig

CIFAR_ATTENTION = [n for n in list_models("attention*_cifar")]
SHIPPED = sorted(p.name.removesuffix(".fp16.pt") for p in (RESULTS / "checkpoints").glob("*.fp16.pt"))


def _units_on_trunk(model: nn.Module) -> list[str]:
    """Names of the residual units outside every mask branch (read from module names, not types)."""
    return [name for name, m in model.named_modules() if isinstance(m, ResidualUnit) and ".mask." not in name]


@pytest.mark.parametrize("name", [*CIFAR_ATTENTION, "resnet164_cifar"])
def test_trunk_depth_is_the_number_in_the_name(name):
    """Stem conv + 3 per residual unit outside the masks + classifier = 56, 92, ..., 452 (and 164)."""
    model = create_model(name)
    depth = int(name.removeprefix("attention").removeprefix("resnet").removesuffix("_cifar"))
    assert 1 + 3 * len(_units_on_trunk(model)) + 1 == depth
    assert trunk_depth(model) == depth


@pytest.mark.parametrize("name", ["attention56", "attention92"])
def test_trunk_depth_counts_the_released_imagenet_networks(name):
    assert trunk_depth(create_model(name)) == int(name.removeprefix("attention"))


@pytest.mark.parametrize("depth", [56, 92])
def test_two_residual_units_at_each_stage(depth):
    """Sec. 4.1: "we add two Residual Units at each stage", besides the m Attention Modules."""
    model = create_model(f"attention{depth}_cifar")
    m = (depth - 20) // 36
    for stage in model.stages:
        kinds = [type(block) for block in stage]
        assert kinds.count(AttentionModule) == m and kinds.count(ResidualUnit) == 2


def test_the_old_trunk_is_three_layers_short():
    for depth in (56, 92, 164):
        old = create_model(f"attention{depth}_cifar", trunk="36m+17")
        assert trunk_depth(old) == depth - 3
        assert trunk_of(old.state_dict()) == "36m+17"
        assert trunk_of(create_model(f"attention{depth}_cifar").state_dict()) == "36m+20"
    assert trunk_of(create_model("resnet164_cifar").state_dict()) is None
    with pytest.raises(ValueError, match="unknown CIFAR trunk"):
        create_model("attention56_cifar", trunk="36m+18")
    assert set(CIFAR_TRUNKS) == {"36m+20", "36m+17"}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoints_load_as_trained_and_are_refused_by_the_new_trunk(name):
    path = RESULTS / "checkpoints" / f"{name}.fp16.pt"
    state = {**torch.load(path, weights_only=True), "path": str(path)}
    assert trained_config(state)["trunk"] == "36m+17"
    model = load_trained(name)
    assert architecture_of(model).startswith("CIFAR trunk 36m+17")
    new = build_model(TrainConfig.from_dict({**state["config"], "resume": None}), num_classes=10)
    with pytest.raises(CheckpointError, match=r"36m\+17 trunk.*36m\+20 trunk.*--trunk 36m\+17"):
        load_weights(new, state)


def test_trunk_is_refused_for_networks_without_one():
    with pytest.raises(ConfigError, match="CIFAR Attention networks"):
        build_model(TrainConfig(model="resnet164_cifar", trunk="36m+17"), num_classes=10)


def test_architecture_labels():
    assert architecture_of(create_model("attention92_cifar")) == "CIFAR trunk 36m+20: 92 layers"
    assert architecture_of(create_model("resnet164_cifar")) == "164 trunk layers"
    import torchvision

    assert architecture_of(torchvision.models.resnet18()) is None


@pytest.mark.parametrize("channels,size,depth", [(64, 32, 3), (128, 16, 2), (256, 8, 1)])
def test_local_mask_costs_what_the_encoder_decoder_mask_costs(channels, size, depth):
    """Table 4: "three Residual Units using the same number of FLOPs" -- within 10% at every CIFAR stage."""
    local = LocalConvMask(channels, depth, unit=ResidualUnit)
    encoder_decoder = SoftMaskBranch(channels, depth, unit=ResidualUnit)
    assert len(local.body) == 3 and local.depth == 0
    assert not [m for m in local.modules() if isinstance(m, nn.MaxPool2d)]
    ratio = count_macs(local, size, channels) / count_macs(encoder_decoder, size, channels)
    assert ratio == pytest.approx(1.0, abs=0.10)
    # and not by accident: three full-width units would cost 1.7-2.1x
    full = nn.Sequential(*(ResidualUnit(channels, channels) for _ in range(3)), local.head)
    assert count_macs(full, size, channels) / count_macs(encoder_decoder, size, channels) > 1.6


def test_local_mask_network_costs_what_attention56_costs():
    local = create_model("attention56_cifar", mask="local")
    ratio = count_macs(local, 32) / count_macs(create_model("attention56_cifar"), 32)
    assert ratio == pytest.approx(1.0, abs=0.10)
    assert count_parameters(local) < count_parameters(create_model("attention56_cifar"))


def test_local_mask_refuses_what_it_cannot_match():
    from resattn_min import ResNeXtUnit

    with pytest.raises(ValueError, match="residual units"):
        LocalConvMask(64, 2, unit=ResNeXtUnit)
    with pytest.raises(ValueError, match="depth >= 1"):
        LocalConvMask(64, 0, unit=ResidualUnit)


def test_every_cifar_run_on_record_says_which_definition_it_trained():
    """Runs trained before the fix carry "36m+17 ... (before the fix)"; the tables show the label."""
    from resattn_min.analysis.runs_on_record import load_runs, runs_table

    for group in ("cifar10_jpeg", "cifar10_jpeg_noise"):
        runs = load_runs(group)
        for name, r in runs.items():
            label = r["architecture"]
            if r["model"].startswith("attention"):
                depth = int(r["model"].removeprefix("attention").removesuffix("_cifar"))
                assert label.startswith("CIFAR trunk 36m+"), name
                if "36m+17" in label:
                    assert label.startswith(f"CIFAR trunk 36m+17: {depth - 3} layers"), name
                    assert "before the fix" in label, name
            else:
                assert label == "164 trunk layers", name
        assert list(runs_table(group)["architecture"]) == [r["architecture"] for r in runs.values()]
