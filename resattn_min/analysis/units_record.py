"""What chapter 10 (other basic units, Table 7 and Sec. 4.2) shows, computed and tested here."""

from __future__ import annotations

__all__ = ["UNIT_PAIRS", "unit_numbers"]

#: The three CIFAR-10 Attention-56 runs with different units, compared in pairs (a, b).
UNIT_PAIRS = {"ResNeXt vs residual": ("attention56_arl", "attention56_resnext"),
              "Inception vs residual": ("attention56_arl", "attention56_inception"),
              "Inception vs ResNeXt": ("attention56_resnext", "attention56_inception")}


def unit_numbers(units, sizes) -> dict[str, float]:
    """From the table of the three units (``params (k)``, ``3x3 width``, ``3x3 groups``,
    ``convolutions``, by unit) and the ImageNet sizes beside Table 7 (``our params (M)``,
    ``our mult-adds (G)``, by model): the ratios and sizes the prose quotes."""
    params, macs = sizes["our params (M)"], sizes["our mult-adds (G)"]
    resnext = units.loc["resnext"]
    return {
        "resnext_vs_res_params": resnext["params (k)"] / units.loc["residual", "params (k)"],
        "incep_vs_res_params": units.loc["inception", "params (k)"] / units.loc["residual", "params (k)"],
        "res_width": units.loc["residual", "3x3 width"], "next_width": resnext["3x3 width"],
        "next_groups": resnext["3x3 groups"],
        "next_group_width": resnext["3x3 width"] // resnext["3x3 groups"],
        "incep_convs": units.loc["inception", "convolutions"],
        "att56_params": params["attention56"], "att56_macs": macs["attention56"],
        "next_params": params["attentionnext56"], "next_macs": macs["attentionnext56"],
        "incep_params": params["attentioninception56"], "incep_macs": macs["attentioninception56"],
        "rnx_params": params["resnext101_32x4d"], "rnx_macs": macs["resnext101_32x4d"],
        "next_vs_rnx": 100 * params["attentionnext56"] / params["resnext101_32x4d"],
        "incep_extra": 100 * (params["attentioninception56"] / params["attention56"] - 1),
    }
