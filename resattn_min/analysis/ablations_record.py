"""What chapter 7 (ablations, Tables 1, 3, 4 and 6) shows of the runs on record, computed and tested here.

Each function returns a table the chapter displays or the numbers its prose quotes (glued by name), so
the chapter itself only displays, plots and explains.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from .comparisons import comparison_numbers
from .responses import Responses, module_factors, stage_outputs

__all__ = ["TABLE3_DEPTHS", "VARIANTS", "TABLE6", "TABLE6_CIFAR100", "table3_pairs", "table3_numbers",
           "variant_numbers", "table6_numbers", "curve_ends", "curve_numbers", "response_numbers"]

TABLE3_DEPTHS = (56, 92, 128, 164)
#: Tables 1 and 4: each variant of Attention-56 against the paper's default (mixed, encoder-decoder).
VARIANTS = {"channel attention": ("attention56_arl", "attention56_channel"),
            "spatial attention": ("attention56_arl", "attention56_spatial"),
            "local convolutions": ("attention56_arl", "attention56_local")}
#: Table 6: the comparisons the paper draws between its CIFAR networks.
TABLE6 = {"Attention-92 vs ResNet-164": ("resnet164", "attention92"),
          "Attention-236 vs Attention-92": ("attention92", "attention236"),
          "Attention-236 vs ResNet-164": ("resnet164", "attention236")}
#: Table 6's CIFAR-100 column (test error, %), which no run of this book repeats.
TABLE6_CIFAR100 = {"resnet164": 24.33, "attention92": 21.71, "attention236": 21.16, "attention452": 20.45}


def table3_pairs(runs: Mapping[str, dict]) -> dict[str, tuple[str, str]]:
    """``{"Attention-56": (ARL run, NAL run), ...}``; ARL is the default, so its run may be unnamed."""
    pairs = {}
    for depth in TABLE3_DEPTHS:
        arl = f"attention{depth}_arl" if f"attention{depth}_arl" in runs else f"attention{depth}"
        pairs[f"Attention-{depth}"] = (arl, f"attention{depth}_nal")
        if (runs[arl]["config"].get("combination") or "arl") != "arl":
            raise ValueError(f"run {arl} is not an ARL network")
    return pairs


def table3_numbers(table3) -> dict[str, object]:
    """NAL minus ARL at each depth, and how each rule's error moves with depth, ours and the paper's."""
    keys = {f"Attention-{d}": str(d) for d in TABLE3_DEPTHS}
    numbers = comparison_numbers(table3, keys)
    arl, nal = table3["a (%)"], table3["b (%)"]
    paper_arl, paper_nal = table3["paper a (%)"], table3["paper b (%)"]
    return numbers | {
        "arl_gain": arl.iloc[0] - arl.iloc[-1], "paper_arl_gain": paper_arl.iloc[0] - paper_arl.iloc[-1],
        "arl_step_max": -arl.diff().min(), "nal_loss": nal.iloc[-1] - nal.loc["Attention-92"],
        "paper_nal_loss": paper_nal.iloc[-1] - paper_nal.loc["Attention-92"],
        "n_resolved": int((table3["verdict"] == "resolved").sum()),
    }


def variant_numbers(variants, runs: Mapping[str, dict]) -> dict[str, object]:
    """Tables 1 and 4: the best activation, the spread of the three, the local mask's gap."""
    activations = {"mixed": "attention56_arl", "channel": "attention56_channel",
                   "spatial": "attention56_spatial"}
    errors = {name: 100 * runs[run]["test_error"] for name, run in activations.items()}
    paper = [variants.loc["channel attention", "paper a (%)"],
             *variants.loc[["channel attention", "spatial attention"], "paper b (%)"]]
    attention56 = [100 * r["test_error"] for r in runs.values()  # one trunk: residual units only
                   if r["model"] == "attention56_cifar" and r["config"].get("unit") in (None, "residual")]
    keys = {"channel attention": "channel", "spatial attention": "spatial", "local convolutions": "local"}
    return comparison_numbers(variants, keys) | {
        "t1_best": min(errors, key=errors.get), "t1_worst": max(errors, key=errors.get),
        "t1_spread": max(errors.values()) - min(errors.values()), "t1_paper_spread": max(paper) - min(paper),
        "all56_spread": max(attention56) - min(attention56), "n56": len(attention56)}


def table6_numbers(table6, best_cifar: float) -> dict[str, object]:
    """Table 6's three comparisons, and the best CIFAR-10 error on record (``best_cifar``, %)."""
    keys = {"Attention-92 vs ResNet-164": "92_resnet", "Attention-236 vs Attention-92": "236_92",
            "Attention-236 vs ResNet-164": "236_resnet"}
    errors = {row["b"]: row["b (%)"] for _, row in table6.iterrows()} | {
        row["a"]: row["a (%)"] for _, row in table6.iterrows()}
    return comparison_numbers(table6, keys) | {f"err_{k}": v for k, v in errors.items()} | {
        "best_cifar": best_cifar}


def curve_ends(curves: Mapping[str, object]):
    """Training loss and accuracy of each run, the mean over its last 10 log points (a DataFrame)."""
    import pandas as pd

    return pd.DataFrame({name: {"training loss": df["train_loss"].tail(10).mean(),
                                "training accuracy": df["train_acc"].tail(10).mean()}
                         for name, df in curves.items()}).T


def curve_numbers(curves: Mapping[str, object], milestone: int, arl: str, nal: str) -> dict[str, float]:
    """From the learning curves (``metrics.csv`` by run): the test error of ``arl`` around the first
    learning-rate drop, and the last training loss and accuracy of the ``arl`` and ``nal`` runs."""
    tested = curves[arl].dropna(subset=["test_error"]).set_index("iteration")["test_error"]
    ends = curve_ends(curves)
    return {"before_drop": 100 * tested[tested.index <= milestone].iloc[-1],
            "after_drop": 100 * tested[tested.index > milestone].iloc[0],
            "loss_arl": ends.loc[arl, "training loss"], "loss_nal": ends.loc[nal, "training loss"],
            "acc_arl": ends.loc[arl, "training accuracy"], "acc_nal": ends.loc[nal, "training accuracy"],
            "acc_max": ends["training accuracy"].max()}


def response_numbers(trained: Mapping[str, Responses], pairs: Mapping[str, tuple[str, str]]) -> dict:
    """Fig. 4 on trained networks: ARL / NAL stage outputs, per-module factors, mean masks."""
    ratios = [stage_outputs(trained[arl])[s] / stage_outputs(trained[nal])[s]
              for arl, nal in pairs.values() for s in stage_outputs(trained[arl])]
    factors = {rule: [f for pair in pairs.values() for f in module_factors(trained[pair[i]])]
               for i, rule in enumerate(("arl", "nal"))}
    masks = {rule: statistics.mean(v for pair in pairs.values() for v in trained[pair[i]].masks.values())
             for i, rule in enumerate(("arl", "nal"))}
    return {"ratio_min": min(ratios), "ratio_max": max(ratios),
            **{f"factor_{rule}_{end}": fn(f) for rule, f in factors.items()
               for end, fn in (("min", min), ("max", max))},
            **{f"mask_{rule}": m for rule, m in masks.items()}}
