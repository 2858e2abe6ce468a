"""The decision: train the model's optimum, part of the way to it, or the safe mixture.

The fold fits of the combined fit (:mod:`jaxmix.fitting.stacking`) are a grouped jackknife
of the whole fit. For candidate mixtures c (the path from the safe mixture ``s`` to the
optimum, or given candidates) the predicted gain ``G(c) = F(s) - F(c)`` gets a jackknife
standard error; the recommendation is the candidate with the largest lower confidence bound
``G - z se`` when it is positive, else the safe mixture. The safe mixture is the best observed
pilot at the budget when several pilots share it, else uniform. ``P(beats)`` is the normal
probability ``Phi(G / se)``.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix import aot
from jaxmix.fitting.combined import stored_combination
from jaxmix.fitting.result import FitResult
from jaxmix.fitting.stacking import Combination, ensemble_params, fold_ensembles, proportion_groups
from jaxmix.laws.registry import get_law

Z = 1.0  # lower confidence bound of the gain: G - Z * se (about 84% one-sided)
PATH = (0.0, 0.25, 0.5, 0.75, 1.0)
MIN_FOLDS = 5  # fewer held-out folds cannot estimate the uncertainty: keep the safe mixture


class Decision(NamedTuple):
    """What to train, and how sure the pilots make it.

    Attributes:
      action: ``"move"`` (the model's optimum), ``"shrink"`` (part way from the safe
        mixture to the optimum), ``"keep"`` (the safe mixture).
      weights: ``[K]`` the recommended mixture.
      index: index of the chosen candidate (``-1``: the safe mixture).
      safe: ``[K]`` the safe mixture; safe_kind: ``"best pilot"`` or ``"uniform"``.
      gain_pct: ``[J]`` predicted gain of each candidate over the safe mixture (% of its
        predicted objective); gain_se_pct: its jackknife standard error.
      p_beats_safe: ``[J]`` probability each candidate beats the safe mixture.
      p_beats_uniform: probability the recommendation beats uniform; gain_uniform_pct and
        its standard error.
      p_beats_best_pilot, gain_best_pilot_pct: the same against the best observed pilot at
        the budget (NaN without one).
      cv_error_pct: the combination's out-of-fold relative error (%).
      line: one plain sentence.
    """

    action: str
    weights: np.ndarray
    index: int
    safe: np.ndarray
    safe_kind: str
    gain_pct: np.ndarray
    gain_se_pct: np.ndarray
    p_beats_safe: np.ndarray
    p_beats_uniform: float
    gain_uniform_pct: float
    p_beats_best_pilot: float
    gain_best_pilot_pct: float
    cv_error_pct: float
    line: str


@functools.partial(jax.jit, static_argnames="law_name")
def _objectives(params, fold_params, weights, budget, importance, *, law_name):
    """``([J], [F, J])`` predicted objectives at ``weights [J, K]``: the full fit and each
    fold's fit."""
    law = get_law(law_name)

    def obj(p):  # a domain outside the objective (no validation set: NaN law) adds nothing
        def one(w):
            pred = law.predict_weights(p, w, budget)
            return jnp.sum(jnp.where(importance > 0, importance * pred, 0.0))

        return jax.vmap(one)(weights)

    return obj(params), jax.vmap(obj)(fold_params)


def _phi(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0))) if np.isfinite(x) else float(x > 0)


def objectives(comb: Combination, k, points, budget, importance):
    """``([J], [F, J])`` predicted objectives at ``points [J, K]``: the combination's full
    fit and each fold's fit (one compiled call)."""
    name, full = ensemble_params(comb, k)
    _, folds = fold_ensembles(comb, k)
    dt = jnp.result_type(float)
    f_full, f_folds = jax.device_get(
        aot.call(
            _objectives,
            "ensemble_objectives",
            jax.tree.map(lambda x: jnp.asarray(x, dt), full),
            jax.tree.map(lambda x: jnp.asarray(x, dt), folds),
            jnp.asarray(points, dt),
            jnp.asarray(budget, dt),
            jnp.asarray(importance, dt),
            law_name=name,
        )
    )
    return np.asarray(f_full), np.asarray(f_folds)


def gain_stats(f_full, f_folds, ref: int, cols):
    """Predicted gain of the points ``cols`` over point ``ref`` (a fraction of the
    reference's predicted objective) and its grouped-jackknife standard error."""
    cols = np.asarray(cols)
    g = (f_full[ref] - f_full[cols]) / f_full[ref]
    gf = (f_folds[:, ref : ref + 1] - f_folds[:, cols]) / f_folds[:, ref : ref + 1]
    ok = np.all(np.isfinite(gf), axis=1)
    if ok.sum() < 2:
        return g, np.full_like(g, np.inf)
    gf = gf[ok]
    nf = len(gf)
    se = np.sqrt((nf - 1) / nf * np.sum((gf - gf.mean(axis=0)) ** 2, axis=0))
    return g, se


def gains(comb: Combination, k, candidates, reference, budget, importance):
    """Predicted gain over ``reference [K]`` of each of ``candidates [J, K]`` and its
    grouped-jackknife standard error."""
    w = np.vstack([np.asarray(reference, float)[None], np.asarray(candidates, float)])
    f_full, f_folds = objectives(comb, k, w, budget, importance)
    return gain_stats(f_full, f_folds, 0, np.arange(1, len(w)))


def best_pilot(amounts, y, importance, budget, rtol: float = 1e-6):
    """``(weights [K], row)`` of the best observed pilot whose total equals ``budget`` when at
    least two distinct mixtures share it, else ``(None, None)``."""
    amounts, y = np.asarray(amounts, float), np.asarray(y, float)
    tot = amounts.sum(axis=1)
    at = np.isclose(tot, budget, rtol=rtol) & np.all(np.isfinite(y[:, importance > 0]), axis=1)
    if len(np.unique(proportion_groups(amounts)[at])) < 2:
        return None, None
    obj = np.where(at, np.nansum(np.where(importance > 0, y, 0.0) * importance, axis=1), np.inf)
    r = int(np.argmin(obj))
    return amounts[r] / tot[r], r


def decide(
    comb: Combination,
    amounts,
    y,
    budget,
    optimum,
    importance=None,
    candidates=None,
    z: float = Z,
) -> Decision:
    """Choose between the safe mixture and the model's candidates (default: the path from
    the safe mixture to ``optimum [K]``; given ``candidates [J, K]``, those, with the
    optimum appended last for its gain but never chosen) by the lower confidence bound of
    the gain."""
    amounts = np.asarray(amounts, float)
    k = amounts.shape[1]
    imp = np.ones(k) if importance is None else np.asarray(importance, float)
    uniform = np.full(k, 1.0 / k)
    given = candidates is not None
    pilot, safe, kind, candidates = _safe_and_candidates(
        amounts, y, imp, budget, optimum, candidates
    )
    if given:
        candidates = np.vstack([candidates, np.asarray(optimum, float)[None]])
    # One compiled evaluation: the safe mixture, the candidates, uniform, the best pilot.
    ref = safe if pilot is None else pilot
    pts = np.vstack([safe[None], candidates, uniform[None], ref[None]])
    f_full, f_folds = objectives(comb, k, pts, budget, imp)
    nc = len(candidates)
    g, se = _gain_and_se(f_full, f_folds, 0, np.arange(1, nc + 1), comb.diff_err,
                         np.abs(candidates - safe).sum(axis=1))
    lcb = np.where(np.isfinite(g), g - z * se, -np.inf)
    j = int(np.argmax(lcb[:-1] if given else lcb))
    few = comb.held.shape[0] < MIN_FOLDS
    if lcb[j] > 0 and not few:
        weights, index = candidates[j], j
    else:
        weights, index = safe, -1
    action = _action(index, given)
    # Against uniform and the best pilot: gain of the recommendation, by the same rule.
    gu, p_unif, gain_best, p_best = _against_references(
        f_full, f_folds, pts, nc, index, pilot, comb.diff_err
    )
    p_safe = np.array([_p_beats(a, b) for a, b in zip(g, se)])
    cv = 100 * comb.combined_error
    line = _line(action, kind, g, se, j, index, given, cv)
    if few:
        line = _too_few_line(kind, comb.held.shape[0], g)
    return Decision(
        action=action,
        weights=np.asarray(weights, float),
        index=index,
        safe=safe,
        safe_kind=kind,
        gain_pct=100 * g,
        gain_se_pct=100 * se,
        p_beats_safe=p_safe,
        p_beats_uniform=float(p_unif),
        gain_uniform_pct=float(100 * gu[0]),
        p_beats_best_pilot=float(p_best),
        gain_best_pilot_pct=float(100 * gain_best),
        cv_error_pct=cv,
        line=line,
    )


def _safe_and_candidates(amounts, y, imp, budget, optimum, candidates):
    """``(best pilot or None, safe mixture, its kind, candidates [J, K])``; the default
    candidates are the path from the safe mixture to ``optimum``."""
    k = amounts.shape[1]
    uniform = np.full(k, 1.0 / k)
    pilot, _ = best_pilot(amounts, y, imp, budget)
    safe, kind = (pilot, "best pilot") if pilot is not None else (uniform, "uniform")
    optimum = np.asarray(optimum, float)
    if candidates is None:
        candidates = np.stack([safe + t * (optimum - safe) for t in PATH[1:]])
    return pilot, safe, kind, np.asarray(candidates, float)


def _too_few_line(kind: str, folds: int, g) -> str:
    return (
        f"keep the {kind}: {folds} distinct pilot mixtures are too few to "
        f"tell how certain the model's optimum is (predicted {100 * g[-1]:+.2f}%); run "
        "`jaxmix next` for runs that can settle it"
    )


def _action(index: int, given: bool = False) -> str:
    """``"keep"`` (the safe mixture), ``"shrink"`` (part of the default path) or ``"move"``
    (to the optimum, or to one of the ``given`` candidates)."""
    if index < 0:
        return "keep"
    if not given and index < len(PATH) - 2:
        return "shrink"
    return "move"


def _gain_and_se(f_full, f_folds, ref: int, cols, diff_err: float, distance):
    """Gain of the points ``cols`` over point ``ref`` and its standard error: the grouped
    jackknife's, plus the model's held-out error of a difference between two mixtures
    (``diff_err``, scaled by half the L1 ``distance`` between them; the bias cancels)."""
    g, se = gain_stats(f_full, f_folds, ref, cols)
    e_diff = diff_err * 0.5 * np.asarray(distance, float)
    return g, np.sqrt(se**2 + e_diff**2)


def _p_beats(gain: float, se: float) -> float:
    """``P(gain > 0)`` under a normal with that standard error."""
    return _phi(gain / se) if se > 0 else float(gain > 0)


def _against_references(f_full, f_folds, pts, nc: int, index: int, pilot, diff_err):
    """Gain of the recommendation (candidate ``index``, or the safe mixture when it is -1)
    over uniform (point ``nc + 1``) and the best pilot (``nc + 2``), with the candidates'
    standard error rule: ``(gain vs uniform [1], P(beats uniform), gain vs best pilot,
    P(beats best pilot))``; a probability is NaN where the recommendation is that mixture."""
    rec = 0 if index < 0 else index + 1

    def against(ref: int):
        dist = np.abs(pts[rec] - pts[ref]).sum()
        g, se = _gain_and_se(f_full, f_folds, ref, [rec], diff_err, [dist])
        return g, (float("nan") if dist < 1e-9 else _p_beats(g[0], se[0]))

    gu, p_unif = against(nc + 1)
    gain_best, p_best = float("nan"), float("nan")
    if pilot is not None:
        gb, p_best = against(nc + 2)
        gain_best = gb[0]
    return gu, p_unif, gain_best, p_best


def _pm(se: float) -> str:
    """A gain's standard error for the line: ``+/- 0.10%``; past 100% the fold fits
    disagree too much for the number to mean more.

    >>> _pm(0.001), _pm(202.4)
    ('+/- 0.10%', '+/- over 100%: the fold fits disagree')
    """
    if not np.isfinite(se) or se > 1.0:
        return "+/- over 100%: the fold fits disagree"
    return f"+/- {100 * se:.2f}%"


def _line(action, kind, g, se, j, index, given, cv) -> str:
    opt = len(g) - 1
    if action == "keep" and given:
        return (
            f"keep the {kind}: the best candidate is predicted {100 * g[j]:+.2f}% better "
            f"({_pm(se[j])}, held-out error {cv:.2f}%), which the pilots do not support"
        )
    if action == "keep":
        return (
            f"keep the {kind}: the model's optimum is predicted {100 * g[opt]:+.2f}% better "
            f"({_pm(se[opt])}, held-out error {cv:.2f}%), which the pilots do not "
            f"support; run `jaxmix next` for runs that can settle it"
        )
    if action == "shrink":
        return (
            f"move part way from the {kind} toward the model's optimum: predicted "
            f"{100 * g[index]:+.2f}% ({_pm(se[index])}); the full move is less certain"
        )
    return (
        f"train the {'chosen candidate' if given else 'recommended mixture'}: predicted "
        f"{100 * g[index]:+.2f}% better than the "
        f"{kind} ({_pm(se[index])}, held-out error {cv:.2f}%)"
    )


def decision_for(fit: FitResult, optimum, budget, importance, lower, upper,
                 candidates=None) -> dict | None:
    """The decision for a combination fit's optimum (or among ``candidates [J, K]``, all
    within the bounds), JSON-ready; None without fold fits. ``"candidate"`` is the index
    of the chosen candidate (None: the safe mixture, or no candidates given)."""
    stored = stored_combination(fit)
    if stored is None:
        return None
    comb, amounts, y = stored
    k = len(fit.domains)
    imp = np.asarray(importance, float)
    d = decide(comb, amounts, y, budget, optimum, imp, candidates)
    inside = lambda w: bool(np.all(w >= lower - 1e-9) and np.all(w <= upper + 1e-9))  # noqa: E731
    if not inside(d.safe) and candidates is not None:
        j = int(np.nanargmax(d.gain_pct[:-1]))
        d = d._replace(action="move", weights=np.asarray(candidates[j], float), index=j,
                       line=f"train the candidate predicted best (the {d.safe_kind} is "
                       "outside the given bounds, so there is nothing safer to compare with)")
    elif not inside(d.safe):
        # The safe mixture breaks the user's bounds: no safe alternative to weigh.
        d = d._replace(action="move", weights=np.asarray(optimum, float), index=len(PATH) - 2,
                       line=f"train the recommended mixture (the {d.safe_kind} is outside the "
                       "given bounds, so there is nothing safer to compare with)")
    per = lambda v: dict(zip(fit.domains, np.asarray(v, float).tolist()))  # noqa: E731
    opt = len(d.gain_pct) - 1
    return {
        "action": d.action,
        "line": d.line,
        "weights": per(d.weights),
        "optimum": per(optimum),
        "safe": {"kind": d.safe_kind, "weights": per(d.safe)},
        "p_beats_safe": float(d.p_beats_safe[max(d.index, 0)]) if d.index >= 0 else None,
        "optimum_gain_pct": float(d.gain_pct[opt]),
        "optimum_gain_se_pct": float(d.gain_se_pct[opt]),
        "optimum_p_beats_safe": float(d.p_beats_safe[opt]),
        "p_beats_uniform": None if not np.isfinite(d.p_beats_uniform) else d.p_beats_uniform,
        "expected_gain_vs_uniform_pct": d.gain_uniform_pct,
        "p_beats_best_pilot": None if not np.isfinite(d.p_beats_best_pilot)
        else d.p_beats_best_pilot,
        "expected_gain_vs_best_pilot_pct": None if not np.isfinite(d.gain_best_pilot_pct)
        else d.gain_best_pilot_pct,
        "held_out_error_pct": d.cv_error_pct,
        "candidate": d.index if candidates is not None and d.index >= 0 else None,
        "z": Z,
        "k": k,
    }


def path_fraction(decision: dict | None, domains, weights) -> float:
    """How far ``weights [K]`` go from the decision's safe mixture toward its optimum: 0
    (keep) to 1 (move); 1 without a decision."""
    if not decision:
        return 1.0
    safe = np.array([decision["safe"]["weights"][d] for d in domains])
    step = np.array([decision["optimum"][d] for d in domains]) - safe
    if float(step @ step) < 1e-18:
        return 0.0
    return float(np.clip((np.asarray(weights, float) - safe) @ step / (step @ step), 0.0, 1.0))


def decision_lines(decision: dict) -> list[str]:
    """The decision as terminal lines: the plain sentence, then the probabilities."""
    out = [f"decision ({decision['action']}): {decision['line']}"]
    probs = []
    if decision.get("p_beats_best_pilot") is not None:
        probs.append(
            f"P(beats the best pilot) {decision['p_beats_best_pilot']:.2f}, expected gain "
            f"{decision['expected_gain_vs_best_pilot_pct']:+.2f}%"
        )
    if decision.get("p_beats_uniform") is not None:  # None: the recommendation is uniform
        probs.append(
            f"P(beats uniform) {decision['p_beats_uniform']:.2f}, expected gain "
            f"{decision['expected_gain_vs_uniform_pct']:+.2f}%"
        )
    probs.append(
        f"the optimum {_fmt_w(decision['optimum'])}: P(beats the {decision['safe']['kind']}) "
        f"{decision['optimum_p_beats_safe']:.2f}"
    )
    return out + ["  " + p for p in probs]


def _fmt_w(w: dict) -> str:
    return "(" + ", ".join(f"{d} {v:.3f}" for d, v in w.items()) + ")"
