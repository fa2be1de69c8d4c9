"""The book's one rule for comparing two test errors (``resattn_min.analysis.stats``)."""

from __future__ import annotations

import math

import pytest
import torch

from resattn_min.analysis.stats import (
    Z95,
    compare_errors,
    compare_seeds,
    interval_half_width,
    standard_error,
    t_quantile,
)


def test_standard_error_of_one_rate_is_binomial():
    assert standard_error(0.1, 10_000) == pytest.approx(0.003)
    assert standard_error(0.0, 100) == 0.0


def test_a_difference_has_sqrt_2_times_the_standard_error_of_one_rate():
    one = 100 * standard_error(0.14, 10_000)
    assert compare_errors(0.14, 0.14, 10_000).se == pytest.approx(math.sqrt(2) * one)


def test_difference_is_b_minus_a_in_points_and_antisymmetric():
    ab, ba = compare_errors(0.10, 0.12, 10_000), compare_errors(0.12, 0.10, 10_000)
    assert ab.difference == pytest.approx(2.0) and ba.difference == pytest.approx(-2.0)
    assert ab.se == ba.se and ab.resolved and ba.resolved
    assert (ab.low, ab.high) == pytest.approx((-ba.high, -ba.low))


def test_resolved_exactly_when_the_95_interval_excludes_zero():
    se = compare_errors(0.14, 0.14, 10_000).se
    just_in = compare_errors(0.14, 0.14 + 0.95 * Z95 * se / 100, 10_000)
    just_out = compare_errors(0.14, 0.14 + 1.05 * Z95 * se / 100, 10_000)
    assert just_in.verdict == "not resolved" and just_in.low < 0 < just_in.high
    assert just_out.verdict == "resolved" and just_out.low > 0


def test_a_0_73_point_gap_at_14_percent_on_10000_images_is_not_resolved():
    # two networks near 14% error on CIFAR-10's 10,000 test images (Table 6 in chapter 7)
    gap = compare_errors(0.1400, 0.1473, 10_000)
    assert not gap.resolved and gap.interval.startswith("[-")


def test_unequal_test_sets_and_row_columns():
    c = compare_errors(0.2, 0.3, 1_000, 4_000)
    assert c.se == pytest.approx(100 * math.sqrt(0.2 * 0.8 / 1_000 + 0.3 * 0.7 / 4_000))
    row = c.row("b - a")
    assert list(row) == ["b - a", "b - a: 95% interval", "b - a: verdict"]
    assert row["b - a: verdict"] == "resolved"


@pytest.mark.parametrize("bad", [14.0, -0.1])
def test_a_percentage_or_a_negative_rate_is_refused(bad):
    with pytest.raises(ValueError, match="fraction"):
        compare_errors(bad, 0.1, 10_000)


def test_two_equally_good_networks_are_resolved_about_5_percent_of_the_time():
    g = torch.Generator().manual_seed(0)
    n, p, trials = 10_000, 0.14, 4_000
    draws = torch.binomial(torch.full((trials, 2), n * 1.0), torch.full((trials, 2), p), generator=g) / n
    resolved = sum(compare_errors(a, b, n).resolved for a, b in draws.tolist())
    assert 0.03 < resolved / trials < 0.07


@pytest.mark.parametrize(("df", "expected"), [(1, 12.7062), (2, 4.3027), (4, 2.7764), (30, 2.0423)])
def test_t_quantiles_match_the_printed_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=2e-4)
    assert t_quantile(0.975, 1e6) == pytest.approx(Z95, abs=1e-4)  # many degrees of freedom: the normal


def test_seeds_are_compared_with_welchs_standard_error_and_students_t():
    a, b = [0.14, 0.15, 0.16], [0.13, 0.13, 0.16]
    comparison = compare_seeds(a, b)
    var_a, var_b = 1e-4, 3e-4  # sample variances (n - 1 in the denominator)
    se = math.sqrt(var_a / 3 + var_b / 3)
    df = (var_a / 3 + var_b / 3) ** 2 / ((var_a / 3) ** 2 / 2 + (var_b / 3) ** 2 / 2)
    assert comparison.difference == pytest.approx(100 * (sum(b) - sum(a)) / 3)
    assert comparison.se == pytest.approx(100 * se)
    assert comparison.quantile == pytest.approx(t_quantile(0.975, df))
    assert not comparison.resolved and compare_seeds([0.14, 0.141], [0.16, 0.161]).resolved
    with pytest.raises(ValueError, match="two runs"):
        compare_seeds([0.1], [0.2, 0.3])


def test_an_error_bar_is_half_the_95_interval_in_points_elementwise():
    import pandas as pd

    assert interval_half_width(14.0, 10_000) == pytest.approx(100 * Z95 * standard_error(0.14, 10_000))
    assert interval_half_width(14.0, 10_000) == pytest.approx(0.68, abs=0.005)  # 14% on 10,000 images
    bars = interval_half_width(pd.Series([50.0, 10.0]), 2_500)
    assert list(bars.round(3)) == [round(100 * Z95 * 0.01, 3), round(100 * Z95 * 0.006, 3)]
