"""The default recommendation: combine the law families by out-of-fold performance, then
decide whether the pilots' evidence supports moving away from the safe mixture.

**Combination.** Every candidate law is refitted on cross-validation folds of the pilots
(leave-one-mixture-out, or k-fold on large swarms), all folds of one law in one batched
call (``fit_many`` vmapped over observation weights, as ``validate`` does). The out-of-fold
predictions choose non-negative stacking weights that sum to one (least squares on relative
errors, over the simplex). The combination predicts ``sum_m a_m L_m(w)``: a convex
combination of convex laws, so its objective is convex and the Frank-Wolfe gap certifies
the optimum. It is a law like any other (``ensemble(transfer+mixing_law)`` in the
registry; ``"law": "ensemble"`` with its ``members`` in a fit file).

**Decision.** The fold fits are a grouped jackknife of the whole fit. For candidate
mixtures c (the path from the safe mixture ``s`` to the optimum, or given candidates) the
predicted gain ``G(c) = F(s) - F(c)`` gets a jackknife standard error; the recommendation is
the candidate with the largest lower confidence bound ``G - z se`` when it is positive, else
the safe mixture. The safe mixture is the best observed pilot at the budget when several
pilots share it, else uniform. ``P(beats)`` is the normal probability ``Phi(G / se)``.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix import _aot
from jaxmix._fitresult import FitResult, _predict
from jaxmix._joint import fit_many
from jaxmix._laws import Law, get_law, register, row_names

DEFAULT_LAWS = ("transfer", "mixing_law", "interference")
ENSEMBLE = "ensemble"
LOO_MAX = 16  # leave-one-mixture-out up to this many mixtures, else k-fold
KFOLD = 8
Z = 1.0  # lower confidence bound of the gain: G - Z * se (about 84% one-sided)
PATH = (0.0, 0.25, 0.5, 0.75, 1.0)
MIN_FOLDS = 5  # fewer held-out folds cannot estimate the uncertainty: keep the safe mixture
MIN_STACK = 1e-3  # members below this stacking weight are dropped


# ---------------------------------------------------------------------------------------------
# The combination as a law


class EnsembleParams(NamedTuple):
    """Parameters of a combination: ``stack [K, M]`` (rows sum to one) and each member's
    parameter pytree (leaves ``[K, ...]``)."""

    stack: jax.Array
    members: tuple


def ensemble_name(members) -> str:
    """Registry name of a combination, e.g. ``ensemble(transfer+mixing_law)``."""
    return f"{ENSEMBLE}({'+'.join(members)})"


def member_names(name: str) -> tuple[str, ...]:
    """Inverse of :func:`ensemble_name`."""
    return tuple(name[len(ENSEMBLE) + 1 : -1].split("+"))


def is_ensemble(name: str) -> bool:
    return name.startswith(ENSEMBLE + "(") and name.endswith(")")


def _unsupported(*_):
    raise NotImplementedError("a law combination is fitted by jaxmix.fit, not refitted directly")


def ensemble_law(name: str) -> Law:
    """Build the :class:`Law` of a combination (its optimum is certified by the
    Frank-Wolfe gap: convex members give a convex objective)."""
    laws = [get_law(m) for m in member_names(name)]

    def predict_amounts(params, amounts):
        out = [law.predict_amounts(p, amounts) for law, p in zip(laws, params.members)]
        return jnp.sum(params.stack * jnp.stack(out, axis=-1), axis=-1)

    def predict_weights(params, w, budget):
        out = [law.predict_weights(p, w, budget) for law, p in zip(laws, params.members)]
        return jnp.sum(params.stack * jnp.stack(out, axis=-1), axis=-1)

    def predict_domain(row, amounts, i):
        out = [law.predict_domain(p, amounts, i) for law, p in zip(laws, row.members)]
        return jnp.stack(out, axis=-1) @ row.stack

    return Law(
        name=name,
        param_names=(),
        predict_amounts=predict_amounts,
        predict_weights=predict_weights,
        predict_domain=predict_domain,
        penalty=lambda row: 0.0,
        separable=False,
        to_natural=lambda params: {},
        from_natural=_unsupported,
        unscale=_unsupported,
        init_grid=_unsupported,
        check_natural=lambda row: None,
        convex=all(law.convex for law in laws),
        convex_with_repetition=all(law.convex_with_repetition for law in laws),
    )


def ensure_registered(name: str) -> None:
    from jaxmix._laws import _REGISTRY

    if is_ensemble(name) and name not in _REGISTRY:
        register(ensemble_law(name))


# ---------------------------------------------------------------------------------------------
# Fold fits and stacking


class Combination(NamedTuple):
    """Out-of-fold fits of the candidate laws and their stacking weights.

    Attributes:
      laws: names of the laws that could be fitted (the members, before pruning).
      stack: ``[M]`` stacking weights over ``laws`` (sum to one).
      params: per law, the parameter pytree of the full fit (leaves ``[K, ...]``).
      fold_params: per law, the parameters of every fold fit (leaves ``[F, K, ...]``).
      held: ``[F, R]`` held-out runs of each fold.
      oof: ``[M, R, K]`` each law's out-of-fold predictions.
      cv_error: ``[M]`` each law's mean out-of-fold relative error; combined_error: the
        combination's.
      status: ``[M, F + 1, K]`` solver status (index 0: the full fit).
      skipped: ``{law: why}`` for laws with too few runs.
      diff_err: held-out error of the predicted objective difference between two pilots,
        relative to the objective, per unit of total-variation distance between them.
    """

    laws: tuple
    stack: np.ndarray
    params: tuple
    fold_params: tuple
    held: np.ndarray
    oof: np.ndarray
    cv_error: np.ndarray
    combined_error: float
    status: np.ndarray
    skipped: dict
    diff_err: float = 0.0


def proportion_groups(amounts) -> np.ndarray:
    """``[R]`` group ids: runs with the same proportions (replicates, checkpoints) share one."""
    w = amounts / amounts.sum(axis=1, keepdims=True)
    _, ids = np.unique(np.round(w, 9), axis=0, return_inverse=True)
    return ids.reshape(-1)


def cv_masks(groups, seed: int = 0) -> np.ndarray:
    """``[F, R]`` held-out masks: leave one group out (up to ``LOO_MAX`` groups), else
    ``KFOLD``-fold over groups."""
    n = int(groups.max()) + 1
    if n <= LOO_MAX:
        return np.stack([groups == g for g in range(n)])
    order = np.random.default_rng(seed).permutation(n)
    assign = np.empty(n, int)
    assign[order] = np.arange(n) % KFOLD
    return np.stack([assign[groups] == f for f in range(KFOLD)])


def fold_fits(amounts, y, law_name, masks, delta=None, prior=1.0):
    """Fit ``law_name`` with the runs of each mask held out (``masks [F, R]``; row 0 of the
    result is the fit on every run). Returns ``(params [F+1, ...], status [F+1, K],
    predictions [F+1, R, K])``."""
    dt = jnp.result_type(float)
    seen = np.isfinite(y)
    masks = np.concatenate([np.zeros((1, len(y)), bool), masks])
    weights = (seen[None] & ~masks[:, :, None]).astype(float)
    out = _aot.call(
        fit_many,
        "joint_fit",
        jnp.asarray(amounts, dt),
        jnp.asarray(np.broadcast_to(np.where(seen, y, 1.0), weights.shape), dt),
        jnp.asarray(weights, dt),
        jnp.asarray(0.0 if delta is None else delta, dt),  # 0: the fit's robust threshold
        jnp.asarray(prior, dt),
        law_name=law_name,
        strategy="screen",
        polish=4,
        diagnose=False,
    )
    params, status = jax.device_get((out.params, out.status))
    pred = np.asarray(
        _aot.call(
            _predict_many, "predict_many", params, jnp.asarray(amounts, dt), law_name=law_name
        )
    )
    return params, np.asarray(status), pred


@functools.partial(jax.jit, static_argnames="law_name")
def _predict_many(params, amounts, *, law_name):
    return jax.vmap(functools.partial(_predict, law_name=law_name), in_axes=(0, None))(
        params, amounts
    )


def simplex_lsq(a, b, steps: int = 2000) -> np.ndarray:
    """``argmin ||a x - b||^2`` over the probability simplex (accelerated projected
    gradient; ``a [N, M]``)."""
    m = a.shape[1]
    x = np.full(m, 1.0 / m)
    if m == 1:
        return x
    h = a.T @ a
    g0 = a.T @ b
    lip = max(np.linalg.eigvalsh(h).max(), 1e-300)
    y, t = x.copy(), 1.0
    for _ in range(steps):
        x_new = _project(y - (h @ y - g0) / lip)
        t_new = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
        y = x_new + (t - 1) / t_new * (x_new - x)
        if np.max(np.abs(x_new - x)) < 1e-12:
            x = x_new
            break
        x, t = x_new, t_new
    return x


def _project(v) -> np.ndarray:
    """Euclidean projection onto the probability simplex."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u)
    rho = np.nonzero(u * np.arange(1, len(v) + 1) > (css - 1))[0][-1]
    theta = (css[rho] - 1) / (rho + 1.0)
    return np.maximum(v - theta, 0.0)


def stacking_weights(oof, y, importance=None) -> np.ndarray:
    """``[M]`` simplex weights minimizing the squared relative out-of-fold error of the
    combined prediction (``oof [M, R, K]``, entries weighted by ``importance [K]``)."""
    seen = np.isfinite(y) & np.all(np.isfinite(oof), axis=0)
    imp = np.ones(y.shape[1]) if importance is None else np.asarray(importance, float)
    w = np.sqrt(np.broadcast_to(imp, y.shape)[seen])
    a = (oof[:, seen] / y[seen] - 1.0).T * w[:, None]  # [N, M] relative errors
    a = np.clip(a, -1.0, 1.0)  # a wild held-out prediction counts as a 100% error
    return simplex_lsq(a, np.zeros(len(w)))


def combine(
    amounts,
    y,
    laws=DEFAULT_LAWS,
    importance=None,
    groups=None,
    delta: float | None = None,
    seed: int = 0,
) -> Combination:
    """Fit every law on every cross-validation fold and stack their out-of-fold predictions.

    ``amounts [R, K]``, per-domain losses ``y [R, K]`` (NaN: not observed), ``groups [R]``
    (runs held out together; default: same proportions)."""
    amounts, y = np.asarray(amounts, float), np.asarray(y, float)
    groups = proportion_groups(amounts) if groups is None else np.asarray(groups)
    held = cv_masks(groups, seed)
    seen = np.isfinite(y)
    names, params, folds, oofs, statuses, skipped = [], [], [], [], [], {}
    k = amounts.shape[1]
    for name in laws:
        need = len(row_names(get_law(name), tuple(f"d{j}" for j in range(k)), 0))
        counts = (seen[None] & ~held[:, :, None]).sum(axis=1)  # [F, K]
        observed = seen.any(axis=0)
        if np.any(counts[:, observed] < need):
            skipped[name] = f"a fold leaves fewer than {need} runs for some domain"
            continue
        p, status, pred = fold_fits(amounts, y, name, held, delta)
        oof = np.full(y.shape, np.nan)
        for f, h in enumerate(held):
            oof[h] = pred[1 + f][h]
        names.append(name)
        params.append(jax.tree.map(lambda x: x[0], p))
        folds.append(jax.tree.map(lambda x: x[1:], p))
        oofs.append(oof)
        statuses.append(status)
    if not names:
        raise ValueError("no law can be cross-validated on these pilots (too few runs)")
    oof = np.stack(oofs)
    # A law whose held-out predictions fail anywhere is not stacked.
    usable = np.array([np.all(np.isfinite(o[seen])) for o in oof])
    stack = np.zeros(len(names))
    imp = np.ones(k) if importance is None else np.asarray(importance, float)
    if usable.any():
        stack[usable] = stacking_weights(oof[usable], y, imp)
    else:
        stack[:] = 1.0 / len(names)
    stack = np.where(stack < MIN_STACK, 0.0, stack)
    stack /= stack.sum()
    errs = np.array([_rel_error(o, y) for o in oof])
    comb = np.tensordot(stack, np.where(np.isfinite(oof), oof, 0.0), 1)
    d_err = diff_error(stack, np.where(np.isfinite(oof), oof, 0.0), y, amounts, imp)
    return Combination(
        laws=tuple(names),
        stack=stack,
        params=tuple(params),
        fold_params=tuple(folds),
        held=held,
        oof=oof,
        cv_error=errs,
        combined_error=_rel_error(comb, y),
        status=np.stack(statuses),
        skipped=skipped,
        diff_err=d_err,
    )


def _rel_error(pred, y) -> float:
    m = np.isfinite(y) & np.isfinite(pred)
    return float(np.mean(np.abs(pred[m] / y[m] - 1.0))) if m.any() else float("nan")


def _pruned(comb: Combination):
    keep = [i for i, a in enumerate(comb.stack) if a > 0]
    return keep, tuple(comb.laws[i] for i in keep), comb.stack[keep] / comb.stack[keep].sum()


def ensemble_params(comb: Combination, k: int, fold: int | None = None):
    """``(law name, EnsembleParams)`` of the combination (members with weight > 0): the full
    fit, or fold ``fold``'s fit."""
    keep, names, a = _pruned(comb)
    src = comb.params if fold is None else comb.fold_params
    members = []
    for i in keep:
        p = src[i]
        members.append(p if fold is None else jax.tree.map(lambda x: x[fold], p))  # noqa: B023
    name = ensemble_name(names)
    ensure_registered(name)
    stack = np.broadcast_to(a, (k, len(names))).copy()
    return name, EnsembleParams(stack=stack, members=tuple(members))


def fold_ensembles(comb: Combination, k: int):
    """``(law name, EnsembleParams with leaves [F, ...])``: the combination of every fold."""
    keep, names, a = _pruned(comb)
    name = ensemble_name(names)
    ensure_registered(name)
    f = comb.held.shape[0]
    stack = np.broadcast_to(a, (f, k, len(names))).copy()
    return name, EnsembleParams(stack=stack, members=tuple(comb.fold_params[i] for i in keep))


# ---------------------------------------------------------------------------------------------
# The decision


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

    def obj(p):
        return jax.vmap(lambda w: jnp.sum(importance * law.predict_weights(p, w, budget)))(weights)

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
        _aot.call(
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


def diff_error(comb_stack, oof, y, amounts, importance) -> float:
    """Held-out error of the predicted objective *difference* between two pilot mixtures,
    relative to the objective, per unit of their total-variation distance:
    ``sqrt(2) sd(oof - observed) / mean(observed) / mean TV`` over the pilots with every
    weighted loss observed (the model's bias cancels in a difference)."""
    y = np.asarray(y, float)
    imp = np.asarray(importance, float)
    cols = imp > 0
    pred_all = np.tensordot(comb_stack, oof, 1)
    full = np.all(np.isfinite(y[:, cols]) & np.isfinite(pred_all[:, cols]), axis=1)
    if full.sum() < 3:
        return 0.0
    obs = y[full][:, cols] @ imp[cols]
    pred = pred_all[full][:, cols] @ imp[cols]
    w = amounts[full] / amounts[full].sum(axis=1, keepdims=True)
    tv = 0.5 * np.abs(w[:, None] - w[None]).sum(axis=-1)
    mean_tv = tv[np.triu_indices(len(w), 1)].mean()
    if not mean_tv > 0:
        return 0.0
    return float(np.sqrt(2.0) * np.std(pred - obs, ddof=1) / np.mean(obs) / mean_tv)


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
    the safe mixture to ``optimum [K]``) by the lower confidence bound of the gain."""
    amounts = np.asarray(amounts, float)
    k = amounts.shape[1]
    imp = np.ones(k) if importance is None else np.asarray(importance, float)
    uniform = np.full(k, 1.0 / k)
    pilot, _ = best_pilot(amounts, y, imp, budget)
    safe, kind = (pilot, "best pilot") if pilot is not None else (uniform, "uniform")
    optimum = np.asarray(optimum, float)
    if candidates is None:
        candidates = np.stack([safe + t * (optimum - safe) for t in PATH[1:]])
    candidates = np.asarray(candidates, float)
    # One compiled evaluation: the safe mixture, the candidates, uniform, the best pilot.
    ref = safe if pilot is None else pilot
    pts = np.vstack([safe[None], candidates, uniform[None], ref[None]])
    f_full, f_folds = objectives(comb, k, pts, budget, imp)
    nc = len(candidates)
    g, se = gain_stats(f_full, f_folds, 0, np.arange(1, nc + 1))
    # The model's held-out error of a difference between two mixtures (the bias cancels)
    # adds to the jackknife's parameter uncertainty.
    e_diff = comb.diff_err * 0.5 * np.abs(candidates - safe).sum(axis=1)
    se = np.sqrt(se**2 + e_diff**2)
    lcb = np.where(np.isfinite(g), g - z * se, -np.inf)
    j = int(np.argmax(lcb))
    few = comb.held.shape[0] < MIN_FOLDS
    if lcb[j] > 0 and not few:
        weights, index = candidates[j], j
    else:
        weights, index = safe, -1
    if index < 0:
        action = "keep"
    elif candidates.shape[0] == len(PATH) - 1 and index < len(PATH) - 2:
        action = "shrink"
    else:
        action = "move"
    # Against uniform and the best pilot: gain of the recommendation.
    rec = 0 if index < 0 else index + 1
    gu, su = gain_stats(f_full, f_folds, nc + 1, [rec])
    if pilot is not None:
        gb, sb = gain_stats(f_full, f_folds, nc + 2, [rec])
        p_best, gain_best = _phi(gb[0] / sb[0]) if sb[0] > 0 else 0.5, gb[0]
    else:
        p_best, gain_best = float("nan"), float("nan")
    p_unif = _phi(gu[0] / su[0]) if su[0] > 0 else 0.5  # the same mixture: a coin flip
    p_safe = np.array([_phi(a / b) if b > 0 else float(a > 0) for a, b in zip(g, se)])
    cv = 100 * comb.combined_error
    line = _line(action, kind, g, se, j, index, candidates, z, cv)
    if few:
        line = (
            f"keep the {kind}: {comb.held.shape[0]} distinct pilot mixtures are too few to "
            f"tell how certain the model's optimum is (predicted {100 * g[-1]:+.2f}%); run "
            "`jaxmix next` for runs that can settle it"
        )
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


def _line(action, kind, g, se, j, index, candidates, z, cv) -> str:
    opt = len(g) - 1
    if action == "keep":
        return (
            f"keep the {kind}: the model's optimum is predicted {100 * g[opt]:+.2f}% better "
            f"(+/- {100 * se[opt]:.2f}%, held-out error {cv:.2f}%), which the pilots do not "
            f"support; run `jaxmix next` for runs that can settle it"
        )
    if action == "shrink":
        return (
            f"move part way from the {kind} toward the model's optimum: predicted "
            f"{100 * g[index]:+.2f}% (+/- {100 * se[index]:.2f}%); the full move is less certain"
        )
    return (
        f"train the recommended mixture: predicted {100 * g[index]:+.2f}% better than the "
        f"{kind} (+/- {100 * se[index]:.2f}%, held-out error {cv:.2f}%)"
    )


def to_fit_result(comb: Combination, domains, amount_range=None) -> FitResult:
    """The combination as a :class:`FitResult` (law ``ensemble(...)``), with the fold fits and
    the out-of-fold scores in ``diagnostics``."""
    k = len(domains)
    name, params = ensemble_params(comb, k)
    diagnostics = {
        "combination": {
            "laws": list(comb.laws),
            "stack": dict(zip(comb.laws, comb.stack.tolist())),
            "cv_error": dict(zip(comb.laws, comb.cv_error.tolist())),
            "combined_cv_error": comb.combined_error,
            "difference_error": comb.diff_err,
            "folds": int(comb.held.shape[0]),
            "skipped": comb.skipped,
        }
    }
    keep = [i for i, a in enumerate(comb.stack) if a > 0]
    status = np.max(comb.status[keep, 0], axis=0)
    return FitResult(
        law=name,
        domains=tuple(domains),
        params=params,
        method="joint",
        target="loss:<domain>",
        status=status,
        objective=np.zeros(k),
        amount_range=amount_range,
        diagnostics=diagnostics,
    )


# ---------------------------------------------------------------------------------------------
# The default behind `fit`/`run`/`optimize` and the Python API


def fit_combined(
    table, laws=DEFAULT_LAWS, importance=None, delta: float | None = None
) -> FitResult:
    """The default fit: every law in ``laws`` cross-validated on the pilots and stacked
    (see the module docstring). Needs per-domain ``loss:<domain>`` columns.

    The fold fits and the pilots are kept in ``diagnostics["combination"]`` (and so in the
    fit file), so that ``optimize`` can weigh the recommendation against the safe mixture.
    """
    from jaxmix._fit import _check_amounts, _check_losses, base_amounts, monotonicity_warnings
    from jaxmix._status import InputError

    _check_amounts(table)
    for d in table.domains:
        if d not in table.losses:
            raise InputError(
                f"the combined fit needs a loss:{d} column (per-domain losses); use "
                "--method reference --target for an aggregate",
                table.path,
                1,
            )
    y = table.domain_losses()
    need = min(len(row_names(get_law(n), table.domains, 0)) for n in laws)
    for i, d in enumerate(table.domains):
        _check_losses(table, y[:, i], f"loss:{d}", need)
    try:
        comb = combine(table.amounts, y, laws=laws, importance=importance, delta=delta)
    except ValueError:
        # Too few runs to hold any out: the single transfer law (its own checks and errors).
        from jaxmix._fit import fit as fit_one

        single = fit_one(table, method="joint", delta=delta, law="transfer")
        note = "too few pilot runs to cross-validate the law families: fitted the transfer law"
        return single._replace(warnings=(note,) + single.warnings)
    amount_range = np.stack([table.amounts.min(axis=0), table.amounts.max(axis=0)], axis=1)
    fit = to_fit_result(comb, table.domains, amount_range)
    dt = jnp.result_type(float)
    pred = np.asarray(
        _aot.call(
            _predict,
            "predict",
            jax.tree.map(lambda x: jnp.asarray(x, dt), fit.params),
            jnp.asarray(table.amounts, dt),
            law_name=fit.law,
        )
    )
    residuals = np.where(np.isfinite(y), pred / y - 1.0, np.nan)
    warnings = monotonicity_warnings(table, y, base_amounts(table))
    a = dict(zip(comb.laws, comb.stack))
    warnings = [
        "combined fit: "
        + ", ".join(f"{law} {w:.2f}" for law, w in a.items() if w > 0)
        + f" (stacked on held-out error; combined {100 * comb.combined_error:.2f}%)"
    ] + warnings
    diag = dict(fit.diagnostics)
    diag["combination"] = {
        **diag["combination"],
        "fold_params": _fold_naturals(comb, table.domains),
        "pilots": {"amounts": table.amounts.tolist(), "losses": np.where(
            np.isfinite(y), y, np.nan).tolist()},
        "held_out": comb.held.astype(int).tolist(),
    }
    return fit._replace(residuals=residuals, diagnostics=diag, warnings=tuple(warnings))


def fit_default(
    table, strategy: str = "screen", delta: float | None = None, check_extrapolation=False
) -> FitResult:
    """What ``jaxmix.fit(table)`` and ``jaxmix fit`` do without a law: the transfer law's
    own joint fit first (its input checks, warnings and diagnostics: outliers,
    extrapolation), then :func:`fit_combined`, which carries them."""
    from jaxmix._fit import fit

    single = fit(
        table,
        method="joint",
        law="transfer",
        strategy=strategy,
        delta=delta,
        check_extrapolation=check_extrapolation,
    )
    combined = fit_combined(table, delta=delta)
    if not is_ensemble(combined.law):
        return combined
    diag = dict(single.diagnostics or {})
    return combined._replace(
        warnings=combined.warnings + tuple(single.warnings),
        diagnostics={**diag, **(combined.diagnostics or {})},
    )


def holdout_variant(fit: FitResult, held: dict):
    """The fit's parameters with the transfer law refitted without each domain's largest
    pilots (``held``: natural rows, ``diagnostics["holdout_params"]``): for a single law
    its refit, for a combination (whose check refits the transfer law) the combination with
    that member swapped. None when a combination has no transfer member."""
    from jaxmix._fitresult import from_params

    if not is_ensemble(fit.law):
        return from_params(held, fit.law, fit.domains).params
    if "transfer" not in member_names(fit.law):
        return None
    alt = from_params(held, "transfer", fit.domains).params
    members = list(fit.params.members)
    members[member_names(fit.law).index("transfer")] = alt
    return fit.params._replace(members=tuple(members))


def predict_fit(fit, amounts):
    from jaxmix._fitresult import predict

    return predict(fit, amounts)


def _fold_naturals(comb: Combination, domains) -> dict:
    """``{law: [per fold {domain: natural row}]}`` for the members with weight > 0."""
    from jaxmix._laws import natural_rows

    out = {}
    for i, law in enumerate(comb.laws):
        if comb.stack[i] <= 0:
            continue
        spec = get_law(law)
        nat = jax.device_get(
            _aot.call(_natural_many, "natural_many", comb.fold_params[i], law_name=law)
        )
        out[law] = [
            natural_rows(spec, {n: v[f] for n, v in nat.items()}, domains)
            for f in range(comb.held.shape[0])
        ]
    return out


@functools.partial(jax.jit, static_argnames="law_name")
def _natural_many(params, *, law_name):
    return jax.vmap(get_law(law_name).to_natural)(params)


def members_of(fit: FitResult) -> list[tuple[str, float, FitResult]]:
    """``[(law, weight, member FitResult)]`` of a combination fit."""
    names = member_names(fit.law)
    stack = np.asarray(fit.params.stack)[0]
    return [
        (n, float(a), FitResult(law=n, domains=fit.domains, params=p))
        for n, a, p in zip(names, stack, fit.params.members)
    ]


def from_members(members: dict, domains, diagnostics=None) -> FitResult:
    """A combination fit from ``{law: (weight, {domain: natural row})}``."""
    from jaxmix._fitresult import from_params

    names = tuple(members)
    a = np.array([members[n][0] for n in names], float)
    a = a / a.sum()
    params = tuple(from_params(members[n][1], law=n, domains=domains).params for n in names)
    name = ensemble_name(names)
    ensure_registered(name)
    k = len(domains)
    return FitResult(
        law=name,
        domains=tuple(domains),
        params=EnsembleParams(stack=np.broadcast_to(a, (k, len(names))).copy(), members=params),
        method="given",
        diagnostics=diagnostics,
    )


def stored_combination(fit: FitResult):
    """``(Combination-like, amounts, losses)`` rebuilt from a combination fit's diagnostics,
    or None when it has no fold fits (a hand-written combination)."""
    from jaxmix._fitresult import from_params

    c = (fit.diagnostics or {}).get("combination") or {}
    folds, pilots = c.get("fold_params"), c.get("pilots")
    if not folds or not pilots or not is_ensemble(fit.law):
        return None
    names = member_names(fit.law)
    if set(names) != set(folds):
        return None
    stack = np.asarray(fit.params.stack)[0]
    fold_params = []
    for n in names:
        per = [from_params(rows, law=n, domains=fit.domains).params for rows in folds[n]]
        fold_params.append(jax.tree.map(lambda *xs: np.stack(xs), *per))
    amounts = np.asarray(pilots["amounts"], float)
    y = np.asarray([[np.nan if v is None else v for v in r] for r in pilots["losses"]], float)
    held = np.asarray(c.get("held_out") or np.zeros((len(folds[names[0]]), len(amounts))), bool)
    comb = Combination(
        laws=names,
        stack=stack,
        params=tuple(fit.params.members),
        fold_params=tuple(fold_params),
        held=held,
        oof=np.zeros((0,)),
        cv_error=np.zeros(len(names)),
        combined_error=float(c.get("combined_cv_error") or np.nan),
        status=np.zeros((len(names), 1, len(fit.domains)), int),
        skipped={},
        diff_err=float(c.get("difference_error") or 0.0),
    )
    return comb, amounts, y


def decision_for(fit: FitResult, optimum, budget, importance, lower, upper) -> dict | None:
    """The decision for a combination fit's optimum, JSON-ready; None without fold fits.
    Candidates outside the bounds ``lower``/``upper`` are not considered."""
    stored = stored_combination(fit)
    if stored is None:
        return None
    comb, amounts, y = stored
    k = len(fit.domains)
    imp = np.asarray(importance, float)
    d = decide(comb, amounts, y, budget, optimum, imp)
    inside = lambda w: bool(np.all(w >= lower - 1e-9) and np.all(w <= upper + 1e-9))  # noqa: E731
    if not inside(d.safe):
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
        "p_beats_uniform": d.p_beats_uniform,
        "expected_gain_vs_uniform_pct": d.gain_uniform_pct,
        "p_beats_best_pilot": None if not np.isfinite(d.p_beats_best_pilot)
        else d.p_beats_best_pilot,
        "expected_gain_vs_best_pilot_pct": None if not np.isfinite(d.gain_best_pilot_pct)
        else d.gain_best_pilot_pct,
        "held_out_error_pct": d.cv_error_pct,
        "z": Z,
        "k": k,
    }


def refit_law(fit: FitResult) -> str:
    """The law a bootstrap refits: the fit's own, or a combination's largest member."""
    if not is_ensemble(fit.law):
        return fit.law
    members = members_of(fit)
    return max(members, key=lambda m: m[1])[0]


def decision_lines(decision: dict) -> list[str]:
    """The decision as terminal lines: the plain sentence, then the probabilities."""
    out = [f"decision ({decision['action']}): {decision['line']}"]
    probs = []
    if decision.get("p_beats_best_pilot") is not None:
        probs.append(
            f"P(beats the best pilot) {decision['p_beats_best_pilot']:.2f}, expected gain "
            f"{decision['expected_gain_vs_best_pilot_pct']:+.2f}%"
        )
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
    from jaxmix._fit import fit as fit_table
    from jaxmix._optimize import optimize

    fit = fit_table(table)
    return fit, optimize(fit, budget, **optimize_kw)
