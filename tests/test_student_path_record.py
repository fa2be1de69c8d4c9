"""The GPU checks of the student's path on record (results/student_path), as chapter 6 shows them."""

import pytest

from resattn_min.analysis.stats import standard_error
from resattn_min.analysis.student_path_record import BASELINE, PRECISION_RUNS, lesson_record, precision_table


def test_float16_is_compared_with_bfloat16_by_the_standard_error_of_the_difference():
    table = precision_table()
    assert list(table.index) == list(PRECISION_RUNS) and set(table.precision) == {"bf16", "fp16"}
    base, fp16 = table.loc[BASELINE], table.loc["fp16_graph"]
    difference = fp16["test error (%)"] - base["test error (%)"]
    assert fp16["vs bfloat16 (points)"] == pytest.approx(difference)
    se = 100 * (standard_error(base["test error (%)"] / 100, 10_000) ** 2
                + standard_error(fp16["test error (%)"] / 100, 10_000) ** 2) ** 0.5
    resolved = abs(difference) > 1.959964 * se
    assert fp16["vs bfloat16 (points): verdict"] == ("resolved" if resolved else "not resolved")
    assert table.loc["fp16_eager", "step"] == "eager" and table.loc["fp16_graph", "step"] == "CUDA graph"


def test_the_lesson_record_says_whether_it_kept_its_budget():
    lesson = lesson_record()
    assert lesson["amp"] == "fp16" and lesson["model"] == "attention92_cifar"
    assert lesson["within_budget"] == (lesson["wall_s"] <= 60 * lesson["minutes"])
    assert lesson["over_s"] == pytest.approx(max(0.0, lesson["wall_s"] - 60 * lesson["minutes"]))
    assert 0 < lesson["percent_of_schedule"] < 100 and 10 < lesson["test_error"] < 90  # learnt, not chance
    assert lesson["log_rows"] > 0 and lesson["device"] and len(lesson["commit"]) == 8


def test_the_lesson_record_says_how_the_fit_spent_the_budget():
    lesson = lesson_record()
    assert lesson["evaluations"] == 20  # one every 8,000 of the paper's iterations, scaled with it
    assert lesson["eval_share"] == pytest.approx(100 * 20 * lesson["eval_s"] / (60 * lesson["minutes"]))
    spent = lesson["step_share"] + lesson["eval_share"]
    assert 0 < spent <= 100  # what the fit planned for fits the budget
    assert lesson["under_s"] == pytest.approx(max(0.0, 60 * lesson["minutes"] - lesson["wall_s"]))
