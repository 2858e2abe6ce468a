"""The mixture for a target objective: the law's optimum, or a candidate, against the best run.

The target law's objective is convex in the weights (:mod:`jaxmix.laws.targets`); its
minimizer over the simplex comes from damped Newton on softmax logits, restarted from
uniform and from the best observed run, then polished by entropic mirror descent until the
Frank-Wolfe gap certifies it.

The decision is the one of :mod:`jaxmix.optimization.decision`, in the objective's own units:
each candidate (the path from the best observed run toward the optimum, or the mixtures a
user gives) has a predicted gain over the best observed run and a grouped-jackknife standard
error from the fold fits, combined with the law's out-of-fold error in ranking a held-out run
against the best run (``TargetFit.diff_rmse``); the candidate with the largest lower bound
``gain - Z * se`` is chosen when that bound is positive, else the best observed run is kept.
A candidate with a share beyond the runs' largest share of its domain (plus ``COVER_SLACK``)
is an extrapolation the runs cannot check: its gain is reported but it is never chosen (on
Olmix's swarms the law's best candidate is most often such an extreme mixture, and worse than
the best run).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix import aot
from jaxmix.fitting.newton import minimize
from jaxmix.fitting.targets import TargetFit
from jaxmix.laws.targets import objective, predict
from jaxmix.optimization.decision import MIN_FOLDS, PATH, Z, _p_beats
from jaxmix.status import InputError, Status

COVER_SLACK = 0.05  # no choice has a share above the runs' largest share + this


class TargetChoice(NamedTuple):
    """What to train for a target objective, and how sure the runs make it.

    Attributes:
      action: ``"move"`` (the law's optimum), ``"shrink"`` (part way to it), ``"candidate"``
        (one of the given mixtures) or ``"keep"`` (the best observed run).
      weights: ``[K]`` the recommendation; index: its candidate index (-1: keep).
      best_run: row of the best observed run; best_weights: ``[K]`` its mixture.
      optimum: ``[K]`` the law's optimum; fw_gap: its relative Frank-Wolfe gap; status.
      candidates: ``[J, K]``; gain: ``[J]`` predicted objective decrease over the best run
        (objective units); gain_se: its standard error; p_beats: ``[J]`` P(gain > 0).
      covered: ``[J]`` bool, no share of the candidate passes the runs' largest share of its
        domain by more than ``COVER_SLACK`` (only covered candidates can be chosen).
      predicted: ``[T]`` predicted targets at the recommendation; predicted_objective.
      observed_best: the best run's observed objective.
      optimum_gain, optimum_gain_se: the law's optimum's predicted gain over the best run.
      given_up: with a stay-near penalty, the unpenalized optimum's predicted gain minus the
        penalized one's (objective units); NaN without one.
      line: one plain sentence.
    """

    action: str
    weights: np.ndarray
    index: int
    best_run: int
    best_weights: np.ndarray
    optimum: np.ndarray
    fw_gap: float
    status: int
    candidates: np.ndarray
    gain: np.ndarray
    gain_se: np.ndarray
    p_beats: np.ndarray
    covered: np.ndarray
    predicted: np.ndarray
    predicted_objective: float
    observed_best: float
    optimum_gain: float
    optimum_gain_se: float
    given_up: float
    line: str


NEAR_FLOOR = 1e-6  # smallest share of the stay-near reference mixture
GAP_TOL = 1e-9  # Frank-Wolfe gap, relative to 1 + |F|, at which the optimum is certified
MD_STEPS = 20000  # cap of the mirror-descent polish (each step is one gradient)
NEWTON_STEPS = 100  # cap of each damped-Newton run (the starts and the final polish)


def stay_near_penalty(weights, near, strength):
    """``strength * KL(weights || near)``, convex in ``weights [..., K]`` (``near [K] > 0``).

    >>> float(stay_near_penalty(jnp.array([0.5, 0.5]), jnp.array([0.5, 0.5]), 3.0))
    0.0
    """
    w = jnp.maximum(weights, 1e-30)  # finite gradient on a face
    return strength * jnp.sum(weights * (jnp.log(w) - jnp.log(near)), axis=-1)


@jax.jit
def _optimum(params, signs, coef, starts, near, strength):
    """``(weights [K], objective, status, fw_gap)`` of the objective plus
    :func:`stay_near_penalty` (``strength`` 0: none): damped Newton on softmax logits from
    each of ``starts [S, K]``, then entropic mirror descent from the best (a face of the
    simplex, where the logits saturate, stalls Newton but not the multiplicative steps)
    until the Frank-Wolfe gap is below ``GAP_TOL``, then Newton once more from its point
    (kept when its gap is smaller); status MAX_STEPS if the gap is never below ``GAP_TOL``."""
    def f(w):
        return objective(params, signs, coef, w) + stay_near_penalty(w, near, strength)

    def one(z0):
        r = minimize(lambda z: f(jax.nn.softmax(z)), z0, max_steps=NEWTON_STEPS, gtol=0.0,
                     rtol=1e-14, xtol=1e-10)
        return jax.nn.softmax(r.params), r.value

    w, v = jax.vmap(one)(starts)
    i = jnp.argmin(jnp.where(jnp.isfinite(v), v, jnp.inf))
    k = starts.shape[1]

    def gap_of(x):
        g = jax.grad(f)(x)
        return g, (g @ x - jnp.min(g)) / (1.0 + jnp.abs(f(x)))

    # Newton's point when it is certified already (an interior optimum, as the stay-near
    # penalty makes it), else off the faces, so that every share can grow again.
    w0 = jnp.where(gap_of(w[i])[1] <= GAP_TOL, w[i], 0.999 * w[i] + 0.001 / k)

    def cond(c):
        x, eta, step, gap = c
        return (gap > GAP_TOL) & (step < MD_STEPS)

    def body(c):
        x, eta, step, _ = c
        g, _ = gap_of(x)
        y = x * jnp.exp(-eta * (g - jnp.min(g)))
        y = y / jnp.sum(y)
        ok = f(y) <= f(x)
        x = jnp.where(ok, y, x)
        eta = jnp.where(ok, eta * 1.5, eta * 0.5)
        return x, eta, step + 1, gap_of(x)[1]

    dt = starts.dtype
    x, _, step, gap = jax.lax.while_loop(
        cond, body, (w0, jnp.asarray(1.0, dt), jnp.asarray(0), gap_of(w0)[1]))
    # Newton again from mirror descent's point: where mirror descent crawls (an interior
    # optimum with tiny shares, as the stay-near penalty makes it) it converges in a few steps.
    polished = one(jnp.log(jnp.maximum(x, 1e-300)))[0]
    p_gap = gap_of(polished)[1]
    better = p_gap < gap
    x, gap = jnp.where(better, polished, x), jnp.where(better, p_gap, gap)
    status = jnp.where(gap <= GAP_TOL, Status.SUCCESS, Status.MAX_STEPS).astype(jnp.int32)
    return x, f(x), status, gap


@jax.jit
def _objectives(params, fold_params, signs, coef, points):
    """``([J], [F, J], [J, T], [F, J, T])``: objective of the full fit and of each fold's
    fit at ``points [J, K]``, and their targets there."""
    full = objective(params, signs, coef, points)
    folds = jax.vmap(lambda p: objective(p, signs, coef, points))(fold_params)
    fold_targets = jax.vmap(lambda p: predict(p, signs, points))(fold_params)
    return full, folds, predict(params, signs, points), fold_targets


def evaluate(fit: TargetFit, points):
    """``(objective [J], fold objectives [F, J], targets [J, T], fold targets [F, J, T])`` of
    the fit at mixtures ``points [J, K]``."""
    obj = fit.objective
    return tuple(np.asarray(a, float) for a in jax.device_get(aot.call(
        _objectives, "target_objectives", _dt(fit.params), _dt(fit.fold_params),
        _dt(obj.signs), _dt(obj.weights), _dt(np.asarray(points, float)),
    )))


def gains(fit: TargetFit, f_full, f_folds):
    """``(gain [J - 1], se [J - 1])`` of points 1.. over point 0 (the best run): the grouped
    jackknife of the fold fits combined with the law's out-of-fold ranking error."""
    g, se = _gain_se(f_full, f_folds)
    if np.isfinite(fit.diff_rmse):  # the fold fits' spread misses the law's own error
        se = np.sqrt(se**2 + fit.diff_rmse**2)
    return g, se


def p_beats(gain, se) -> np.ndarray:
    """``[J]`` P(gain > 0) of each ``gain [J]`` under a normal with standard error ``se``."""
    return np.array([_p_beats(a, b) for a, b in zip(gain, se)])


def covered_by_runs(fit: TargetFit, points) -> np.ndarray:
    """``[J]`` whether no share of ``points [J, K]`` passes the runs' largest share of its
    domain by more than ``COVER_SLACK``."""
    top = fit.weights.max(axis=0)
    return np.all(np.asarray(points) <= top + COVER_SLACK + 1e-9, axis=1)


def _dt(tree):
    dt = jnp.result_type(float)
    return jax.tree.map(lambda x: jnp.asarray(x, dt), tree)


def near_weights(near, k: int) -> np.ndarray:
    """``[K]`` the reference mixture of the stay-near penalty, floored at ``NEAR_FLOOR`` and
    renormalized (a zero share would forbid that domain outright); uniform when None."""
    if near is None:
        return np.full(k, 1.0 / k)
    w = np.asarray(near, float)
    if w.shape != (k,) or np.any(~np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise InputError(f"--stay-near: need {k} shares >= 0 with a positive sum")
    w = np.maximum(w / w.sum(), NEAR_FLOOR)
    return w / w.sum()


def solve_targets(fit: TargetFit, near=None, strength: float = 0.0):
    """``(weights [K], fw_gap, status)`` of the law's optimum over the simplex, with
    ``strength * KL(w || near)`` added when ``strength > 0``."""
    obj = fit.objective
    k = len(fit.domains)
    best = best_run(fit)
    start = np.log(np.maximum(fit.weights[best], 1e-3)) if best is not None else np.zeros(k)
    starts = np.stack([np.zeros(k), start - start.mean()])
    w, _, status, gap = jax.device_get(aot.call(
        _optimum, "target_optimum", _dt(fit.params), _dt(obj.signs), _dt(obj.weights),
        _dt(starts), _dt(near_weights(near, k)), _dt(np.asarray(strength, float)),
    ))
    return np.asarray(w, float), float(gap), int(status)


def best_run(fit: TargetFit):
    """Row of the run with the best observed objective (every target measured), or None."""
    value = fit.objective.value(np.nan_to_num(fit.values, nan=np.inf))
    value = np.where(np.all(np.isfinite(fit.values), axis=1), value, np.inf)
    return int(np.argmin(value)) if np.isfinite(value).any() else None


def choose(fit: TargetFit, candidates=None, z: float = Z, names=None, near=None,
           strength: float = 0.0) -> TargetChoice:
    """Recommend a mixture for the fit's objective (see the module docstring).

    ``candidates [J, K]`` (weights): choose among them and the best observed run instead of
    the path toward the law's optimum; ``names``: their names, for the sentence.
    ``strength > 0``: the optimum (and the path to it) minimizes the objective plus
    ``strength * KL(w || near)`` (``near [K]``, default uniform); ``given_up`` is the
    predicted gain the penalty costs at the optimum.
    """
    if not (np.isfinite(strength) and strength >= 0):
        raise InputError(f"--strength must be >= 0, got {strength}")
    optimum, gap, status = solve_targets(fit, near, strength)
    free = solve_targets(fit)[0] if strength > 0 else optimum
    best = best_run(fit)
    if best is None:
        raise InputError("no run has every target of the objective measured",
                         column=",".join(fit.objective.columns))
    ref = fit.weights[best]
    given = candidates is not None
    reach = 1.0 if given else covered_fraction(ref, optimum, fit.weights.max(axis=0))
    cand = (np.asarray(candidates, float) if given
            else np.stack([ref + reach * t * (optimum - ref) for t in PATH[1:]]))
    obj = fit.objective
    f_full, f_folds, pred, _ = evaluate(
        fit, np.vstack([ref[None], cand, optimum[None], free[None]]))
    g_all, se_all = gains(fit, f_full, f_folds)
    g, se = g_all[:-2], se_all[:-2]
    covered = covered_by_runs(fit, cand)
    lcb = np.where(np.isfinite(g) & covered, g - z * se, -np.inf)
    j = int(np.argmax(lcb))
    few = fit.held.shape[0] < MIN_FOLDS
    index = j if (lcb[j] > 0 and not few) else -1
    action = ("keep" if index < 0 else "candidate" if given
              else "shrink" if index < len(PATH) - 2 or reach < 1 else "move")
    weights = ref if index < 0 else cand[index]
    p = p_beats(g, se)
    observed = float(obj.value(fit.values[best]))
    return TargetChoice(
        action=action, weights=weights, index=index, best_run=best, best_weights=ref,
        optimum=optimum, fw_gap=gap, status=status, candidates=cand, gain=g, gain_se=se,
        p_beats=p, covered=covered, predicted=pred[index + 1],
        predicted_objective=float(f_full[index + 1]),
        observed_best=observed, optimum_gain=float(g_all[-2]),
        optimum_gain_se=float(se_all[-2]),
        given_up=float(g_all[-1] - g_all[-2]) if strength > 0 else float("nan"),
        line=_line(action, g, se, index, j, observed, few,
                   None if names is None or index < 0 else str(names[index]),
                   int(np.sum(~covered))),
    )


def covered_fraction(ref, optimum, top, slack: float = COVER_SLACK) -> float:
    """Largest ``t`` in [0, 1] such that no share of ``ref + t (optimum - ref)`` passes the
    runs' largest share of its domain ``top [K]`` by more than ``slack``.

    >>> covered_fraction(np.array([0.5, 0.5]), np.array([1.0, 0.0]), np.array([0.6, 0.7]))
    0.3
    """
    up = optimum - ref
    room = np.maximum(top + slack - ref, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(up > 1e-12, room / up, np.inf)
    return round(float(np.clip(t.min(), 0.0, 1.0)), 12)


def _gain_se(f_full, f_folds):
    """Gain of points 1.. over point 0 and its grouped-jackknife standard error."""
    return f_full[0] - f_full[1:], jackknife_se(f_folds[:, :1] - f_folds[:, 1:])


def jackknife_se(values) -> np.ndarray:
    """``[...]`` grouped-jackknife standard error of the fold fits' ``values [F, ...]`` (folds
    with a non-finite value are dropped; inf with fewer than 2 left)."""
    v = np.asarray(values, float)
    v = v[np.all(np.isfinite(v.reshape(len(v), -1)), axis=1)]
    nf = len(v)
    if nf < 2:
        return np.full(np.shape(values)[1:], np.inf)
    return np.sqrt((nf - 1) / nf * np.sum((v - v.mean(axis=0)) ** 2, axis=0))


def _line(action, g, se, index, j, observed, few, name=None, outside=0) -> str:
    rel = lambda x: 100 * x / max(abs(observed), 1e-30)  # noqa: E731
    if few:
        return ("keep the best observed run: too few distinct mixtures to tell how certain "
                "the law's optimum is")
    beyond = (f"{outside} of {len(g)} candidates have a share beyond the runs' largest "
              f"(+{COVER_SLACK:g}), where the law is unchecked")
    if outside == len(g):
        return ("keep the best observed run: every candidate has a share beyond the runs' "
                f"largest (+{COVER_SLACK:g}), where the law is unchecked")
    note = f"; {beyond} and were not chosen" if outside else ""
    if action == "keep":
        return (f"keep the best observed run: the best alternative is predicted "
                f"{rel(g[j]):+.2f}% of the objective better (+/- {rel(se[j]):.2f}%), which "
                f"the runs do not support{note}")
    what = {"move": "the law's optimum",
            "shrink": "part way toward the law's optimum (as far as the runs cover)",
            "candidate": f"candidate {name or index + 1}"}[action]
    return (f"train {what}: predicted {rel(g[index]):+.2f}% of the objective better than the "
            f"best observed run (+/- {rel(se[index]):.2f}%){note}")
