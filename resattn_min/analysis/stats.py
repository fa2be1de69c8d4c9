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
from dataclasses import dataclass

__all__ = ["Z95", "Comparison", "compare_errors", "standard_error"]

#: The two-sided 95% quantile of the normal distribution.
Z95 = 1.959963984540054


def standard_error(error: float, n: int) -> float:
    """Binomial standard error of an error rate (a fraction) measured on ``n`` images, as a fraction."""
    if not 0.0 <= error <= 1.0:
        raise ValueError(f"an error rate is a fraction in [0, 1], got {error} (a percentage?)")
    if n < 1:
        raise ValueError(f"an error rate needs at least one test image, got n={n}")
    return math.sqrt(error * (1.0 - error) / n)


@dataclass(frozen=True)
class Comparison:
    """The error of ``b`` minus the error of ``a``, in percentage points, with its 95% interval."""

    difference: float
    se: float

    @property
    def low(self) -> float:
        return self.difference - Z95 * self.se

    @property
    def high(self) -> float:
        return self.difference + Z95 * self.se

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
