"""Counting what JAX traces and compiles: for the no-recompile tests, :func:`jaxmix.warmup`
and the speed benchmarks.

>>> import jax, jax.numpy as jnp
>>> f = jax.jit(lambda x: x * 2.0)
>>> x, y = jnp.ones(3), jnp.zeros(3)
>>> with count_compiles() as first:
...     _ = f(x)
>>> with count_compiles() as second:  # the same shapes: nothing is traced or compiled
...     _ = f(y)
>>> first.traces >= 1, second.traces, second.compiles
(True, 0, 0)
"""

from __future__ import annotations

import contextlib
import dataclasses

import jax

_TRACE = "/jax/core/compile/jaxpr_trace_duration"
_LOWER = "/jax/core/compile/jaxpr_to_mlir_module_duration"
_COMPILE = "/jax/core/compile/backend_compile_duration"  # compiled or read from the cache
_CACHE_HIT = "/jax/compilation_cache/cache_hits"


@dataclasses.dataclass
class Compiles:
    """What happened inside one :func:`count_compiles` block.

    Attributes:
      traces: Python traces of jitted functions (``jaxpr_trace``); trace_s their seconds.
      lowerings, lower_s: programs lowered to MLIR, and their seconds.
      compiles: XLA executables made or loaded from the persistent cache; compile_s their
        seconds. cache_hits: how many of them came from the persistent cache.
    """

    traces: int = 0
    trace_s: float = 0.0
    lowerings: int = 0
    lower_s: float = 0.0
    compiles: int = 0
    compile_s: float = 0.0
    cache_hits: int = 0


@contextlib.contextmanager
def count_compiles():
    """Count the traces, lowerings and compiles of the block (a :class:`Compiles`)."""
    out = Compiles()

    def on_duration(event: str, seconds: float, **_) -> None:
        if event == _TRACE:
            out.traces += 1
            out.trace_s += seconds
        elif event == _LOWER:
            out.lowerings += 1
            out.lower_s += seconds
        elif event == _COMPILE:
            out.compiles += 1
            out.compile_s += seconds

    def on_event(event: str, **_) -> None:
        if event == _CACHE_HIT:
            out.cache_hits += 1

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    jax.monitoring.register_event_listener(on_event)
    try:
        yield out
    finally:
        jax.monitoring.unregister_event_duration_listener(on_duration)
        jax.monitoring.unregister_event_listener(on_event)
