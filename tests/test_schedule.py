"""The paper's schedules, counted in iterations, and the configs that select them."""

from pathlib import Path

import pytest

from resattn_min.train.run_config import QUICK_ITERATIONS, ConfigError, TrainConfig
from resattn_min.train.schedule import PRESETS, MultiStepSchedule, preset

CONFIGS = Path(__file__).resolve().parent.parent / "resattn_min" / "configs"


@pytest.mark.parametrize("iteration, lr", [(0, 0.1), (63_999, 0.1), (64_000, 0.01), (95_999, 0.01),
                                           (96_000, 0.001), (159_999, 0.001)])
def test_cifar_schedule_divides_by_10_at_64k_and_96k(iteration, lr):
    assert PRESETS["cifar"].schedule.lr_at(iteration) == pytest.approx(lr, rel=1e-12)


def test_cifar_schedule_stops_at_160k():
    schedule = PRESETS["cifar"].schedule
    assert schedule.total == 160_000
    with pytest.raises(ValueError, match="outside the schedule"):
        schedule.lr_at(160_000)


def test_cifar_recipe_is_nesterov_sgd_batch_64():
    r = preset("cifar")
    assert (r.batch_size, r.momentum, r.weight_decay, r.nesterov) == (64, 0.9, 1e-4, True)


@pytest.mark.parametrize("iteration, lr", [(199_999, 0.1), (200_000, 0.01), (400_000, 0.001),
                                           (500_000, 0.0001), (529_999, 0.0001)])
def test_imagenet_schedule(iteration, lr):
    r = preset("imagenet")
    assert r.schedule.lr_at(iteration) == pytest.approx(lr, rel=1e-12)
    assert r.schedule.total == 530_000 and r.momentum == 0.9 and not r.nesterov


@pytest.mark.parametrize("milestones, message", [
    ((96_000, 64_000), "strictly increasing"),
    ((64_000, 64_000), "strictly increasing"),
    ((64_000, 160_000), "between 1 and total - 1"),
    ((0, 64_000), "between 1 and total - 1"),
])
def test_bad_milestones_are_refused(milestones, message):
    with pytest.raises(ValueError, match=message):
        MultiStepSchedule(0.1, milestones, total=160_000)


def test_scaling_keeps_the_schedule_shape():
    short = PRESETS["cifar"].schedule.scaled(1 / 4000)
    assert (short.milestones, short.total) == ((16, 24), 40)
    assert [short.lr_at(i) for i in (15, 16, 23, 24)] == pytest.approx([0.1, 0.01, 0.01, 0.001])
    with pytest.raises(ValueError, match="too few"):
        PRESETS["cifar"].schedule.scaled(1e-5)


def test_warmup_is_off_by_default_and_linear_when_asked():
    assert PRESETS["cifar"].schedule.lr_at(0) == 0.1
    warm = MultiStepSchedule(0.1, (50,), total=100, warmup=4)
    assert [warm.lr_at(i) for i in range(5)] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1])


@pytest.mark.parametrize("path", sorted([*CONFIGS.glob("cifar*.yaml"), *CONFIGS.glob("imagenet_*.yaml")]),
                         ids=lambda p: p.name)
def test_every_shipped_config_resolves_to_a_paper_recipe(path):
    cfg = TrainConfig.from_yaml(path, quick=False)
    plan = cfg.plan()
    expected = PRESETS["cifar" if "cifar" in path.name else "imagenet"]
    assert plan.schedule == expected.schedule and plan.recipe == expected and plan.scale == 1.0


@pytest.mark.parametrize("name", ["cifar10_attention92", "cifar10_attention92.yaml",
                                  "configs/cifar10_attention92.yaml"])
def test_a_shipped_config_is_found_by_name_from_any_folder(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # e.g. a Colab notebook, where the package was pip-installed
    assert TrainConfig.from_yaml(name).model == "attention92_cifar"


def test_an_unknown_config_lists_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no config file at cifar10_attention93.*shipped: .*attention92"):
        TrainConfig.from_yaml("cifar10_attention93")


def test_flags_override_the_file_and_yaml_numbers_are_numbers(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: attention92_cifar\nweight_decay: 1e-4\nmilestones: [100, 200]\ntotal_iters: 300")
    cfg = TrainConfig.from_yaml(path, lr="0.05", quick=False)  # YAML reads 1e-4 as a string, flags too
    plan = cfg.plan()
    assert plan.recipe.weight_decay == 1e-4 and plan.schedule.lr == 0.05
    assert plan.schedule.milestones == (100, 200) and plan.recipe.nesterov  # the rest from the cifar recipe


def test_quick_mode_shrinks_schedule_and_intervals():
    plan = TrainConfig(model="attention92_cifar", quick=True, eval_every=8000, log_every=200).plan()
    assert plan.schedule.total == QUICK_ITERATIONS and plan.schedule.milestones == (16, 24)
    assert plan.every == {"eval": 2, "ckpt": 0, "log": 1} and plan.quick


@pytest.mark.parametrize("values, message", [
    ({"modle": "attention56_cifar"}, r"unknown config key\(s\) \['modle'\]; valid keys: model"),
    ({"batch_size": "sixty-four"}, "'batch_size' must be int"),
    ({"schedule": "resnet"}, "unknown schedule 'resnet'"),
    ({"amp": "fp8"}, "amp must be one of auto, bf16, fp16, off"),
    ({"budget_minutes": 20, "schedule_scale": 0.5}, "give it or schedule_scale, not both"),
    ({"budget_minutes": 0}, "budget_minutes must be positive"),
    ({"noise_ratio": 1.5}, r"noise_ratio must be in \[0, 1\)"),
])
def test_bad_configs_are_refused_clearly(values, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict(values)


def test_explicit_schedule_needs_all_its_numbers():
    with pytest.raises(ConfigError, match=r"needs explicit values for \['milestones', 'total_iters'"):
        TrainConfig(schedule="none", lr=0.1).plan()
