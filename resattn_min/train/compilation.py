"""What ``torch.compile`` costs a process, once, before its first step (issue 12: compilation paid once).

Compiling happens inside the first call of a compiled network: Dynamo traces the Python code,
AOTAutograd derives the backward, Inductor generates and builds the kernels. On the H200 each campaign
process (Attention-92, ResNet-164, six compiling at once) wrote its first metrics row, at 400
iterations, 111-208 s after it started, most of it compiling. Inductor keeps what it built in a cache
on disk (``TORCHINDUCTOR_CACHE_DIR``, by default a folder under the temporary folder), and so does
AOTAutograd: a second process that compiles the same network with the same settings and the same
input shapes reads its graphs back instead of building them. On this project's CPU that turned a
114.6 s first step of Attention-56 into 4.8 s. A graph that differs (another batch size, another
memory layout, another torch) misses the cache and compiles again.

:func:`cost_of` times a first step and counts the cache's hits and misses during it, so a run's log
(``train``) and a bench row (``bench --variants compile``) say which it was.

The cache folder does not travel: after the campaign's first minutes on the H200 it held 478 MB. What
does travel is torch's own portable form of it (``torch.compiler.save_cache_artifacts``): the entries
one process built or read, as bytes that another process, on another machine with the same torch and
GPU, loads into its cache folder before it compiles. A run with ``compile_artifacts`` (a folder) reads
every file there before its first step (:func:`read_artifacts`) and, unless its graphs were among them,
writes them there after that step (:func:`keep_artifacts`), compressed, named after the network and
the graphs (a graph read from the cache folder counts: torch records those too). Files of another
torch or GPU are read and simply miss. On this project's CPU a process with an empty cache folder
compiled a small network in 12.8 s with the artifacts against 25.8 s without (one run each of the
network in ``tests/test_compilation.py``, 2 cores, torch 2.14.1, 2026-12-03; the test checks the hits,
not the times).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..atomic import write_atomic

__all__ = ["cache_counts", "cache_folder", "counted_since", "cost_of", "describe", "graphs_found",
           "artifact_files", "describe_artifacts", "graphs_digest", "keep_artifacts", "read_artifacts",
           "ARTIFACTS_SUFFIX"]

T = TypeVar("T")

#: How a file of cache artifacts is named: ``<network>-<graphs>.compiled.gz`` (gzip of torch's bytes).
ARTIFACTS_SUFFIX = ".compiled.gz"
#: Kinds of cache artifact that are records about kernels, not graphs (not in a file's name).
NOT_GRAPHS = frozenset({"autotune"})

#: Our names for torch's counters: (counter group, counter).
_COUNTERS = {"graph_hits": ("inductor", "fxgraph_cache_hit"),
             "graph_misses": ("inductor", "fxgraph_cache_miss"),
             "autograd_hits": ("aot_autograd", "autograd_cache_hit"),
             "autograd_misses": ("aot_autograd", "autograd_cache_miss")}


def cache_counts() -> dict[str, int]:
    """This process's cache hits and misses so far: Inductor's compiled graphs and AOTAutograd's."""
    from torch._dynamo.utils import counters

    return {name: int(counters[group][key]) for name, (group, key) in _COUNTERS.items()}


def cache_folder() -> str:
    """Where Inductor reads and writes its cache in this process."""
    try:
        from torch._inductor.runtime.cache_dir_utils import cache_dir
    except ImportError:  # an older or newer torch without this helper: the variable, if set
        return os.environ.get("TORCHINDUCTOR_CACHE_DIR", "(torch's default)")
    return cache_dir()


def counted_since(before: dict[str, int]) -> dict:
    """The cache hits and misses since ``before`` (a :func:`cache_counts`), and the cache's folder."""
    now = cache_counts()
    return {**{k: now[k] - before[k] for k in now}, "cache": cache_folder()}


def cost_of(first_step: Callable[..., T], *args) -> tuple[T, dict]:
    """Call ``first_step(*args)`` (a compiled network's first step) and return its result and what it
    cost: ``seconds`` of wall time and the cache hits and misses that happened during it."""
    before = cache_counts()
    start = time.perf_counter()
    result = first_step(*args)
    seconds = time.perf_counter() - start
    return result, {"seconds": round(seconds, 1), **counted_since(before)}


def graphs_found(counts: dict) -> str:
    """``2 of 2 graphs from the cache`` (or ``no graph compiled``), from :func:`counted_since`'s counts."""
    graphs = counts["graph_hits"] + counts["graph_misses"]
    return f"{counts['graph_hits']} of {graphs} graphs from the cache" if graphs else "no graph compiled"


def describe(cost: dict) -> str:
    """One line for a log: ``compiled in 4.8 s: 2 of 2 graphs from the cache in /tmp/...``."""
    return f"compiled in {cost['seconds']:.1f} s: {graphs_found(cost)} in {cost['cache']}"


def artifact_files(folder: str | Path) -> list[Path]:
    """The files of compiled graphs in ``folder``, by name (none if there is no such folder)."""
    return sorted(Path(folder).glob(f"*{ARTIFACTS_SUFFIX}")) if Path(folder).is_dir() else []


def read_artifacts(folder: str | Path) -> dict:
    """Load every file of cache artifacts in ``folder`` into this process's cache folder (before the
    first compiled step); returns how many files, bytes (compressed) and seconds it took. A file that
    torch cannot load (another torch's format) is skipped and named in ``refused``."""
    import torch.compiler

    start = time.perf_counter()
    read, refused, size = 0, [], 0
    for path in artifact_files(folder):
        data = path.read_bytes()
        try:
            torch.compiler.load_cache_artifacts(gzip.decompress(data))
        except Exception:  # noqa: BLE001 - a stale or damaged file costs a compile, not the run
            refused.append(path.name)
            continue
        read, size = read + 1, size + len(data)
    return {"files": read, "bytes": size, "seconds": round(time.perf_counter() - start, 1),
            "refused": refused, "folder": str(folder)}


def graphs_digest(artifacts: dict) -> str:
    """A short name for the compiled graphs in a save of the cache (``artifacts``: kind -> keys). The
    graphs' kinds count, the autotuner's records do not: processes that read the same graphs from the
    cache can each look up a different number of kernel tunings (on the H200, 125 and 126 in two
    Attention-92 processes of one session), and their saves are still the same graphs."""
    keys = sorted(f"{kind}:{key}" for kind, found in artifacts.items() if kind not in NOT_GRAPHS
                  for key in found)
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:12]


def keep_artifacts(folder: str | Path, network: str, cost: dict) -> Path | None:
    """After a first step that compiled graphs (``cost`` from :func:`cost_of`: built them, or read them
    from the cache folder), write them into ``folder`` as ``<network>-<digest of the graphs'
    keys>.compiled.gz``, unless a file of the same graphs is there already (read before the step, or
    written by another seed of the network); returns the file written, or None."""
    if not cost.get("graph_misses") and not cost.get("graph_hits"):
        return None
    import torch.compiler

    try:
        saved = torch.compiler.save_cache_artifacts()
    except Exception as err:  # noqa: BLE001 - the run goes on; the next machine compiles again
        warnings.warn(f"the compiled graphs could not be kept: {err}", stacklevel=2)
        return None
    if saved is None:
        return None
    data, info = saved
    path = Path(folder) / f"{network}-{graphs_digest(info.artifacts)}{ARTIFACTS_SUFFIX}"
    if path.is_file():
        return None
    return write_atomic(path, lambda f: f.write(gzip.compress(data, compresslevel=6)))


def describe_artifacts(read: dict) -> str:
    """One line for a log: ``read 2 files of compiled graphs (31.0 MiB) in 4.2 s from <folder>``."""
    line = (f"read {read['files']} file(s) of compiled graphs ({read['bytes'] / 2**20:.1f} MiB) in "
            f"{read['seconds']:.1f} s from {read['folder']}")
    return line + (f"; refused {', '.join(read['refused'])}" if read["refused"] else "")
