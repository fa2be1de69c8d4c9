"""Shared pieces of the trainer's tests: a tiny config, one-thread torch, and the training subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import _tiny_models  # noqa: F401  (registers tiny_attention_test and tiny_convnet_test)
import pytest
import torch
import yaml

from resattn_min.train.run_config import TrainConfig

HERE = Path(__file__).resolve().parent
CHILD = HERE / "_train_child.py"
#: One BLAS/OpenMP thread: on a small shared CPU, two threads that wait on each other are many times slower.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent)}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_config(run_dir: Path, **overrides) -> TrainConfig:
    """A run of a few seconds: the tiny attention network on the quick synthetic data, batch 16."""
    values = {"model": "tiny_attention_test", "dataset": "synthetic", "quick": True, "schedule": "none",
              "lr": 0.1, "milestones": [20, 30], "total_iters": 40, "batch_size": 16, "log_every": 5,
              "run_dir": str(run_dir), "progress": False, "deterministic": True}
    return TrainConfig(**{**values, **overrides})


def error_of(capsys, one_line: bool = False) -> str:
    """What the command printed on stderr: an ``error:`` line, no traceback (one line, if asked)."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert not one_line or len(err.strip().splitlines()) == 1, err
    return err


def tiny_image_folder(root: Path) -> Path:
    """Two classes of 40x48 images (8 train, 3 val each), one colour per class."""
    from PIL import Image

    for split, n in (("train", 8), ("val", 3)):
        for c, colour in enumerate(((200, 30, 30), (30, 30, 200))):
            (root / split / f"n0{c}").mkdir(parents=True)
            for i in range(n):
                shade = tuple(min(255, v + 5 * i) for v in colour)
                Image.new("RGB", (40, 48), shade).save(root / split / f"n0{c}" / f"{i}.png")
    return root


def write_config(path: Path, run_dir: Path, **overrides) -> Path:
    """:func:`tiny_config` as a YAML file, for the command line's ``--config``."""
    path.write_text(yaml.safe_dump(asdict(tiny_config(run_dir, **overrides))))
    return path


def run_child(args: list[str], *, nproc: int = 1, timeout: float = 120, env: dict | None = None,
              **popen) -> subprocess.CompletedProcess:
    """``python tests/_train_child.py ARGS`` (or under torchrun with ``nproc`` processes)."""
    cmd = [sys.executable, str(CHILD), *args]
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
               "--master_port", str(free_port()), str(CHILD), *args]
    return subprocess.run(cmd, env={**ENV, **(env or {})}, capture_output=True, text=True, timeout=timeout,
                          **popen)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
