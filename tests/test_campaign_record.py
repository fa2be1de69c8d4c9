"""The campaign as the book shows it while it runs: progress from the ledger, curves, seeds compared."""

import json

import pandas as pd
import pytest

from resattn_min.analysis.campaign_record import (
    attempts_compared,
    campaign_curves,
    campaign_numbers,
    campaign_progress,
    compare_at_common_iteration,
    full_length_table,
    network_of,
    progress_numbers,
    run_on_record,
)
from resattn_min.analysis.stats import compare_seeds
from resattn_min.experiments.campaign import load_ledger, new_ledger


def _fake_campaign(root):
    """Two networks, two seeds each; the ResNet runs are further along, one seed of A-92 is finished."""
    ledger = new_ledger(("attention92", "attention92_s1", "resnet164", "resnet164_s1", "attention164_arl"))
    reached = {"attention92": 16_000, "attention92_s1": 160_000, "resnet164": 24_000, "resnet164_s1": 24_000}
    for run, iteration in reached.items():
        entry = ledger["runs"][run]
        entry["iteration"] = iteration
        entry["status"] = "done" if iteration == 160_000 else "paused"
        entry["segments"] = [{"start": 0, "end": iteration, "wall_s": 600.0, "images_per_s": 1000.0}]
        done = entry["status"] == "done"
        folder = (root / "cifar10_jpeg_full" if done else root / "campaign" / "runs") / run
        folder.mkdir(parents=True)
        rows = ["iteration,lr,train_loss,train_acc,test_error,images_per_s,elapsed_s"]
        rows += [f"{i},0.1,1.0,0.5,{0.3 - i / 1e6 - 0.01 * ('resnet' in run) + 0.001 * entry['seed']},1,1"
                 for i in range(8000, iteration + 1, 8000)]
        rows.insert(2, "12000,0.1,1.0,0.5,,1,1")  # a log row without evaluation
        (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    path = root / "campaign" / "ledger.json"
    path.write_text(json.dumps(ledger))
    return path


def test_seeded_runs_belong_to_their_network():
    assert network_of("attention92_s2") == "attention92"
    assert network_of("attention164_arl") == "attention164_arl"


def test_progress_and_curves_come_from_the_ledger_and_the_runs_files(tmp_path):
    ledger = _fake_campaign(tmp_path)
    progress = campaign_progress(ledger)
    assert progress.loc["resnet164_s1", "of schedule (%)"] == pytest.approx(15.0)
    assert progress.loc["attention164_arl", "segments"] == 0
    assert progress.loc["attention92", "wall minutes"] == 10
    # one segment of 16,000 iterations: 144,000 to go is 9 more like it; a finished run has none
    assert progress.loc["attention92", "segments to go"] == 9
    assert progress.loc["resnet164", "segments to go"] == 6  # 136,000 / 24,000, rounded up
    assert progress.loc["attention92_s1", "segments to go"] == 0
    assert pd.isna(progress.loc["attention164_arl", "segments to go"])  # not started
    curves = campaign_curves(ledger, results=tmp_path)
    assert "attention164_arl" not in set(curves.run)  # not started: no curve
    assert curves[curves.run == "attention92_s1"].iteration.max() == 160_000  # a finished run's own folder
    assert curves["test error (%)"].notna().all() and 12_000 not in set(curves.iteration)


def test_networks_are_compared_where_every_seed_has_been(tmp_path):
    ledger = _fake_campaign(tmp_path)
    curves = campaign_curves(ledger, results=tmp_path)
    iteration, errors, versus = compare_at_common_iteration(curves, "attention92", "resnet164")
    assert iteration == 16_000  # the least advanced run's last evaluation, not the others'
    assert errors["attention92"] == pytest.approx([28.4, 28.5])
    assert errors["resnet164"] == pytest.approx([27.4, 27.5])
    expected = compare_seeds([e / 100 for e in errors["attention92"]], [e / 100 for e in errors["resnet164"]])
    assert versus == expected and versus.difference == pytest.approx(-1.0)
    numbers = campaign_numbers(curves)
    assert numbers["common_iteration"] == 16_000 and numbers["runs"] == 4
    assert (numbers["least_iteration"], numbers["most_iteration"]) == (16_000, 160_000)
    assert (numbers["first_drop"], numbers["total"], numbers["paper_a"]) == (64_000, 160_000, 4.99)
    progress = progress_numbers(campaign_progress(ledger))
    assert progress["runs_started"] == 4 and progress["runs_planned"] == 5 and progress["runs_lost"] == 0
    reached = (progress["least_iteration"], progress["most_iteration"], progress["sessions"])
    assert reached == (16_000, 160_000, 1)
    assert (progress["fewest_to_go"], progress["most_to_go"]) == (0, 9)


def test_a_lost_attempt_keeps_its_curve_apart_from_the_attempt_that_follows(tmp_path):
    ledger_path = _fake_campaign(tmp_path)
    ledger = json.loads(ledger_path.read_text())
    (tmp_path / "campaign" / "runs" / "attention92").rename(tmp_path / "campaign" / "lost")
    (tmp_path / "campaign" / "lost").rename(tmp_path / "campaign" / "lost-tmp")
    (tmp_path / "campaign" / "lost").mkdir()
    (tmp_path / "campaign" / "lost-tmp").rename(tmp_path / "campaign" / "lost" / "attention92-16000")
    entry = ledger["runs"]["attention92"]
    entry["lost"] = [{"iteration": 16_000, "segments": entry["segments"],
                      "curve": "campaign/lost/attention92-16000"}]
    entry.update(status="lost", iteration=0, segments=[])
    ledger_path.write_text(json.dumps(ledger))
    current = campaign_curves(ledger_path, results=tmp_path)
    assert "attention92" not in set(current.run)  # starting again: nothing yet
    first = campaign_curves(ledger_path, results=tmp_path, lost=True)
    assert set(first.run) == {"attention92"} and first.iteration.max() == 16_000
    progress = campaign_progress(ledger_path)
    assert progress.loc["attention92", "lost at"] == 16_000 and pd.isna(progress.loc["resnet164", "lost at"])
    numbers = progress_numbers(progress)
    assert numbers["runs_lost"] == 1
    assert numbers["lost_least_iteration"] == numbers["lost_most_iteration"] == 16_000
    again = first.assign(**{"test error (%)": first["test error (%)"] + 0.5})  # a second attempt
    both = attempts_compared(first, again)
    assert len(both) == len(first) and both["difference"].round(9).eq(0.5).all()
    empty = campaign_curves(ledger_path, results=tmp_path / "nowhere", lost=False)
    assert len(empty) == 0 and "test error (%)" in empty.columns


def test_the_campaign_on_record_reads_whole():
    ledger = load_ledger()
    current, first = campaign_curves(), campaign_curves(lost=True)
    for run in set(current.run):  # no curve beyond the ledger
        assert current[current.run == run].iteration.max() <= ledger["runs"][run]["iteration"]
    for run in set(first.run):  # an attempt's curve stops where the ledger says it was lost
        assert first[first.run == run].iteration.max() <= ledger["runs"][run]["lost"][0]["iteration"]
    numbers = campaign_numbers(first)
    assert numbers["common_iteration"] <= numbers["least_iteration"] and numbers["seeds"] >= 2


def test_one_run_on_record_has_its_whole_curve_and_how_far_it_came(tmp_path):
    ledger = _fake_campaign(tmp_path)
    paused = run_on_record("resnet164", ledger, tmp_path)
    assert (paused["iteration"], paused["target"], paused["status"]) == (24_000, 160_000, "paused")
    assert list(paused["metrics"].iteration) == [8000, 12000, 16000, 24000]  # log rows too
    assert paused["segments"] == 1 and paused["wall_minutes"] == 10.0
    finished = run_on_record("attention92_s1", ledger, tmp_path)  # from the finished runs' group
    assert finished["status"] == "done" and finished["metrics"].iteration.iloc[-1] == 160_000
    with pytest.raises(ValueError, match="no learning curve on record yet"):
        run_on_record("attention164_arl", ledger, tmp_path)


def test_the_full_length_table_fills_as_runs_finish(tmp_path):
    ledger_path = _fake_campaign(tmp_path)
    ledger = load_ledger(ledger_path)
    ledger["runs"]["attention92_s1"]["test_error"] = 0.0512  # the finished seed's final error
    ledger_path.write_text(json.dumps(ledger))
    short = tmp_path / "cifar10_jpeg" / "attention92"
    short.mkdir(parents=True)
    (short / "results.json").write_text(json.dumps({"test_error": 0.1361}))
    table = full_length_table(ledger_path, tmp_path)
    assert list(table.index) == ["attention92", "resnet164", "attention164_arl"]
    a92 = table.loc["attention92"]
    assert a92["paper (%)"] == 4.99 and a92["0.1 schedule (%)"] == pytest.approx(13.61)
    assert a92["full length: done"] == "1 of 2" and a92["mean (%)"] == pytest.approx(5.12)
    assert pd.isna(a92["spread (sd)"]) and a92["least iteration"] == 16_000  # one seed: no spread
    r164 = table.loc["resnet164"]
    assert r164["full length: done"] == "0 of 2" and pd.isna(r164["mean (%)"])
    assert pd.isna(r164["0.1 schedule (%)"]) and r164["least iteration"] == 24_000
