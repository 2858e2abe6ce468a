"""``recommend``: the default recommendation in one call (fit every law, combined, then
optimize and decide), what ``jaxmix run`` does."""

from __future__ import annotations

from jaxmix.fitting.api import fit as fit_table
from jaxmix.optimization.api import optimize


def recommend(table, budget, **optimize_kw):
    """The default recommendation in one call, what ``jaxmix run`` does:
    ``jaxmix.fit(table)`` (every law, combined), then ``optimize``
    (whose ``decision`` says whether to train the optimum, part of the way to it, or the
    safe mixture). Returns ``(fit, mixture)``.

    >>> import jaxmix
    >>> fit, mix = recommend(jaxmix.read_pilots(jaxmix.example_pilots()), 720.0)
    >>> mix.decision["action"] in ("move", "shrink", "keep")
    True
    """
    fit = fit_table(table)
    return fit, optimize(fit, budget, **optimize_kw)
