"""Learning-rate schedules counted in iterations, and the paper's two training recipes.

The paper states both schedules in iterations, not epochs (Sec. 4.1 and 4.2):

* CIFAR: Nesterov SGD, batch 64, momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 at 64k and 96k
  iterations, stop at 160k;
* ImageNet: SGD, momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 at 200k, 400k and 500k, stop at 530k.

``MultiStepSchedule.scaled(f)`` shrinks every iteration count by the same factor, so a short run (quick
mode, a GPU budget) keeps the shape of the paper's schedule; the results files record the factor.
A run's config (``run_config.TrainConfig``) picks one of these recipes.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, asdict, dataclass, replace

__all__ = ["MultiStepSchedule", "Recipe", "PRESETS", "preset"]


@dataclass(frozen=True)
class MultiStepSchedule:
    """``lr`` times ``gamma`` for every milestone passed; training stops after ``total`` iterations.

    Iterations count from 0: the step numbered ``i`` uses ``lr_at(i)``, so with a milestone at 64,000 the
    64,000th step (``i = 63,999``) still uses the first rate. An optional linear warm-up raises the rate
    from ``lr / warmup`` to ``lr`` over the first ``warmup`` steps (off by default, as in the paper).
    """

    lr: float
    milestones: tuple[int, ...]
    _: KW_ONLY
    total: int
    gamma: float = 0.1
    warmup: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
        if self.lr <= 0 or self.gamma <= 0:
            raise ValueError(f"lr and gamma must be positive, got lr={self.lr}, gamma={self.gamma}")
        if self.total < 1:
            raise ValueError(f"total must be at least 1 iteration, got {self.total}")
        ms = self.milestones
        if any(b <= a for a, b in zip(ms, ms[1:], strict=False)):
            raise ValueError(f"milestones must be strictly increasing, got {list(ms)}")
        if ms and (ms[0] < 1 or ms[-1] >= self.total):
            raise ValueError(
                f"milestones must lie between 1 and total - 1 = {self.total - 1}, got {list(ms)} "
                f"(a milestone at or beyond the end would never take effect)"
            )
        if not 0 <= self.warmup < self.total:
            raise ValueError(f"warmup must be in [0, total), got {self.warmup} for total {self.total}")

    def lr_at(self, iteration: int) -> float:
        """The learning rate of step ``iteration`` (0-based)."""
        if not 0 <= iteration < self.total:
            raise ValueError(f"iteration {iteration} is outside the schedule's [0, {self.total})")
        passed = sum(iteration >= m for m in self.milestones)
        lr = self.lr * self.gamma**passed
        if iteration < self.warmup:
            lr *= (iteration + 1) / self.warmup
        return lr

    def scaled(self, factor: float) -> MultiStepSchedule:
        """The same schedule with every iteration count multiplied by ``factor`` (rounded, at least 1)."""
        if factor <= 0:
            raise ValueError(f"scale must be positive, got {factor}")

        def s(n: int) -> int:
            return max(1, round(n * factor))

        total = s(self.total)
        try:
            return replace(self, milestones=tuple(s(m) for m in self.milestones), total=total,
                           warmup=s(self.warmup) if self.warmup else 0)
        except ValueError as err:
            raise ValueError(
                f"scale {factor:g} shrinks the schedule to {total} iterations, too few to keep its "
                f"{len(self.milestones)} milestones apart: {err}"
            ) from None

    def state_dict(self) -> dict:
        """Plain values, for checkpoints and results files."""
        state = asdict(self)
        state["milestones"] = list(self.milestones)
        return state


@dataclass(frozen=True)
class Recipe:
    """A schedule with the optimizer settings and batch size it was published with."""

    schedule: MultiStepSchedule
    batch_size: int
    momentum: float
    weight_decay: float
    nesterov: bool


PRESETS: dict[str, Recipe] = {
    "cifar": Recipe(MultiStepSchedule(0.1, (64_000, 96_000), total=160_000), 64, 0.9, 1e-4, True),
    # The paper gives no batch size for ImageNet. It "follows the practice in [20]" (AlexNet, batch 128);
    # 256 is the batch of the ResNet recipe (He et al., 2016) that its learning rate 0.1 comes from.
    "imagenet": Recipe(
        MultiStepSchedule(0.1, (200_000, 400_000, 500_000), total=530_000), 256, 0.9, 1e-4, False
    ),
}


def preset(name: str) -> Recipe:
    """The paper's recipe ``"cifar"`` or ``"imagenet"``."""
    if name not in PRESETS:
        raise ValueError(f"unknown schedule preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]
