"""Lesson size: the paper's schedule, milestones included, shrunk to fit a wall-clock budget from the step
time measured on the device; the measurement leaves no trace in the run, and a resumed run keeps its
schedule."""

from __future__ import annotations

import shutil

import pytest
from _train_helpers import one_thread, tiny_config  # noqa: F401  (one_thread: an autouse fixture)

from resattn_min.train.budget import MARGIN, Timing, evaluations_of, fit_scale, time_evaluation
from resattn_min.train.checkpoint import list_checkpoints, load_checkpoint
from resattn_min.train.loop import train
from resattn_min.train.schedule import PRESETS, MultiStepSchedule

PAPER = PRESETS["cifar"].schedule  # 0.1, /10 at 64k and 96k, 160k iterations


def test_evaluations_are_counted_with_the_final_one():
    assert evaluations_of(160_000, 8_000) == 20  # the last interval ends at the end
    assert evaluations_of(160_000, 7_000) == 23  # 22 on the way and the end
    assert evaluations_of(160_000, 0) == 1


@pytest.mark.parametrize("minutes,step_ms", [(20, 40.0), (20, 9.0), (45, 120.0), (5, 25.0)])
def test_the_fitted_run_fills_the_budget_and_keeps_the_schedules_shape(minutes, step_ms):
    timing = Timing(step_s=step_ms / 1000, eval_s=4.0, spent_s=30.0, ckpt_s=0.5)
    scale = fit_scale(minutes * 60, timing, PAPER, eval_every=8_000, ckpt_every=4_000)
    schedule = PAPER.scaled(scale)

    def cost(iterations: int) -> float:  # 20 evaluations and 40 checkpoints, whatever the scale
        return timing.spent_s + iterations * timing.step_s + 20 * timing.eval_s + 40 * timing.ckpt_s

    assert cost(schedule.total) <= minutes * 60 * MARGIN < cost(schedule.total + 2)  # fits, and no slack
    assert schedule.milestones == (round(64_000 * scale), round(96_000 * scale))  # the paper's shape
    assert schedule.milestones[0] / schedule.total == pytest.approx(0.4, abs=1e-3)


def test_the_rows_of_metrics_are_paid_for_too():
    """A lesson logging every 200 of the paper's iterations writes 800 rows, whatever its scale: on the
    GPU each cost tens of milliseconds (two fsyncs) and the run overshot a 2-minute budget by 29 s."""
    timing = Timing(step_s=0.013, eval_s=3.0, spent_s=19.0, ckpt_s=0.12, log_s=0.02)
    scale = fit_scale(120, timing, PAPER, eval_every=8_000, ckpt_every=4_000, log_every=200)
    iterations = PAPER.scaled(scale).total
    cost = timing.spent_s + iterations * timing.step_s + 20 * timing.eval_s + 40 * timing.ckpt_s
    assert cost + 800 * timing.log_s <= 120 * MARGIN < cost + 800 * timing.log_s + 2 * timing.step_s
    unpaid = fit_scale(120, timing, PAPER, eval_every=8_000, ckpt_every=4_000)
    assert PAPER.scaled(unpaid).total - iterations == pytest.approx(800 * 0.02 / 0.013, abs=2)


def test_a_fast_device_runs_the_paper_and_no_more():
    assert fit_scale(10 * 3600, Timing(0.001, 1.0, 10.0), PAPER, 8_000) == 1.0


@pytest.mark.parametrize("batches", [0, 1, 2, 40])
def test_an_evaluation_is_timed_from_a_sample_of_its_batches_however_few(batches):
    import torch

    seen = []
    timed = time_evaluation(lambda sample: seen.append(len(list(sample))), list(range(batches)),
                            torch.device("cpu"))
    assert timed >= 0.0
    # one untimed batch (the first of a shape is autotuned), then at most ten timed, at least one
    assert seen == ([] if batches == 0 else [1, max(1, min(10, batches - 1))])


def test_a_budget_too_short_says_what_it_allows():
    with pytest.raises(ValueError, match="leaves time for 0 iterations.*give more minutes"):
        fit_scale(60, Timing(0.05, 4.0, 50.0), PAPER, 8_000)
    with pytest.raises(ValueError, match=r"leaves time for 4 iterations \(50.0 ms each.*milestones"):
        fit_scale(60, Timing(0.05, 0.0, 55.0), PAPER, 0)  # 0.2 s left: 4 steps, milestones collide


def _budgeted(tmp_path, name: str, **overrides):
    """The tiny network on a long schedule (100k iterations), fitted to 8 seconds of this CPU."""
    values = {"total_iters": 100_000, "milestones": [40_000, 60_000], "eval_every": 50_000,
              "ckpt_every": 50_000, "log_every": 5_000, "budget_minutes": 8 / 60}
    return tiny_config(tmp_path / name, **{**values, **overrides})


@pytest.mark.slow
def test_a_budgeted_run_records_its_fit_and_equals_a_plain_run_of_that_scale(tmp_path):
    config = _budgeted(tmp_path, "budget")
    result = train(config)
    budget, results = result.results["budget"], result.results
    assert budget["minutes"] == config.budget_minutes and results["schedule_scale"] == budget["scale"]
    paper = MultiStepSchedule(0.1, (40_000, 60_000), total=100_000)
    timing = Timing(budget["step_s"], budget["eval_s"], budget["spent_s"], budget["ckpt_s"], budget["log_s"])
    assert 0 < budget["ckpt_s"] and not (tmp_path / "budget" / ".budget-probe.pt").exists()  # timed, gone
    assert 0 < budget["log_s"] and not (tmp_path / "budget" / ".budget-probe-metrics").exists()
    assert budget["scale"] == fit_scale(config.budget_minutes * 60, timing, paper, config.eval_every,
                                        config.ckpt_every, log_every=config.log_every)
    assert results["iterations"] == round(100_000 * budget["scale"]) > 10
    assert results["schedule"]["milestones"] == [round(m * budget["scale"]) for m in (40_000, 60_000)]
    assert load_checkpoint(list_checkpoints(config.run_dir)[-1])["budget"] == budget

    plain = train(_budgeted(tmp_path, "plain", budget_minutes=None, schedule_scale=budget["scale"]))
    for name, value in result.model.state_dict().items():  # the timing steps left no trace
        assert (value == plain.model.state_dict()[name]).all(), name


@pytest.mark.slow
def test_a_resumed_budgeted_run_keeps_its_schedule_instead_of_timing_again(tmp_path, monkeypatch):
    config = _budgeted(tmp_path, "first")
    first = train(config)
    resumed_dir = tmp_path / "resumed"
    resumed_dir.mkdir()
    shutil.copy(list_checkpoints(config.run_dir)[-2], resumed_dir)

    def no_timing(*_args, **_kwargs):
        raise AssertionError("a resumed run must not time its steps again")

    monkeypatch.setattr("resattn_min.train.budget.time_steps", no_timing)
    again = train(_budgeted(tmp_path, "resumed", budget_minutes=1.0, resume="auto"))
    assert again.results["schedule_scale"] == first.results["schedule_scale"]
    assert again.results["budget"] == first.results["budget"]
    for name, value in first.model.state_dict().items():
        assert (value == again.model.state_dict()[name]).all(), name
