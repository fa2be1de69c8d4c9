"""What chapter 8 (noisy labels, Table 5) shows of the runs on record, computed and tested here."""

from __future__ import annotations

import math
from collections.abc import Mapping

from .comparisons import comparison_numbers

__all__ = ["NETWORKS", "clean_ratios", "table5_pairs", "noise_floor", "final_losses", "noise_numbers"]

#: The two networks of Table 5, by the prefix of their runs' names.
NETWORKS = {"Attention-92": "attention92", "ResNet-164": "resnet164"}


def clean_ratios(runs: Mapping[str, dict]) -> list[float]:
    """The clean-label ratios ``r`` of Eq. 7 the runs trained at, from the cleanest down."""
    return sorted({round(run["noise"]["r"], 2) for run in runs.values()}, reverse=True)


def _run(prefix: str, r: float) -> str:
    return f"{prefix}_noise_r{round(r * 100)}"


def table5_pairs(runs: Mapping[str, dict]) -> dict[str, tuple[str, str]]:
    """``{"r = 0.9": (Attention-92's run, ResNet-164's run), ...}``: ``b - a`` is ResNet minus
    Attention, positive where Attention-92 has the lower error, as in every row of Table 5."""
    return {f"r = {r}": (_run(NETWORKS["Attention-92"], r), _run(NETWORKS["ResNet-164"], r))
            for r in clean_ratios(runs)}


def noise_floor(r: float, classes: int = 10) -> float:
    """Training loss on Eq. 7's labels of a network that predicts row y of Q for an image of class y:
    the entropy of that row, ``-r ln r - (1 - r) ln((1 - r) / (K - 1))``."""
    return -r * math.log(r) - (1 - r) * math.log((1 - r) / (classes - 1))


def final_losses(curves: Mapping[tuple[str, float], object]):
    """Per clean ratio: the noise floor and each network's training loss over its last 10 log points,
    from ``curves[(network, r)]`` (the runs' ``metrics.csv``)."""
    import pandas as pd

    ratios = sorted({r for _, r in curves}, reverse=True)
    table = pd.DataFrame({"noise floor H(r)": {r: noise_floor(r) for r in ratios}} | {
        f"{network} final loss": {r: curves[(network, r)]["train_loss"].tail(10).mean() for r in ratios}
        for network in NETWORKS})
    return table.rename_axis("clean ratio r")


def noise_numbers(table5, final) -> dict[str, object]:
    """The prose's numbers: each row's comparison (keys by ``round(100 r)``), how much each network's
    error rises from the cleanest to the noisiest labels, ours and the paper's, and the last losses."""
    ratios = list(final.index)
    keys = {f"r = {r}": str(round(100 * r)) for r in ratios}
    clean, noisy = f"r = {ratios[0]}", f"r = {ratios[-1]}"
    rise = {}
    for who in ("", "paper "):
        for network, side in (("attention92", "a"), ("resnet164", "b")):
            column = f"{who}{side} (%)"
            rise[f"rise_{who.strip() or 'ours'}_{network}"] = (
                table5.loc[noisy, column] - table5.loc[clean, column])
    signal = {r: r - (1 - r) / 9 for r in (ratios[0], ratios[-1])}  # how far the true class stands out
    return comparison_numbers(table5, keys) | rise | {
        "signal_ratio": signal[ratios[0]] / signal[ratios[-1]], "ln10": math.log(10),
        "floor_noisiest": final.loc[ratios[-1], "noise floor H(r)"],
        "loss_noisiest": final.loc[ratios[-1], "Attention-92 final loss"],
        "clean": ratios[0], "noisiest": ratios[-1]}
