"""Compilation paid once (issue 12): a second process that compiles the same network reads Inductor's
cache instead of compiling again, and ``cost_of`` says which happened (a run's log, a bench row)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _train_helpers import ENV
from torch._dynamo.utils import counters

from resattn_min.train.compilation import (
    ARTIFACTS_SUFFIX,
    cache_counts,
    cost_of,
    describe,
    describe_artifacts,
    graphs_digest,
    keep_artifacts,
    read_artifacts,
)


def test_cost_of_counts_only_the_hits_and_misses_of_its_own_step():
    counters["inductor"]["fxgraph_cache_hit"] += 5  # before the step: not its own

    def first_step(x):
        counters["inductor"]["fxgraph_cache_hit"] += 2
        counters["inductor"]["fxgraph_cache_miss"] += 1
        counters["aot_autograd"]["autograd_cache_miss"] += 1
        return x + 1

    result, cost = cost_of(first_step, 41)
    assert result == 42
    counts = [cost[k] for k in ("graph_hits", "graph_misses", "autograd_hits", "autograd_misses")]
    assert counts == [2, 1, 0, 1]
    assert cost["seconds"] >= 0 and cost["cache"]
    assert describe(cost).startswith("compiled in ") and "2 of 3 graphs from the cache" in describe(cost)
    assert set(cache_counts()) == {"graph_hits", "graph_misses", "autograd_hits", "autograd_misses"}


# One training step of a small network, compiled, in a process of its own; prints what it cost.
_CHILD = """
import json, torch
from resattn_min.train.compilation import cost_of
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                          torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 10))
forward = torch.compile(net)
x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 10, (4,))

def step():
    loss = torch.nn.functional.cross_entropy(forward(x), y)
    loss.backward()
    return loss.item()

import sys
from resattn_min.train.compilation import keep_artifacts, read_artifacts
read = read_artifacts(sys.argv[1]) if len(sys.argv) > 1 else None
loss, cost = cost_of(step)
kept = keep_artifacts(sys.argv[1], "small", cost) if len(sys.argv) > 1 else None
print(json.dumps({"loss": loss, **cost, "read": read, "kept": str(kept) if kept else None}))
"""


@pytest.mark.slow
def test_a_second_process_finds_the_compiled_network_in_the_cache(tmp_path):
    env = {**ENV, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache")}
    first, second = (json.loads(subprocess.run([sys.executable, "-c", _CHILD], env=env, check=True,
                                               capture_output=True, text=True).stdout.splitlines()[-1])
                     for _ in range(2))
    assert first["cache"] == second["cache"] == str(tmp_path / "cache")
    assert first["graph_misses"] >= 2 and first["graph_hits"] == 0  # forward and backward, built
    assert second["graph_misses"] == 0 and second["graph_hits"] == first["graph_misses"]  # read back
    assert second["loss"] == first["loss"]  # the same network, the same step
    assert second["seconds"] < first["seconds"]


def test_a_damaged_or_foreign_file_of_compiled_graphs_is_refused_by_name_not_fatal(tmp_path):
    (tmp_path / f"broken{ARTIFACTS_SUFFIX}").write_bytes(b"not gzip")
    (tmp_path / "notes.txt").write_text("not ours")  # only files with the suffix are read
    read = read_artifacts(tmp_path)
    assert read["files"] == 0 and read["refused"] == [f"broken{ARTIFACTS_SUFFIX}"]
    assert "refused broken" in describe_artifacts(read)
    assert read_artifacts(tmp_path / "absent")["files"] == 0  # a first run: nothing to read yet
    # a first step that compiled no graph (an eager network) has nothing to keep
    assert keep_artifacts(tmp_path, "net", {"graph_misses": 0, "graph_hits": 0}) is None


@pytest.mark.slow
def test_another_machine_reads_the_kept_graphs_instead_of_compiling(tmp_path):
    """The first process compiles in its own cache folder and keeps its graphs; the second, with an
    empty cache folder of its own (another machine), reads them and builds nothing."""
    graphs = str(tmp_path / "graphs")

    def child(cache: str) -> dict:
        env = {**ENV, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / cache)}
        out = subprocess.run([sys.executable, "-c", _CHILD, graphs], env=env, check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out.splitlines()[-1])

    first, second = child("cache-1"), child("cache-2")
    assert first["read"]["files"] == 0 and first["graph_misses"] >= 2 and first["kept"]
    assert first["kept"].endswith(ARTIFACTS_SUFFIX) and first["kept"].startswith(graphs)
    assert second["read"]["files"] == 1 and second["read"]["refused"] == []
    assert second["graph_misses"] == 0 and second["graph_hits"] == first["graph_misses"]
    assert second["kept"] is None  # its graphs are the file's: nothing new to keep
    assert second["loss"] == first["loss"]
    (tmp_path / "graphs" / Path(first["kept"]).name).unlink()  # a third process, its cache warm:
    third = child("cache-2")  # it read every graph from the cache folder, and keeps them again
    assert third["graph_hits"] == first["graph_misses"] and third["kept"] == first["kept"]


def test_a_file_of_compiled_graphs_is_named_after_its_graphs_not_its_kernel_tunings():
    """On the H200 two Attention-92 processes that read the same two graphs saved 125 and 126 autotune
    records; the same graphs must give the same file name (one file, not one per process)."""
    graphs = {"aot_autograd": ["ard"], "inductor": ["f5y", "fau"]}
    first = graphs_digest({**graphs, "autotune": [f"tune{i}" for i in range(125)]})
    assert first == graphs_digest({**graphs, "autotune": [f"tune{i}" for i in range(126)]})
    assert first == graphs_digest({"inductor": ["fau", "f5y"], "aot_autograd": ["ard"]})  # any order
    assert first != graphs_digest({**graphs, "inductor": ["f5y", "other"]})  # other graphs: other file
    assert first != graphs_digest({"aot_autograd": ["ard"], "inductor": ["f5y"]})
