"""``compile=True`` (``--compile``, what the full-length campaign trains with) is the same training as
the eager step: torch.compile fuses kernels, it must not change the maths."""

from pathlib import Path

import pandas as pd
import pytest
import torch
from _train_helpers import one_thread, tiny_config  # noqa: F401  (one_thread: an autouse fixture)

from resattn_min.train.checkpoint import list_checkpoints, load_checkpoint, weight_gap
from resattn_min.train.loop import train


@pytest.mark.slow
def test_a_compiled_run_follows_the_eager_runs_loss_curve_and_ends_at_its_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "cache"))  # compiles: nothing cached
    torch._dynamo.reset()
    runs = {}
    for name, compiled in (("eager", False), ("compiled", True)):
        result = train(tiny_config(tmp_path / name, total_iters=12, milestones=[6, 9], log_every=1, lr=0.01,
                                   eval_every=12, compile=compiled,
                                   compile_artifacts=str(tmp_path / "graphs")))
        assert result.results["compile"] is compiled
        cost = result.results["compile_cost"]  # the first step's compiling, timed and counted once
        assert (cost is None) is not compiled
        assert not compiled or (cost["seconds"] > 0 and cost["graph_hits"] + cost["graph_misses"] >= 2)
        assert result.results["segments"][-1]["compile_s"] == (cost["seconds"] if compiled else None)
        if compiled:  # what it compiled is kept for the next machine
            assert cost["graph_misses"] >= 2 and cost["cache"] == str(tmp_path / "cache")
            kept = Path(cost["artifacts_kept"])
            assert kept.parent == tmp_path / "graphs" and kept.name.startswith("tiny_attention_test-")
            assert kept.stat().st_size > 0 and cost["artifacts_read"] == 0
        runs[name] = (pd.read_csv(tmp_path / name / "metrics.csv").set_index("iteration"),
                      load_checkpoint(list_checkpoints(tmp_path / name)[-1])["model"], result.test_error)
    (eager, eager_weights, eager_error), (compiled, compiled_weights, compiled_error) = runs.values()
    assert list(compiled.index) == list(eager.index) == list(range(1, 13))
    # Fused kernels add in another order. The first step agrees to float32 rounding; after it, batch
    # normalisation over 16 images amplifies those last bits from step to step (about 5x a step at
    # the start, measured), so the runs drift apart slowly, never by a different formula.
    gaps = (compiled.train_loss - eager.train_loss).abs()
    assert gaps.iloc[0] < 1e-5 and gaps.max() < 1e-3
    learnt = {k: w for k, w in eager_weights.items() if "running" not in k}  # not the statistics
    assert weight_gap({k: compiled_weights[k] for k in learnt}, learnt) < 2e-3
    assert compiled_error == eager_error
