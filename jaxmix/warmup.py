"""Compile ahead: run a study once on a table of the user's shapes, so that the calls after
it, and (through the persistent caches of :mod:`jaxmix.cache`) a restarted notebook kernel
or a later process, start without tracing or compiling.

>>> import jaxmix
>>> done = jaxmix.warmup()          # the shipped example: fit and optimize
>>> again = jaxmix.warmup()         # the same shapes: nothing left to compile
>>> again.traces, again.compiles
(0, 0)
"""

from __future__ import annotations

from pathlib import Path

from jaxmix.compiles import Compiles, count_compiles


def warmup(table=None, budget: float | None = None, bootstrap: int = 0, **fit_kw) -> Compiles:
    """Trace and compile the programs of ``fit(table, **fit_kw)``, ``optimize`` at
    ``budget`` and, with ``bootstrap`` resamples, the bootstrap intervals of ``jaxmix run
    --bootstrap`` (nearby resample counts share programs).

    Args:
      table: a :class:`PilotTable`, a pilot file's path, or None for the shipped example.
      budget: total amount N; default 5x the base pilot run (as ``jaxmix run``).
      bootstrap: resamples of the study to prepare (0: none).
      fit_kw: the options of :func:`jaxmix.fit` the study will use (e.g.
        ``check_extrapolation=True``, as the CLI fits).

    Returns:
      What was traced and compiled (:class:`jaxmix.compiles.Compiles`); a second warm-up of
      the same shapes has nothing left to do.
    """
    from jaxmix.fitting.api import fit
    from jaxmix.fitting.checks import base_amounts, measured_runs
    from jaxmix.io.examples import example_pilots
    from jaxmix.io.pilots import read_pilots
    from jaxmix.optimization.api import optimize

    if table is None or isinstance(table, (str, Path)):
        table = read_pilots(example_pilots() if table is None else table)
    table = measured_runs(table)[0]
    with count_compiles() as log:
        result = fit(table, **fit_kw)
        n = 5.0 * float(base_amounts(table).sum()) if budget is None else float(budget)
        mixture = optimize(result, n)
        if bootstrap and result.method == "joint":
            from jaxmix.study.intervals import recommendation_intervals

            recommendation_intervals(table, result, mixture, max(int(bootstrap), 2))
    return log
