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
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["cache_counts", "cache_folder", "counted_since", "cost_of", "describe", "graphs_found"]

T = TypeVar("T")

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
