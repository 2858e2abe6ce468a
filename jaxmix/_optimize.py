"""``optimize``: the mixture that minimizes the predicted (importance-weighted) loss.

A jitted multi-restart solver on mixture logits: optax Adam for a short screen from random
starts (vmapped), then damped Newton polishing of every restart; the best finite restart wins.
For a separable convex law the exact multiplier solution certifies it (optimality gap and
largest weight difference are reported).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmix import _aot
from jaxmix._exact import frank_wolfe_gap, solve_exact
from jaxmix._fitresult import FitResult
from jaxmix._laws import get_law
from jaxmix._newton import minimize
from jaxmix._repetition import R_STAR, effective_amounts
from jaxmix._simplex import weights_from_logits
from jaxmix._status import InputError

BIND_TOL = 1e-7  # a weight this close to a bound binds it
EXTRAPOLATION_RATIO = 2.0  # budget amount beyond this multiple of the largest pilot warns
SENSITIVITY = 0.05  # weight change without the largest pilots that warns
FW_TOL = 1e-6  # relative Frank-Wolfe gap below which a convex law's optimum is certified
RESTART_TOL = 1e-9  # relative objective difference within which restarts agree


class Solution(NamedTuple):
    """Output of :func:`solve` (one problem).

    Attributes:
      weights: ``[K]`` weights of the best restart of the gradient solver.
      objective: ``[]`` objective at ``weights``.
      restart_weights: ``[R, K]`` and ``restart_objective`` ``[R]``: every restart.
      restart_status: ``[R]`` int32 status of every restart.
      exact_weights: ``[K]`` the multiplier solution (NaN when the law is not separable).
      exact_objective: ``[]`` objective at ``exact_weights``.
      predicted, exact_predicted, uniform_predicted: ``[K]`` predicted losses at ``weights``,
        ``exact_weights`` and the uniform mixture.
      fw_gap: ``[]`` Frank-Wolfe gap at ``weights``: for a convex law a bound on how far
        their objective is above the optimum.
    """

    weights: jax.Array
    objective: jax.Array
    restart_weights: jax.Array
    restart_objective: jax.Array
    restart_status: jax.Array
    exact_weights: jax.Array
    exact_objective: jax.Array
    predicted: jax.Array
    exact_predicted: jax.Array
    uniform_predicted: jax.Array
    fw_gap: jax.Array


def convex_problem(law, repetition: bool) -> bool:
    """Whether the mixture objective of ``law`` is convex on the constraint set: the law's
    claim, kept with repeated data only by laws of concave effective data.

    >>> convex_problem(get_law("mixing_law"), False), convex_problem(get_law("mixing_law"), True)
    (True, False)
    """
    return law.convex and (not repetition or law.convex_with_repetition)


def predictor(law, params, budget, unique=None, r_star=None):
    """``[K] -> [K]`` predicted losses at a weight vector; with ``unique [K]`` the amounts
    ``w * budget`` count as repetition-aware effective data (see ``_repetition.py``)."""
    if unique is None:
        return lambda w: law.predict_weights(params, w, budget)
    return lambda w: law.predict_amounts(params, effective_amounts(w * budget, unique, r_star))


def objective_terms(law, params, budget, importance, unique=None, r_star=None):
    """``[K] -> [K]`` importance-weighted predicted losses at a weight vector."""
    predict = predictor(law, params, budget, unique, r_star)
    return lambda w: importance * predict(w)


@functools.partial(
    jax.jit, static_argnames=("law_name", "capped", "restarts", "screen_steps", "max_steps")
)
def solve(
    params,
    budget,
    importance,
    lower,
    upper,
    key,
    unique=None,
    r_star=None,
    *,
    law_name: str = "transfer",
    capped: bool = False,
    restarts: int = 8,
    screen_steps: int = 100,
    max_steps: int = 100,
) -> Solution:
    """Minimize ``sum(importance * L(w))`` over weights with ``lower <= w <= upper``.

    Args:
      params: the law's parameters, leaves ``[K]``.
      budget: ``[]`` total amount N (the pilots' unit).
      importance: ``[K]`` non-negative weight of each domain's loss.
      lower, upper: ``[K]`` bounds, ``sum(lower) <= 1 <= sum(upper)``.
      key: PRNG key (typed or raw ``uint32[2]``) of the random restarts; restart 0
        starts from uniform logits.
      unique, r_star: optional ``[K]`` unique data per domain and ``[]`` R*: repeated data
        counts as effective data (the objective is then not separable).
      law_name, capped, restarts, screen_steps, max_steps: static; ``capped`` must be True
        when an upper bound is below ``lower + (1 - sum(lower))``.

    >>> import jax, jax.numpy as jnp
    >>> from jaxmix import from_params
    >>> fit = from_params({d: dict(C=1, k=0.3, alpha=0.5, beta=0.3, E=1) for d in "ab"})
    >>> s = solve(fit.params, 10.0, jnp.ones(2), jnp.zeros(2), jnp.ones(2), jax.random.key(0))
    >>> [round(float(w), 4) for w in s.weights]
    [0.5, 0.5]
    """
    law = get_law(law_name)
    k = lower.shape[0]
    dtype = lower.dtype
    terms = objective_terms(law, params, budget, importance, unique, r_star)

    def f(z):
        return jnp.sum(terms(weights_from_logits(z, lower, upper, capped)))

    z0 = jax.random.normal(key, (restarts, k), dtype) * 1.5
    z0 = z0.at[0].set(0.0)
    adam = optax.adam(0.1)

    def screen(z):
        def step(carry, _):
            z, state = carry
            g = jax.grad(f)(z)
            g = jnp.where(jnp.isfinite(g), g, 0.0)
            updates, state = adam.update(g, state)
            return (optax.apply_updates(z, updates), state), None

        (z, _), _ = jax.lax.scan(step, (z, adam.init(z)), None, length=screen_steps)
        return z

    z1 = jax.vmap(screen)(z0)
    res = jax.vmap(lambda z: minimize(f, z, max_steps, 0.0))(z1)
    w_all = jax.vmap(lambda z: weights_from_logits(z, lower, upper, capped))(res.params)
    obj = jnp.where(jnp.isfinite(res.value), res.value, jnp.inf)
    best = jnp.argmin(obj)
    if law.separable and unique is None:
        w_exact, _ = solve_exact(terms, lower, upper)
        f_exact = jnp.sum(terms(w_exact))
    else:
        w_exact = jnp.full((k,), jnp.nan, dtype)
        f_exact = jnp.asarray(jnp.nan, dtype)
    predict = predictor(law, params, budget, unique, r_star)
    return Solution(
        w_all[best],
        res.value[best],
        w_all,
        res.value,
        res.status,
        w_exact,
        f_exact,
        predict(w_all[best]),
        predict(w_exact),
        predict(jnp.full((k,), 1.0 / k, dtype)),
        frank_wolfe_gap(terms, w_all[best], lower, upper),
    )


class Mixture(NamedTuple):
    """A recommended mixture and how it was obtained.

    Attributes:
      domains: K names. budget: total amount N.
      weights, amounts, predicted: ``[K]`` weights, ``weights * budget``, predicted losses.
      objective: ``sum(importance * predicted)``.
      importance, lower, upper: ``[K]`` the objective's weights and the bounds used.
      binding: K labels, ``"min"``, ``"max"``, ``"fixed"`` or ``""``.
      uniform_predicted: ``[K]`` predicted losses of the uniform mixture; uniform_objective.
      certificate: ``{"convex", "frank_wolfe_gap", "restarts", "restarts_at_best"}``, plus
        ``{"exact_weights", "exact_objective", "gap", "max_weight_diff"}`` for a separable
        law. ``convex`` is true only when the problem solved is convex (a law of the
        proportions with repeated data is not); then the Frank-Wolfe gap bounds the excess
        objective. Otherwise the gap only measures stationarity, and the mixture is the best
        of ``restarts`` local solutions (``restarts_at_best`` of them reached it).
      restart_status: ``[R]`` status of every restart; warnings: one-line messages.
      decision: for a combined fit with its fold fits, the decision against the safe
        mixture (``_decide.decision_for``): ``weights`` is then the recommendation (the
        optimum, part of the way to it, or the safe mixture) and ``decision["optimum"]``
        the model's optimum. None otherwise.
      constraints: the bounds and availability as requested (``min_weight``, ``max_weight``,
        ``fix``, ``available``, ``max_epochs``, ``repetition``), so that the mixture can be
        re-solved at another budget with the same caps (``lower``/``upper`` hold only this
        budget's weights).
    """

    domains: tuple
    budget: float
    weights: np.ndarray
    amounts: np.ndarray
    predicted: np.ndarray
    objective: float
    importance: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    binding: tuple
    uniform_predicted: np.ndarray
    uniform_objective: float
    certificate: dict | None
    restart_status: np.ndarray
    warnings: tuple = ()
    constraints: dict | None = None
    decision: dict | None = None


def _requested(**given) -> dict:
    """The constraints a caller gave, JSON-ready (``{domain: float}`` or a number)."""
    out = {}
    for key, value in given.items():
        if value is None or value is False:
            continue
        if isinstance(value, dict):
            value = {str(d): float(v) for d, v in value.items()}
        out[key] = value
    return out


def _per_domain(fit: FitResult, values, flag: str, default: float) -> np.ndarray:
    out = np.full(len(fit.domains), float(default))
    for name, value in (values or {}).items():
        if name not in fit.domains:
            raise InputError(f"{flag}: unknown domain {name!r} (domains: {', '.join(fit.domains)})")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{flag}: {name}={value!r} is not a number") from None
        if not np.isfinite(value):
            raise InputError(f"{flag}: {name}={value} is not finite")
        out[fit.domains.index(name)] = value
    return out


def importance_weights(fit: FitResult, importance) -> np.ndarray:
    """``[K]`` objective weights from ``{domain: weight}`` (default 1), checked."""
    imp = _per_domain(fit, importance, "--importance", 1.0)
    if np.any(imp < 0) or not np.any(imp > 0):
        raise InputError("--importance: weights must be >= 0 and not all zero")
    return imp


def needs_caps(lower, upper) -> bool:
    """Whether any upper bound ``[..., K]`` binds below what the softmax map can reach."""
    lower, upper = np.asarray(lower), np.asarray(upper)
    return bool(np.any(upper < lower + (1.0 - lower.sum(axis=-1, keepdims=True)) - 1e-12))


def select(sol: Solution) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, predicted, use_exact) of the lower-objective solver per problem; works on
    one :class:`Solution` or a batch of them (leading axes)."""
    exact = np.asarray(sol.exact_objective)
    grad = np.asarray(sol.objective)
    # Objectives within a few rounding units are a tie, and the exact solution wins it: in
    # float32 the gradient solver's objective can be lower by rounding alone.
    tol = 16 * np.finfo(exact.dtype).eps * np.maximum(1.0, np.abs(exact))
    use_exact = np.isfinite(exact) & ~(grad < exact - np.where(np.isfinite(tol), tol, 0.0))
    pick = lambda a, b: np.where(use_exact[..., None], a, b)  # noqa: E731
    weights = pick(np.asarray(sol.exact_weights), np.asarray(sol.weights))
    predicted = pick(np.asarray(sol.exact_predicted), np.asarray(sol.predicted))
    return weights.astype(float), predicted.astype(float), use_exact


def constraints(
    fit: FitResult,
    budget: float,
    min_weight=None,
    max_weight=None,
    fix=None,
    available=None,
    max_epochs: float | None = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``[K]`` lower and upper weight bounds from per-domain dicts; checks feasibility."""
    max_epochs = 1.0 if max_epochs is None else max_epochs
    lower = _per_domain(fit, min_weight, "--min-weight", 0.0)
    upper = _per_domain(fit, max_weight, "--max-weight", 1.0)
    for flag, arr in (("--min-weight", lower), ("--max-weight", upper)):
        if np.any((arr < 0) | (arr > 1)):
            raise InputError(f"{flag}: weights must be in [0, 1]")
    fixed = _per_domain(fit, fix, "--fix", np.nan)
    if np.any(fixed[np.isfinite(fixed)] < 0) or np.any(fixed[np.isfinite(fixed)] > 1):
        raise InputError("--fix: weights must be in [0, 1]")
    lower = np.where(np.isfinite(fixed), fixed, lower)
    upper = np.where(np.isfinite(fixed), fixed, upper)
    if available:
        if not (np.isfinite(max_epochs) and max_epochs > 0):
            raise InputError(f"--max-epochs must be > 0, got {max_epochs}")
        avail = _per_domain(fit, available, "--available", np.inf)
        if np.any(avail <= 0):
            raise InputError("--available: amounts must be > 0")
        upper = np.minimum(upper, max_epochs * avail / budget)
    bad = np.where(lower > upper + 1e-12)[0]
    if len(bad):
        d = fit.domains[bad[0]]
        raise InputError(
            f"constraints cannot be satisfied: {d} needs weight >= {lower[bad[0]]:g} "
            f"but <= {upper[bad[0]]:g}"
        )
    if lower.sum() > 1 + 1e-9:
        raise InputError(
            f"constraints cannot be satisfied: minimum weights sum to {lower.sum():g} > 1"
        )
    if upper.sum() < 1 - 1e-9:
        raise InputError(
            f"constraints cannot be satisfied: maximum weights (with availability) "
            f"sum to {upper.sum():g} < 1"
        )
    return lower, np.minimum(upper, 1.0)


def unique_amounts(fit: FitResult, available, r_star: float) -> np.ndarray:
    """``[K]`` unique data per domain for repetition-aware optimization (inf if not given)."""
    if not available:
        raise InputError("repetition needs --available domain=amount (unique data per domain)")
    if not (np.isfinite(r_star) and r_star > 0):
        raise InputError(f"--r-star must be > 0, got {r_star}")
    unique = _per_domain(fit, available, "--available", np.inf)
    if np.any(unique <= 0):
        raise InputError("--available: amounts must be > 0")
    return unique


def repetition_notes(domains, amounts, unique, r_star) -> list[str]:
    """One line per domain the mixture repeats: epochs and what the repeats are worth."""
    worth = np.asarray(effective_amounts(jnp.asarray(amounts), jnp.asarray(unique), r_star))
    return [
        f"{d}: {a / u:.3g} epochs over its unique data, worth {w / u:.3g} epochs of fresh data"
        for d, a, u, w in zip(domains, amounts, unique, worth)
        if np.isfinite(u) and a > u * (1 + 1e-9)
    ]


def _binding(weights, lower, upper) -> tuple:
    out = []
    for w, lo, hi in zip(weights, lower, upper):
        if hi - lo <= BIND_TOL:
            out.append("fixed")
        elif w - lo <= BIND_TOL and lo > 0:
            out.append("min")
        elif hi - w <= BIND_TOL and hi < 1:
            out.append("max")
        else:
            out.append("")
    return tuple(out)


def optimize(
    fit: FitResult,
    budget: float,
    importance=None,
    min_weight=None,
    max_weight=None,
    fix=None,
    available=None,
    max_epochs: float | None = None,
    restarts: int = 8,
    seed: int = 0,
    repetition: bool = False,
    r_star: float = R_STAR,
) -> Mixture:
    """The mixture of ``budget`` (pilot units) minimizing the predicted objective.

    Args:
      fit: a :class:`FitResult` (from :func:`fit`, :func:`read_fit` or :func:`from_params`).
      budget: total amount N, in the unit of the pilot amounts.
      importance: ``{domain: weight}`` of each loss in the objective (default 1 each; one
        non-zero domain gives the domain-specific optimum).
      min_weight, max_weight, fix: ``{domain: weight}`` bounds.
      available: ``{domain: amount}`` of data that exists; with ``max_epochs`` (default 1)
        it caps ``w_i * budget <= max_epochs * available_i``.
      restarts, seed: random restarts of the gradient solver.
      repetition, r_star: treat ``available`` as unique data that may be repeated: amounts
        beyond it count as repetition-aware effective data (:func:`effective_amounts`)
        instead of being capped (unless ``max_epochs`` is also given).

    >>> from jaxmix import from_params
    >>> fit = from_params({"a": dict(C=1, k=0.3, alpha=0.5, beta=0.3, E=1),
    ...                    "b": dict(C=2, k=0.3, alpha=0.5, beta=0.3, E=1)})
    >>> m = optimize(fit, 10.0, max_weight={"b": 0.55})
    >>> [round(float(w), 3) for w in m.weights], m.binding
    ([0.45, 0.55], ('', 'max'))
    """
    law = get_law(fit.law)
    try:
        budget = float(budget)
    except (TypeError, ValueError):
        raise InputError(f"budget must be a number, got {budget!r}") from None
    if not (np.isfinite(budget) and budget > 0):
        raise InputError(f"budget must be a positive number, got {budget}")
    imp = importance_weights(fit, importance)
    unique, caps = None, available
    if repetition:
        unique = unique_amounts(fit, available, r_star)
        caps = available if max_epochs is not None else None
    epochs = 1.0 if max_epochs is None else max_epochs
    lower, upper = constraints(fit, budget, min_weight, max_weight, fix, caps, epochs)
    if restarts < 1:
        raise InputError(f"restarts must be >= 1, got {restarts}")
    capped = needs_caps(lower, upper)
    dt = jnp.result_type(float)
    params = jax.tree.map(lambda x: jnp.asarray(x, dt), fit.params)
    sol = _aot.call(
        solve,
        "solve",
        params,
        jnp.asarray(budget, dt),
        jnp.asarray(imp, dt),
        jnp.asarray(lower, dt),
        jnp.asarray(upper, dt),
        jax.random.PRNGKey(seed),
        None if unique is None else jnp.asarray(unique, dt),
        None if unique is None else jnp.asarray(r_star, dt),
        law_name=fit.law,
        capped=capped,
        restarts=restarts,
    )
    w_grad = np.asarray(sol.weights, dtype=float)
    weights, predicted, _ = select(sol)
    warnings = []
    convex = convex_problem(law, unique is not None)
    r_obj = np.asarray(sol.restart_objective, dtype=float)
    best = float(sol.objective)
    at_best = int(np.sum(np.isfinite(r_obj) & (r_obj <= best + RESTART_TOL * max(abs(best), 1.0))))
    certificate = {
        "convex": convex,
        "frank_wolfe_gap": float(sol.fw_gap),
        "restarts": int(r_obj.size),
        "restarts_at_best": at_best,
    }
    if law.separable and unique is None:
        w_exact = np.asarray(sol.exact_weights, dtype=float)
        gap = float(sol.objective - sol.exact_objective)
        certificate.update(
            {
                "exact_weights": dict(zip(fit.domains, w_exact.tolist())),
                "exact_objective": float(sol.exact_objective),
                "gap": gap,
                "max_weight_diff": float(np.max(np.abs(w_grad - w_exact))),
            }
        )
        if certificate["max_weight_diff"] > 1e-4:
            warnings.append(
                f"the gradient solver and the exact solver differ by "
                f"{certificate['max_weight_diff']:.2g} in weight (objective gap {gap:.2g}); "
                "reporting the mixture with the lower objective"
            )
    elif not float(sol.fw_gap) <= FW_TOL * max(abs(best), 1.0):
        warnings.append(
            f"the optimizer's Frank-Wolfe gap {float(sol.fw_gap):.2g} is not small: the "
            "mixture may be short of the optimum"
            + ("" if convex else " (or of a stationary point: the objective is not convex)")
        )
    elif not convex and at_best < r_obj.size:
        warnings.append(
            f"the objective is not convex here and only {at_best} of {r_obj.size} restarts "
            "reached the best mixture: it is the best local optimum found, not a certified "
            "global one (more --restarts search further)"
        )
    if unique is not None:
        warnings += repetition_notes(fit.domains, weights * budget, unique, r_star)
    status = np.asarray(sol.restart_status)
    if not np.isfinite(float(sol.objective)):
        warnings.append("every restart of the gradient solver ended non-finite")
    uniform_pred = np.asarray(sol.uniform_predicted, dtype=float)
    if fit.amount_range is not None:
        top = np.asarray(fit.amount_range)[:, 1]
        for d, amount, t in zip(fit.domains, weights * budget, top):
            if amount > EXTRAPOLATION_RATIO * t:
                warnings.append(
                    f"{d}: the budget's amount {amount:.4g} is {amount / t:.2g}x the "
                    f"largest pilot amount {t:.4g}; the law is extrapolating (confirm the "
                    "mixture with runs from `jaxmix next`)"
                )
    held = (fit.diagnostics or {}).get("holdout_params")
    alt_params = None
    if held:
        from jaxmix._decide import holdout_variant

        alt_params = holdout_variant(fit, held)
    if alt_params is not None:
        alt = optimize(
            fit._replace(params=alt_params, diagnostics=None),
            budget,
            importance,
            min_weight,
            max_weight,
            fix,
            available,
            max_epochs,
            restarts,
            seed,
            repetition,
            r_star,
        )
        diff = float(np.max(np.abs(alt.weights - weights)))
        if diff > SENSITIVITY:
            warnings.append(
                "the recommendation rests on the largest pilots: fitted without them the "
                f"law recommends {np.round(alt.weights, 3).tolist()} (weights differ by "
                f"up to {diff:.2g})"
            )
    if not np.all(np.isfinite(predicted)):
        warnings.append("predicted losses are not finite at the recommended mixture")
    decision = None
    if unique is None and "(" in fit.law:
        from jaxmix._decide import decision_for

        decision = decision_for(fit, weights, budget, imp, lower, upper)
        if decision is not None:
            weights = np.asarray([decision["weights"][d] for d in fit.domains])
            predicted = np.asarray(
                predictor(law, params, jnp.asarray(budget, dt))(jnp.asarray(weights, dt)),
                dtype=float,
            )
    return Mixture(
        domains=fit.domains,
        budget=budget,
        weights=weights,
        amounts=weights * budget,
        predicted=predicted,
        objective=float(np.sum(imp * predicted)),
        importance=imp,
        lower=lower,
        upper=upper,
        binding=_binding(weights, lower, upper),
        uniform_predicted=uniform_pred,
        uniform_objective=float(np.sum(imp * uniform_pred)),
        certificate=certificate,
        restart_status=status,
        warnings=tuple(warnings),
        decision=decision,
        constraints=_requested(
            min_weight=min_weight,
            max_weight=max_weight,
            fix=fix,
            available=available,
            max_epochs=None if not caps else float(epochs),
            repetition=bool(repetition),
            r_star=float(r_star) if repetition else None,
        ),
    )
