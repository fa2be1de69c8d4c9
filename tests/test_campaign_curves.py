"""A campaign run's learning curve keeps its history wherever its files go (campaign_curves): files
that start at a resumed iteration are merged under the earlier ones, never copied over them."""

import json

from resattn_min.experiments import campaign
from resattn_min.experiments.campaign_curves import copy_run_files, merged

HEADER = "iteration,lr,train_loss"


def _csv(*its):
    return "\n".join([HEADER, *(f"{it},0.1,{1 / it:.6f}" for it in its)]) + "\n"


def _jsonl(*its):
    return "".join(json.dumps({"iteration": it, "train_loss": 1 / it}) + "\n" for it in its)


def test_metrics_that_start_at_a_resumed_iteration_keep_the_earlier_rows():
    old, new = _csv(400, 800, 1200, 1296), _csv(1600, 2000)
    assert merged("metrics.csv", old, new) == _csv(400, 800, 1200, 1296, 1600, 2000)
    # the rows after the checkpoint that the run trained again are the new ones, not both
    assert merged("metrics.csv", _csv(400, 800, 1200, 1600), _csv(1200, 1600)) == _csv(400, 800, 1200, 1600)
    assert merged("metrics.jsonl", _jsonl(400, 800), _jsonl(1200)) == _jsonl(400, 800, 1200)


def test_metrics_that_hold_the_whole_history_replace_the_earlier_file():
    whole = _csv(400, 800, 1200, 1600)
    assert merged("metrics.csv", _csv(400, 800), whole) == whole
    assert merged("metrics.jsonl", _jsonl(400), _jsonl(400, 800)) == _jsonl(400, 800)
    assert merged("metrics.csv", "", whole) == whole and merged("metrics.csv", whole, "") == whole


def test_a_log_that_continues_replaces_and_one_that_starts_anew_is_appended():
    segment = "$ train --resume auto\niterations 0->160000\ninterrupted after 21476\n"
    again = "$ train --resume auto\niterations 21476->160000\ninterrupted after 49296\n"
    assert merged("log.txt", segment, segment + again) == segment + again
    assert merged("log.txt", segment, again) == segment + again  # same first line, not the same log


def test_copying_a_resumed_curve_over_the_repositorys_keeps_every_segment(tmp_path):
    """What happened in session 5: the GPU's curve began at the resumed iteration."""
    gpu, kept = tmp_path / "gpu" / "attention92", tmp_path / "curves" / "attention92"
    gpu.mkdir(parents=True)
    kept.mkdir(parents=True)
    (kept / "metrics.csv").write_text(_csv(400, 800))
    (gpu / "metrics.csv").write_text(_csv(1200))
    (gpu / "log.txt").write_text("$ train\n")
    copy_run_files(gpu, kept, tmp_path / "store")
    assert (kept / "metrics.csv").read_text() == _csv(400, 800, 1200)
    assert (tmp_path / "store" / "metrics.csv").read_text() == _csv(1200)  # nothing there before
    assert (kept / "log.txt").read_text() == "$ train\n"


def test_a_run_that_finishes_from_files_without_history_is_recorded_whole(tmp_path):
    ledger = campaign.new_ledger(("attention92",))
    runs, curves, done = tmp_path / "runs", tmp_path / "curves", tmp_path / "done"
    (curves / "attention92").mkdir(parents=True)
    (curves / "attention92" / "metrics.csv").write_text(_csv(400, 800))
    (runs / "attention92").mkdir(parents=True)
    (runs / "attention92" / "metrics.csv").write_text(_csv(1200, 1600))
    (runs / "attention92" / "results.json").write_text(json.dumps(
        {"iterations": 1600, "test_error": 0.05, "segments": []}))
    said = campaign.update_ledger(ledger, runs, tmp_path / "store", curves, done)
    assert said == ["attention92: done at 1600, test error 5.00%"]
    assert (done / "attention92" / "metrics.csv").read_text() == _csv(400, 800, 1200, 1600)
