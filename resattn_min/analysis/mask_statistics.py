"""How selective a trained mask is (chapter 11): its spread, and whether it selects channels, positions
or both, by a two-way analysis of variance of ``M`` over channels and positions."""

from __future__ import annotations

from torch import Tensor

__all__ = ["mask_statistics", "selectivity_numbers"]


def mask_statistics(mask: Tensor) -> dict[str, Tensor]:
    """Per image of a batch of masks ``[B, C, H, W]``: the mean, the spread (standard deviation of all
    values) and how the variance splits into the variance of the per-channel means (``channel share``),
    of the per-position means (``position share``) and what neither explains (``interaction share``);
    the three shares add up to 1."""
    total = mask.var(dim=(1, 2, 3), unbiased=False)
    channels = mask.mean(dim=(2, 3)).var(dim=1, unbiased=False)
    positions = mask.mean(dim=1).var(dim=(1, 2), unbiased=False)
    return {"mean": mask.mean(dim=(1, 2, 3)), "spread": total.sqrt(),
            "channel share": channels / total, "position share": positions / total,
            "interaction share": 1 - (channels + positions) / total}


def selectivity_numbers(per_stage, split) -> dict[str, object]:
    """The prose's numbers: ``per_stage`` holds the statistics averaged by stage; ``split`` the mean
    and spread by stage and by whether the prediction was right (columns ``(statistic, correct)``)."""
    shares = per_stage[["channel share", "position share", "interaction share"]].mean()
    numbers: dict[str, object] = {
        f"stage{stage}_{column.replace(' ', '_')}": value
        for stage, row in per_stage.iterrows() for column, value in row.items()}
    gap = (split[("spread", True)] - split[("spread", False)]).abs()
    return numbers | {"largest_share": shares.idxmax().removesuffix(" share"),
                      "position_share_mean": shares["position share"], "spread_gap": gap.max(),
                      "spread_gap_relative": (gap / split["spread"].min(axis=1)).max()}
