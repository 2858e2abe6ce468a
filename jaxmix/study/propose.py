"""``next``: the runs to train next, at the budget.

By default (no ``law``) the runs come from the combined fit's posterior
(:mod:`jaxmix.study.thompson`): the mixture with the lowest expected objective, then the best
mixture of fresh posterior draws (batch Thompson sampling), among the user's candidates when
given. With one ``law``, they sit where that law's fit is least sure:

The pilots are small; the recommendation is made at a budget they never reached. The
cheapest test of it is to train it, and the most informative extra runs sit along the
direction in which the recommendation itself is least certain. That direction comes from
a bootstrap of the pilots (:func:`jaxmix.study.bootstrap.replicates`): the principal axes of the
replicates' optimal weights. Proposed runs, at the full budget:

1. the current recommendation;
2. the recommendation moved by ``+/- spread`` along the first axis, then the second, ...

where ``spread`` is twice the axis' bootstrap standard deviation, clipped to
``[min_step, max_step]`` (and shrunk to stay inside the weight bounds).
Train them, fill in the ``loss:`` columns, append them to the pilots, then ``fit`` and
``optimize`` again: the law is now anchored at the budget.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxmix.fitting.api import choose_method
from jaxmix.fitting.checks import measured_runs
from jaxmix.status import InputError
from jaxmix.study.bootstrap import replicates
from jaxmix.table import PilotTable, whole_amounts

MIN_STEP = 0.08  # smallest move (Euclidean, in weight units) along an uncertain axis
MAX_STEP = 0.2  # largest: beyond it a run says little about the neighbourhood of the optimum


class Proposal(NamedTuple):
    """Runs to train next.

    Attributes:
      table: a :class:`PilotTable` of the runs, every loss empty (NaN).
      weights: ``[R, K]`` their mixtures (each run's amounts are ``weights * budget``).
      reasons: R one-line explanations.
      spread: ``[A]`` bootstrap standard deviation of the recommendation along each axis
        (empty for posterior proposals).
      p_best: ``[R]`` for posterior proposals, the share of posterior draws in which each
        run is the best candidate; None otherwise.
    """

    table: PilotTable
    weights: np.ndarray
    reasons: tuple
    spread: np.ndarray
    p_best: np.ndarray | None = None


def _axes(weights: np.ndarray):
    """Principal axes ``[A, K]`` (zero-sum) and standard deviations ``[A]`` of replicate
    weights ``[B, K]``, largest first."""
    ok = weights[np.all(np.isfinite(weights), axis=1)]
    if len(ok) < 2:
        return np.zeros((0, weights.shape[1])), np.zeros(0)
    cov = np.cov(ok, rowvar=False)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][: weights.shape[1] - 1]  # K - 1 directions on the simplex
    axes = vecs[:, order].T
    axes -= axes.mean(axis=1, keepdims=True)
    axes /= np.maximum(np.linalg.norm(axes, axis=1, keepdims=True), 1e-12)
    return axes, np.sqrt(np.maximum(vals[order], 0.0))


def _move(w0, axis, step, lower, upper):
    """``w0 + t * axis`` with ``t`` shrunk from ``step`` until inside the bounds."""
    t = step
    for _ in range(60):
        w = w0 + t * axis
        if np.all(w >= lower - 1e-12) and np.all(w <= upper + 1e-12):
            return np.clip(w, lower, upper), t
        t *= 0.8
    return w0, 0.0


def propose(
    table: PilotTable,
    budget: float,
    runs: int = 3,
    law: str | None = None,
    resamples: int = 64,
    seed: int = 0,
    candidates=None,
    min_step: float = MIN_STEP,
    max_step: float = MAX_STEP,
    **optimize_kw,
) -> Proposal:
    """Propose ``runs`` runs at ``budget``.

    ``law`` None (the default): from the combined fit's posterior, among ``candidates
    [J, K]`` (mixtures) when given (:mod:`jaxmix.study.posterior_runs`). A law name:
    that law's recommendation, then pairs along the axes in which its bootstrap
    recommendation varies most (``resamples`` resamples; ``candidates`` not supported).

    >>> from jaxmix import example_pilots, read_pilots
    >>> p = propose(read_pilots(example_pilots()), 720, runs=2)
    >>> p.table.runs, float(p.table.amounts.sum()), p.table.amounts.shape
    (('next1', 'next2'), 1440.0, (2, 3))
    """
    if runs < 1:
        raise InputError(f"runs must be >= 1, got {runs}")
    if not (np.isfinite(budget) and budget > 0):
        raise InputError(f"budget must be a positive number, got {budget}")
    if candidates is not None:
        candidates = _checked_candidates(candidates, len(table.domains))
    if law is None and choose_method(table)[0] == "joint":
        got = _from_the_default_model(table, budget, runs, seed, candidates, optimize_kw)
        if got is not None:
            return got
    if candidates is not None:
        raise InputError(
            "candidates need the default model (no --law), per-domain losses, enough "
            "pilot mixtures for its fold fits and, where a domain is the same in every run "
            "and candidate, no weight bounds"
        )
    law = law or "transfer"
    reps = replicates(table, budget, resamples, seed, law, **optimize_kw)
    mix = reps.mixture
    w0 = np.asarray(mix.weights, float)
    axes, spread = _axes(reps.weights)
    weights, reasons = _runs_along_axes(
        table, w0, mix, axes, spread, runs, min_step, max_step,
        f"the recommendation at budget {budget:g} ({law} law)",
    )
    weights = np.array(weights)
    out = _proposal_table(table, weights, budget)
    return Proposal(out, weights, tuple(reasons), spread)


def _from_the_default_model(table, budget, runs, seed, candidates, optimize_kw):
    """The proposal from the combined fit's posterior (or, before a law can be fitted, runs
    that vary the design); None where the fit has no fold fits to weigh."""
    from jaxmix.study.posterior_runs import (
        posterior_proposal,
        too_few_runs,
        unlocking_proposal,
    )

    if too_few_runs(measured_runs(table)[0], budget, candidates):
        weights, reasons = unlocking_proposal(table, budget, runs, seed, candidates)
        out = _proposal_table(table, weights, budget)
        return Proposal(out, weights, tuple(reasons), np.zeros(0), None)
    weights, reasons, p_best = posterior_proposal(
        table, budget, runs, seed, candidates, optimize_kw
    )
    if weights is None:
        return None
    return Proposal(_proposal_table(table, weights, budget), weights, tuple(reasons),
                    np.zeros(0), p_best)


def _checked_candidates(candidates, k: int) -> np.ndarray:
    """``[J, K]`` candidate mixtures: finite, non-negative, rows summing to one."""
    c = np.asarray(candidates, float)
    if c.ndim != 2 or c.shape[1] != k or len(c) == 0:
        raise InputError(f"candidates must be a [J, {k}] array of mixtures, got shape {c.shape}")
    if not np.all(np.isfinite(c)) or np.any(c < 0) or not np.allclose(c.sum(axis=1), 1, atol=1e-6):
        raise InputError("candidate mixtures must be non-negative shares that sum to one")
    return c


def _runs_along_axes(table, w0, mix, axes, spread, runs, min_step, max_step, first: str):
    """``(weights [runs][K], reasons)``: ``w0`` (reason ``first``), then pairs of moves
    along the uncertain axes in turn, longer on each round, inside the mixture's bounds."""
    weights = [w0]
    reasons = [first]
    a = 0
    while len(weights) < runs:
        axis = axes[a % len(axes)] if len(axes) else np.eye(len(w0))[0] - 1.0 / len(w0)
        sd = spread[a % len(axes)] if len(axes) else 0.0
        step = float(np.clip(2.0 * sd, min_step, max_step)) * (1 + a // max(len(axes), 1))
        for sign in (+1.0, -1.0):
            if len(weights) == runs:
                break
            w, t = _move(w0, sign * axis, step, mix.lower, mix.upper)
            if t == 0.0:
                continue
            direction = ", ".join(
                f"{d} {x:+.3f}" for d, x in zip(table.domains, w - w0) if abs(x) >= 5e-4
            )
            reasons.append(
                f"moved along uncertain axis {a % max(len(axes), 1) + 1} "
                f"(bootstrap sd {sd:.3f}): {direction}"
            )
            weights.append(w)
        a += 1
        if a > 4 * len(w0):
            break
    return weights, reasons


def _proposal_table(table: PilotTable, weights, budget: float) -> PilotTable:
    """The proposed runs as a pilot table (whole amounts when the pilots' are) with empty
    losses, named ``next<i>`` after the ids the pilots already use."""
    integral = bool(np.all(np.mod(table.amounts, 1) == 0)) and float(budget).is_integer()
    amounts = np.array(
        [whole_amounts(w, budget) if integral else w * budget for w in weights], float
    )
    names, i = [], 0
    while len(names) < len(weights):  # ids not already in the pilots (loops append)
        i += 1
        if f"next{i}" not in table.runs:
            names.append(f"next{i}")
    names = tuple(names)
    empty = {name: np.full(len(names), np.nan) for name in table.losses}
    out = PilotTable(
        domains=table.domains,
        runs=names,
        amounts=amounts,
        losses=empty,
        seeds=None if table.seeds is None else np.zeros(len(names), np.int64),
    )
    return out
