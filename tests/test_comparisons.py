"""Comparisons of runs on record (chapters 7-10) and Fig. 4's responses, on the runs and on small fixtures."""

from __future__ import annotations

import math

import pytest
import torch

from resattn_min import create_model
from resattn_min.analysis.ablations_record import (
    TABLE6,
    VARIANTS,
    table3_numbers,
    table3_pairs,
    variant_numbers,
)
from resattn_min.analysis.comparisons import compare_runs, comparison_numbers, labelled
from resattn_min.analysis.mask_statistics import mask_statistics
from resattn_min.analysis.noise_record import (
    NETWORKS,
    clean_ratios,
    final_losses,
    noise_floor,
    noise_numbers,
    table5_pairs,
)
from resattn_min.analysis.responses import block_responses, module_factors, stage_outputs
from resattn_min.analysis.runs_on_record import NOT_RECORDED, learning_curve, load_runs, recorded_architecture
from resattn_min.analysis.stats import compare_errors
from resattn_min.analysis.units_record import unit_numbers
from resattn_min.data.noisy_labels import confusion_matrix


def _run(error: float, architecture: str | None = None, combination: str | None = None) -> dict:
    run = {"test_error": error, "test_images": 10_000, "config": {"combination": combination}}
    return run | ({"architecture": architecture} if architecture else {})


def test_a_comparison_is_b_minus_a_with_the_books_verdict_and_the_papers_difference():
    runs = {"attention56_arl": _run(0.14, "trunk A"), "attention56_nal": _run(0.16, "trunk A")}
    table = compare_runs(runs, {"Attention-56": ("attention56_arl", "attention56_nal")})
    row = table.loc["Attention-56"]
    expected = compare_errors(0.14, 0.16, 10_000)
    assert row["b - a"] == pytest.approx(2.0) and row["s.e."] == pytest.approx(expected.se)
    assert (row["95% interval"], row["verdict"]) == (expected.interval, "resolved")
    assert row["paper b - a"] == pytest.approx(5.89 - 5.52)  # Table 3 at 56 layers
    assert row["architecture"] == "trunk A"


def test_the_architecture_column_says_when_runs_differ_or_did_not_record_it():
    runs = {"x": _run(0.1, "old trunk"), "y": _run(0.1, "new trunk"), "z": _run(0.1)}
    table = compare_runs(runs, {"xy": ("x", "y"), "xz": ("x", "z")}, paper=False)
    assert table.loc["xy", "architecture"] == "old trunk / new trunk"
    assert table.loc["xz", "architecture"] == f"old trunk / {NOT_RECORDED}"
    assert "paper b - a" not in table.columns


def test_a_missing_run_is_named():
    with pytest.raises(KeyError, match="attention56_nal"):
        compare_runs({"attention56_arl": _run(0.1)}, {"x": ("attention56_arl", "attention56_nal")})


def test_labelled_names_the_columns_after_the_two_sides():
    runs = {"a1": _run(0.10), "b1": _run(0.11)}
    shown = labelled(compare_runs(runs, {"r": ("a1", "b1")}, paper=False), "ARL", "NAL")
    assert {"ARL (%)", "NAL (%)", "NAL - ARL", "verdict", "95% interval"} <= set(shown.columns)
    assert "s.e." not in shown.columns and "a" not in shown.columns


def test_table3_pairs_refuse_an_arl_run_that_is_not_arl():
    runs = {f"attention{d}_arl": _run(0.1) for d in (56, 92, 128, 164)}
    runs["attention92_arl"] = _run(0.1, combination="nal")
    with pytest.raises(ValueError, match="not an ARL"):
        table3_pairs(runs)


def test_every_cifar_run_on_record_shows_its_architecture_in_the_tables():
    runs = load_runs("cifar10_jpeg")
    table = compare_runs(runs, table3_pairs(runs) | VARIANTS | TABLE6)
    assert len(table) == 4 + len(VARIANTS) + len(TABLE6)
    for _, row in table.iterrows():  # each row names the definition of both of its runs
        assert recorded_architecture(runs[row.a]) in row.architecture
        assert recorded_architecture(runs[row.b]) in row.architecture


def test_chapter_7_numbers_are_the_tables_numbers():
    runs = load_runs("cifar10_jpeg")
    table3 = compare_runs(runs, table3_pairs(runs))
    numbers = table3_numbers(table3)
    for depth in (56, 92, 128, 164):
        row = table3.loc[f"Attention-{depth}"]
        assert numbers[f"gap_{depth}"] == row["b - a"] and numbers[f"verdict_{depth}"] == row["verdict"]
        assert numbers[f"paper_gap_{depth}"] == pytest.approx(row["paper b (%)"] - row["paper a (%)"])
    assert numbers["n_resolved"] == (table3["verdict"] == "resolved").sum()
    variants = compare_runs(runs, VARIANTS)
    v = variant_numbers(variants, runs)
    errors = {k: runs[f"attention56_{k}"]["test_error"] for k in ("arl", "channel", "spatial")}
    best = min(errors, key=errors.get)
    assert v["t1_best"] == ("mixed" if best == "arl" else best)
    assert v["t1_spread"] == pytest.approx(100 * (max(errors.values()) - min(errors.values())))


def test_comparison_numbers_leave_out_the_papers_difference_where_it_has_none():
    runs = {"attention56_arl": _run(0.14), "attention56_resnext": _run(0.13)}
    table = compare_runs(runs, {"ResNeXt": ("attention56_arl", "attention56_resnext")})
    numbers = comparison_numbers(table, {"ResNeXt": "next"})
    assert numbers["gap_next"] == pytest.approx(-1.0) and "paper_gap_next" not in numbers


@pytest.fixture(scope="module")
def arl_and_nal():
    """Attention-56 with ARL and with NAL, the same weights (combination has no parameters)."""
    models = {}
    for combination in ("arl", "nal"):
        torch.manual_seed(0)
        models[combination] = create_model("attention56_cifar", combination=combination).eval()
    images = torch.randn(8, 3, 32, 32)
    return {c: block_responses(m, images, torch.arange(8)) for c, m in models.items()}, models, images


def test_responses_are_means_over_images_whatever_the_batch(arl_and_nal):
    responses, models, images = arl_and_nal
    again = block_responses(models["arl"], images, torch.arange(8), batch=3)
    assert again.blocks.keys() == responses["arl"].blocks.keys()
    for key, value in responses["arl"].blocks.items():
        assert again.blocks[key] == pytest.approx(value, rel=1e-5)
    predicted = models["arl"](images).argmax(1)
    assert responses["arl"].error == pytest.approx((predicted != torch.arange(8)).float().mean().item())
    assert set(stage_outputs(responses["arl"])) == {1, 2, 3}


def test_nal_shrinks_every_stage_and_arl_does_not_at_initialisation(arl_and_nal):
    responses, _, _ = arl_and_nal
    arl, nal = (stage_outputs(responses[c]) for c in ("arl", "nal"))
    assert all(nal[s] < arl[s] for s in arl)  # the argument of Sec. 3.1 and Fig. 4
    factors = zip(module_factors(responses["nal"]), module_factors(responses["arl"]), strict=True)
    assert all(n < a for n, a in factors)  # every NAL module passes on less than its ARL twin


def test_table5_pairs_set_attention92_against_resnet164_at_every_clean_ratio():
    runs = load_runs("cifar10_jpeg_noise")
    pairs = table5_pairs(runs)
    assert list(pairs) == [f"r = {r}" for r in (0.9, 0.7, 0.5, 0.3)]
    for label, (a, b) in pairs.items():
        assert runs[a]["model"] == "attention92_cifar" and runs[b]["model"] == "resnet164_cifar"
        assert round(runs[a]["noise"]["r"], 2) == round(runs[b]["noise"]["r"], 2) == float(label[4:])


@pytest.mark.parametrize("r", [0.3, 0.7, 0.9])
def test_noise_floor_is_the_entropy_of_a_row_of_eq_7(r):
    row = confusion_matrix(r)[0]
    assert noise_floor(r) == pytest.approx(-(row * row.log()).sum().item())
    assert noise_floor(0.1) == pytest.approx(math.log(10))  # uniform labels: nothing to learn


def test_noise_numbers_are_the_tables_numbers():
    runs = load_runs("cifar10_jpeg_noise")
    table5 = compare_runs(runs, table5_pairs(runs))
    curves = {(network, r): learning_curve("cifar10_jpeg_noise", f"{prefix}_noise_r{round(100 * r)}")
              for network, prefix in NETWORKS.items() for r in clean_ratios(runs)}
    numbers = noise_numbers(table5, final_losses(curves))
    assert numbers["gap_30"] == table5.loc["r = 0.3", "b - a"]
    assert numbers["verdict_90"] == table5.loc["r = 0.9", "verdict"]
    rise = table5.loc["r = 0.3", "b (%)"] - table5.loc["r = 0.9", "b (%)"]
    assert numbers["rise_ours_resnet164"] == pytest.approx(rise)
    assert numbers["floor_noisiest"] == pytest.approx(noise_floor(0.3))


def test_unit_numbers_read_the_unit_and_size_tables():
    import pandas as pd

    units = pd.DataFrame({"params (k)": [70.0, 80.0, 90.0], "3x3 width": [64, 128, 64],
                          "3x3 groups": [1, 32, 1], "convolutions": [3, 3, 6]},
                         index=["residual", "resnext", "inception"])
    sizes = pd.DataFrame({"our params (M)": [31.8, 31.9, 35.0, 44.2],
                          "our mult-adds (G)": [6.1, 6.2, 7.0, 8.0]},
                         index=["attention56", "attentionnext56", "attentioninception56", "resnext101_32x4d"])
    numbers = unit_numbers(units, sizes)
    assert numbers["next_group_width"] * numbers["next_groups"] == numbers["next_width"] == 128
    assert numbers["resnext_vs_res_params"] == pytest.approx(80 / 70)
    assert numbers["next_vs_rnx"] == pytest.approx(100 * 31.9 / 44.2)
    assert numbers["incep_extra"] == pytest.approx(100 * (35.0 / 31.8 - 1))


def test_mask_variance_splits_into_channel_position_and_interaction_shares():
    torch.manual_seed(0)
    mixed = torch.rand(3, 8, 5, 5)
    stats = mask_statistics(mixed)
    total = stats["channel share"] + stats["position share"] + stats["interaction share"]
    assert torch.allclose(total, torch.ones(3))
    assert torch.allclose(stats["spread"] ** 2, mixed.var(dim=(1, 2, 3), unbiased=False))
    by_channel = torch.rand(3, 8, 1, 1).expand(3, 8, 5, 5)  # one weight per channel, everywhere
    assert torch.allclose(mask_statistics(by_channel)["channel share"], torch.ones(3))
    by_position = torch.rand(3, 1, 5, 5).expand(3, 8, 5, 5)  # one map, the same in every channel
    assert torch.allclose(mask_statistics(by_position)["position share"], torch.ones(3))
