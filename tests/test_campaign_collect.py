"""The way back from the GPU machine (campaign_collect): every call returns what fits, in turn, and
nothing twice; what comes back joins into the checkpoints that were trained."""

import os

from resattn_min.__main__ import main
from resattn_min.experiments import campaign
from resattn_min.experiments.campaign_collect import RETURN_BYTES, RETURN_FILES, choose, collect

MIB = 2**20
SIX = ("attention92", "resnet164", "attention92_s1", "resnet164_s1", "attention92_s2", "resnet164_s2")


def test_six_checkpoints_of_fifteen_mib_go_back_four_then_two_and_nothing_twice():
    newest = {run: ("checkpoint-00002000.pt", 15 * MIB) for run in SIX}
    first, left = choose(newest, {})
    assert first == list(SIX[:4]) and set(left) == set(SIX[4:])  # 60 MiB of the 63 a call returns
    returned = {run: {"checkpoint": newest[run][0], "call": 1} for run in first}
    second, left = choose(newest, returned)
    assert second == list(SIX[4:]) and "went back in call 1" in left["attention92"]
    returned |= {run: {"checkpoint": newest[run][0], "call": 2} for run in second}
    assert choose(newest, returned)[0] == []  # the runs stopped: nothing new to return
    newer = {run: ("checkpoint-00004000.pt", 15 * MIB) for run in SIX}
    assert choose(newer, returned)[0] == list(SIX[:4])  # longest ago first: call 1's runs


def test_a_checkpoint_in_two_pieces_counts_two_files():
    newest = {"attention164_arl": ("checkpoint-00002000.pt", 27 * MIB),
              "attention164_nal": ("checkpoint-00002000.pt", 27 * MIB),
              "attention92": ("checkpoint-00002000.pt", 15 * MIB)}
    chosen, left = choose(newest, {})
    assert chosen == ["attention164_arl", "attention164_nal"] and "does not fit" in left["attention92"]
    assert choose(newest, {}, max_bytes=100 * MIB, max_files=4)[0] == chosen  # four pieces, no fifth
    assert RETURN_FILES == 7 and RETURN_BYTES == 63 * MIB  # with runs.tgz: 8 files, 64 MiB


def _checkpoint(runs, run, iteration, size=1500):
    path = runs / run / f"checkpoint-{iteration:08d}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes([iteration % 251, len(run)]) * (size // 2))
    return path


def test_collect_returns_the_newest_checkpoints_in_turn_and_they_join_back(tmp_path):
    runs = tmp_path / "runs"
    for run in ("a", "b", "c"):
        _checkpoint(runs, run, 2000)
    kept = {run: _checkpoint(runs, run, 4000).read_bytes() for run in ("a", "b", "c")}
    lines = collect(runs, tmp_path / "out1", ["a", "b", "c", "d"], max_bytes=3500)
    assert lines[:2] == ["a: checkpoint-00004000.pt in 1 piece(s)", "b: checkpoint-00004000.pt in 1 piece(s)"]
    assert "c: left out" in lines[2] and lines[3] == "d: no checkpoint yet"
    lines = collect(runs, tmp_path / "out2", ["a", "b", "c", "d"], max_bytes=3500)
    assert lines[0] == "c: checkpoint-00004000.pt in 1 piece(s)" and "went back in call 1" in lines[1]
    for out, run in (("out1", "a"), ("out1", "b"), ("out2", "c")):
        (joined,) = campaign.join_pieces(tmp_path / out / run, tmp_path / "back" / run)
        assert joined.name == "checkpoint-00004000.pt" and joined.read_bytes() == kept[run]
    assert not (tmp_path / ".collect").exists()  # its hard links are gone again
    assert (runs / "a" / "checkpoint-00004000.pt").exists()  # the runs' own files stay


def test_the_command_collects_on_the_gpu_machine(tmp_path, capsys):
    runs = tmp_path / "runs"
    _checkpoint(runs, "attention92", 2000)
    assert main(["campaign", "collect", str(runs), str(tmp_path / "out"), "--runs", "attention92"]) == 0
    assert capsys.readouterr().out.strip() == "attention92: checkpoint-00002000.pt in 1 piece(s)"
    assert (tmp_path / "out" / "attention92" / "checkpoint-00002000.pt.part00").is_file()


def test_compiled_graphs_written_this_session_go_back_once_in_the_room_the_checkpoints_leave(tmp_path):
    runs = tmp_path / "runs"
    _checkpoint(runs, "a", 2000)
    graphs = runs / campaign.COMPILED
    graphs.mkdir()
    carried = graphs / "attention92_cifar-aaaa.compiled.gz"  # came in from the store: stays here
    carried.write_bytes(b"c" * 500)
    (graphs / campaign.CARRIED).touch()
    os.utime(carried, (1, 1))  # joined before the marker was touched
    new = graphs / "resnet164_cifar-bbbb.compiled.gz"  # compiled in this session
    new.write_bytes(b"n" * 1000)
    lines = collect(runs, tmp_path / "out1", ["a"], max_bytes=2000)  # the checkpoint first: no room
    assert lines[0].startswith("a: checkpoint")
    assert "resnet164_cifar-bbbb.compiled.gz does not fit" in lines[1]
    lines = collect(runs, tmp_path / "out2", ["a"], max_bytes=2000)
    assert "went back in call 1" in lines[0]
    assert lines[1] == "compiled: resnet164_cifar-bbbb.compiled.gz (0.0 MiB) in 1 piece(s)"
    (joined,) = campaign.join_pieces(tmp_path / "out2" / campaign.COMPILED, tmp_path / "back")
    assert joined.read_bytes() == new.read_bytes()
    assert len(collect(runs, tmp_path / "out3", ["a"], max_bytes=2000)) == 1  # nothing goes twice
    assert not (tmp_path / "out3" / campaign.COMPILED).exists()
