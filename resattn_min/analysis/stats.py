"""Is the difference between two test errors resolved by the test set? One rule for the whole book.

An error rate ``p`` measured on ``n`` test images is a binomial proportion with standard error
``sqrt(p (1 - p) / n)``. Two networks with errors ``p_a`` and ``p_b`` differ by ``p_b - p_a``, and the
standard error of that difference is ``sqrt(p_a (1 - p_a) / n_a + p_b (1 - p_b) / n_b)``: about
``sqrt(2)`` times that of one error rate, not the same. The 95% interval is the difference plus or minus
1.96 standard errors; the difference is *resolved* when that interval excludes zero.

This counts the sampling of the test images only. Two runs with different seeds differ by more, so a
resolved difference of one run per network is necessary for a finding, not sufficient; an unresolved one
says that these runs cannot tell the two networks apart, in either direction.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Z95", "Comparison", "compare_errors", "compare_seeds", "interval_half_width", "standard_error",
           "t_quantile"]

#: The two-sided 95% quantile of the normal distribution.
Z95 = 1.959963984540054


def standard_error(error: float, n: int) -> float:
    """Binomial standard error of an error rate (a fraction) measured on ``n`` images, as a fraction."""
    if not 0.0 <= error <= 1.0:
        raise ValueError(f"an error rate is a fraction in [0, 1], got {error} (a percentage?)")
    if n < 1:
        raise ValueError(f"an error rate needs at least one test image, got n={n}")
    return math.sqrt(error * (1.0 - error) / n)


def interval_half_width(error_percent, n: int):
    """Half the 95% interval of an error rate given in percent, in points: the error bar of a figure.
    ``error_percent`` is a number or a pandas Series / NumPy array of them (elementwise)."""
    p = error_percent / 100
    return Z95 * 100 * (p * (1 - p) / n) ** 0.5


@dataclass(frozen=True)
class Comparison:
    """The error of ``b`` minus the error of ``a``, in percentage points, with its 95% interval."""

    difference: float
    se: float
    #: The multiple of ``se`` on either side: 1.96 for test-set sampling, Student's t for a few seeds.
    quantile: float = Z95

    @property
    def low(self) -> float:
        return self.difference - self.quantile * self.se

    @property
    def high(self) -> float:
        return self.difference + self.quantile * self.se

    @property
    def resolved(self) -> bool:
        """Whether the 95% interval excludes zero."""
        return self.low > 0.0 or self.high < 0.0

    @property
    def verdict(self) -> str:
        return "resolved" if self.resolved else "not resolved"

    @property
    def interval(self) -> str:
        """The 95% interval as text, ``[low, high]`` in points."""
        return f"[{self.low:+.2f}, {self.high:+.2f}]"

    def row(self, label: str) -> dict[str, float | str]:
        """Table columns: the difference under ``label``, its 95% interval and the verdict."""
        return {label: self.difference, f"{label}: 95% interval": self.interval,
                f"{label}: verdict": self.verdict}


def compare_errors(error_a: float, error_b: float, n_a: int, n_b: int | None = None) -> Comparison:
    """``b`` against ``a``: the difference of two error rates (fractions) measured on ``n_a`` and ``n_b``
    test images (``n_b`` defaults to ``n_a``), in percentage points, positive when ``b`` errs more."""
    se = math.hypot(standard_error(error_a, n_a), standard_error(error_b, n_a if n_b is None else n_b))
    return Comparison(100.0 * (error_b - error_a), 100.0 * se)


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile (``p`` above 0.5) of Student's t distribution with ``df`` degrees of freedom:
    its density integrated by Simpson's rule, the quantile found by bisection (no SciPy needed)."""
    if not 0.5 < p < 1 or df <= 0:
        raise ValueError(f"need 0.5 < p < 1 and df > 0, got p={p}, df={df}")
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def density(t: float) -> float:
        return math.exp(log_norm - (df + 1) / 2 * math.log1p(t * t / df))

    def cdf(x: float, steps: int = 2000) -> float:
        h = x / steps
        inner = sum((4 if i % 2 else 2) * density(i * h) for i in range(1, steps))
        return 0.5 + h / 3 * (density(0.0) + inner + density(x))

    low, high = 0.0, 1.0
    while cdf(high) < p:
        low, high = high, 2 * high
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if cdf(mid) < p else (low, mid)
    return (low + high) / 2


def compare_seeds(errors_a: Sequence[float], errors_b: Sequence[float]) -> Comparison:
    """``b`` against ``a`` over seeds: the difference of the mean errors (fractions in, points out), with
    Welch's standard error from the seeds' spread (which holds the test set's sampling too) and a 95%
    interval from Student's t at Welch's degrees of freedom. Each side needs at least two seeds."""
    if min(len(errors_a), len(errors_b)) < 2:
        raise ValueError("comparing over seeds needs at least two runs of each network")
    shares = [statistics.variance(e) / len(e) for e in (errors_a, errors_b)]
    se = math.sqrt(sum(shares))
    difference = statistics.fmean(errors_b) - statistics.fmean(errors_a)
    if se == 0:
        return Comparison(100.0 * difference, 0.0)
    runs = (errors_a, errors_b)
    df = sum(shares) ** 2 / sum(v * v / (len(e) - 1) for v, e in zip(shares, runs, strict=True))
    return Comparison(100.0 * difference, 100.0 * se, t_quantile(0.975, df))
