"""The authors' reference two-stage fit (SPEC section 3), in JAX, one domain at a time.

Each domain is fitted on its five perturbation levels ``x [5]`` (others fixed at ``N_o``):
stage 1 fits (beta, A) of ``L(x) = C (x + A)^-beta + E`` to ratios of loss differences, which
cancel C and E; stage 2 fixes beta and fits (C, k, alpha, E) under ``k N_o^alpha <= N_o``.
Only ``A = k N_o^alpha`` is identified by this design, never k and alpha apart.

:func:`reference_fit_arrays` runs the procedure on arrays; :func:`fit_reference` on a pilot
table (its perturbation levels found, its input checks, warnings and diagnostics).
"""

from __future__ import annotations

import functools
import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmix import aot
from jaxmix.fitting.checks import (
    base_amounts,
    check_amounts,
    check_losses,
    monotonicity_warnings,
)
from jaxmix.fitting.identify import describe, identifiability_by_name
from jaxmix.fitting.newton import minimize
from jaxmix.fitting.objective import log_scale
from jaxmix.fitting.result import FitResult, amount_range, predict, status_warnings
from jaxmix.laws.registry import get_law
from jaxmix.laws.transfer import TransferParams
from jaxmix.status import InputError
from jaxmix.table import PilotTable

# Base pairs of level indices (0-based) and the 30 ordered pairs of distinct base pairs.
BASE_PAIRS = np.array([(0, 2), (0, 3), (0, 4), (1, 3), (1, 4), (2, 4)])
PAIR_PAIRS = np.array([(p, q) for p, q in itertools.permutations(range(6), 2)])
_STAGE1_BETA = (0.5, 0.02, 0.1, 1.0)
_STAGE1_A = (None, 0.05, 0.4, 0.9)  # None: the authors' start A = 0.5 (clipped into bounds)


class ReferenceFit(NamedTuple):
    """Reference fit of K domains; every field has leading axis ``[K]``.

    Attributes:
      params: :class:`TransferParams` for the raw amounts.
      stage1_beta, stage1_A: stage-1 estimates.
      stage1_objective, stage2_objective: summed Huber losses.
      dropped_terms: int32 number of the 30 stage-1 terms skipped (a loss difference <= 0).
      status: int32 worst solver status of the two stages.
    """

    params: TransferParams
    stage1_beta: jax.Array
    stage1_A: jax.Array
    stage1_objective: jax.Array
    stage2_objective: jax.Array
    dropped_terms: jax.Array
    status: jax.Array


def _stage1(x, y, a_max, delta):
    """(beta, A) from ratios of log loss differences; ``x, y [5]`` sorted by x."""
    dl = y[BASE_PAIRS[:, 0]] - y[BASE_PAIRS[:, 1]]  # [6]
    p, q = PAIR_PAIRS[:, 0], PAIR_PAIRS[:, 1]
    valid = (dl[p] > 0) & (dl[q] > 0)
    safe = jnp.where(dl > 0, dl, 0.5)
    lhs = jnp.log(safe[p]) / jnp.log(safe[q])
    valid = valid & jnp.isfinite(lhs) & (jnp.abs(jnp.log(safe[q])) > 1e-12)

    def unpack(v):
        return jnp.exp(v[0]), a_max * jax.nn.sigmoid(v[1])

    def objective(v):
        beta, a = unpack(v)
        m = (x + a) ** (-beta)
        dm = m[BASE_PAIRS[:, 0]] - m[BASE_PAIRS[:, 1]]
        dm_ok = dm > 0
        dm = jnp.where(dm_ok, dm, 0.5)
        rhs = jnp.log(dm[p]) / jnp.log(dm[q])
        # A model difference that underflows to zero is a miss, not a skipped term: else
        # beta -> inf would skip every term and reach a zero objective.
        r = jnp.where(dm_ok[p] & dm_ok[q], lhs - rhs, 1.0)
        return jnp.sum(jnp.where(valid, optax.losses.huber_loss(r, delta=delta), 0.0))

    def start(beta, frac):
        a = jnp.clip(0.5, 0.01 * a_max, 0.99 * a_max) if frac is None else frac * a_max
        return jnp.array([jnp.log(beta), jnp.log(a / a_max) - jnp.log1p(-a / a_max)])

    starts = jnp.stack([start(b, f) for b, f in itertools.product(_STAGE1_BETA, _STAGE1_A)])
    res = jax.vmap(lambda v: minimize(objective, v, 200, 1e-14))(starts)
    best = jnp.argmin(jnp.where(jnp.isfinite(res.value), res.value, jnp.inf))
    beta, a = unpack(res.params[best])
    return beta, a, res.value[best], res.status[best], 30 - jnp.sum(valid)


def _stage2(x, y, beta, a1, n_other, delta):
    """(C, k, alpha, E) with beta fixed; ``log k = (1 - alpha) log N_o - softplus(u)``."""
    log_no = jnp.log(n_other)

    def unpack(v):
        alpha = jax.nn.sigmoid(v[2])
        return v[0], (1 - alpha) * log_no - jax.nn.softplus(v[1]), alpha, v[3]

    def objective(v):
        log_c, log_k, alpha, log_e = unpack(v)
        pred = jnp.exp(log_c) * (x + jnp.exp(log_k + alpha * log_no)) ** (-beta) + jnp.exp(log_e)
        return jnp.sum(optax.losses.huber_loss(pred - y, delta=delta))

    def start(log_c, log_k, alpha, log_e):
        gap = (1 - alpha) * log_no - log_k  # softplus(u) = gap, kept feasible
        u = jnp.log(jnp.expm1(jnp.maximum(gap, 1e-3)))
        return jnp.array([log_c, u, jnp.log(alpha / (1 - alpha)), log_e])

    # The authors' start, and one at the stage-1 transfer A with C, E by least squares.
    g = (x + a1) ** (-beta)
    c_ls = jnp.maximum(jnp.cov(g, y)[0, 1] / jnp.var(g, ddof=1), 1e-6)
    e_ls = jnp.maximum(jnp.mean(y) - c_ls * jnp.mean(g), 1e-3 * jnp.min(y))
    starts = jnp.stack(
        [
            start(jnp.log(3.0), jnp.log(0.5), 0.5, 0.0),
            start(
                jnp.log(c_ls), jnp.log(jnp.maximum(a1, 1e-12)) - 0.5 * log_no, 0.5, jnp.log(e_ls)
            ),
        ]
    )
    res = jax.vmap(lambda v: minimize(objective, v, 300, 1e-14))(starts)
    best = jnp.argmin(jnp.where(jnp.isfinite(res.value), res.value, jnp.inf))
    log_c, log_k, alpha, log_e = unpack(res.params[best])
    params = TransferParams(
        log_C=log_c,
        log_k=log_k,
        alpha_logit=jnp.log(alpha) - jnp.log1p(-alpha),
        log_beta=jnp.log(beta),
        log_E=log_e,
    )
    return params, res.value[best], res.status[best]


@functools.partial(jax.jit)
def reference_fit_arrays(x, y, n_other, delta=1e-3, unit=1.0) -> ReferenceFit:
    """Reference fit of K domains from levels ``x [K, 5]`` (ascending), losses ``y [K, 5]``
    and the fixed other-domain amounts ``n_other [K]``.

    The procedure is *not* unit-free: its stage-1 residual compares ratios of logs of loss
    differences, which cancel C only when C = 1 in the unit used. It runs on ``x / unit``
    (the authors used millions of tokens) and returns parameters for the raw amounts.

    >>> import jax.numpy as jnp
    >>> x = jnp.array([[1/3, 1/2, 1, 2, 3]]) * 0.66
    >>> y = 1.1 + (x + 0.07) ** -0.05
    >>> round(float(reference_fit_arrays(x, y, jnp.array([1.32])).stage1_beta[0]), 3)
    0.05
    >>> y = 1.1 + 1.2 * (x + 0.07) ** -0.05  # C = 1.2: the ratio of logs is biased
    >>> round(float(reference_fit_arrays(x, y, jnp.array([1.32])).stage1_beta[0]), 3)
    0.06
    """

    def one(x, y, n_other):
        s = unit
        xs, n1 = x / s, n_other / s
        beta, a1, obj1, st1, dropped = _stage1(xs, y, n1, delta)
        params, obj2, st2 = _stage2(xs, y, beta, a1, n1, delta)
        log_s = jnp.log(s)
        alpha = jax.nn.sigmoid(params.alpha_logit)
        params = params._replace(
            log_C=params.log_C + beta * log_s, log_k=params.log_k + (1 - alpha) * log_s
        )
        return ReferenceFit(params, beta, a1 * s, obj1, obj2, dropped, jnp.maximum(st1, st2))

    return jax.vmap(one)(x, y, n_other)


def _dtype():
    return jnp.result_type(float)  # float64 when the caller enabled x64, else float32


def _column(table: PilotTable, target: str) -> np.ndarray:
    name = target[5:] if target.startswith("loss:") else target
    if name not in table.losses:
        raise InputError("no such loss column in the pilots", table.path, None, f"loss:{name}")
    return table.losses[name]


def _reference_levels(table: PilotTable, y: np.ndarray, base: np.ndarray):
    """Per domain: the 5 levels of its own amount with the others at base, mean target."""
    xs, ys, rows_used = [], [], []
    for i, d in enumerate(table.domains):
        others = np.delete(np.arange(len(table.domains)), i)
        rows = np.where(np.all(table.amounts[:, others] == base[others], axis=1) & np.isfinite(y))[
            0
        ]
        levels = np.unique(table.amounts[rows, i])
        if len(levels) != 5:
            raise InputError(
                f"the reference fit needs 5 levels of n:{d} with every other domain at its base "
                f"amount (the 1+4K design); found {len(levels)} with a value of the target",
                table.path,
                None,
                f"n:{d}",
            )
        xs.append(levels)
        ys.append([y[rows][table.amounts[rows, i] == v].mean() for v in levels])
        rows_used.append(rows)
    return np.asarray(xs), np.asarray(ys), rows_used


def fit_reference(
    table: PilotTable, target: str | None = None, delta: float = 1e-3, unit: float = 1.0
) -> FitResult:
    """The authors' two-stage fit, each domain on its five perturbation levels of ``target``
    (``loss:<domain>`` per domain when None, or one aggregate column such as ``loss:total``).

    The procedure depends on the unit of the amounts (see :func:`reference_fit_arrays`); it
    runs on ``amounts / unit``: keep the authors' millions of tokens with ``unit=1e6`` for a
    table in tokens. Parameters are returned for the table's own unit."""
    spec = get_law("transfer")
    base, k, y = _reference_inputs(table, target)
    levels = [_reference_levels(table, y[:, i], base) for i in range(k)]
    x = np.stack([lv[0][i] for i, lv in enumerate(levels)])
    yy = np.stack([lv[1][i] for i, lv in enumerate(levels)])
    n_other = np.array([base.sum() - base[i] for i in range(k)])
    dt = _dtype()
    if not (np.isfinite(unit) and unit > 0):
        raise InputError(f"the reference unit must be a positive number, got {unit}")
    out = aot.call(
        reference_fit_arrays,
        "reference_fit",
        *(jnp.asarray(v, dt) for v in (x, yy, n_other, delta, unit)),
    )
    result = FitResult(
        law="transfer",
        domains=table.domains,
        params=out.params,
        method="reference",
        target=target or "loss:<domain>",
        status=np.asarray(out.status),
        objective=np.asarray(out.stage2_objective),
        amount_range=amount_range(table),
    )
    pred = np.asarray(predict(result, table.amounts))
    mask = np.zeros_like(y, dtype=bool)
    for i, lv in enumerate(levels):
        mask[lv[2][i], i] = True
    ident = _used_identifiability(table, out, y, mask, spec.name)
    report, ident_warn = describe(ident, out.params, table.domains)
    dropped = np.asarray(out.dropped_terms)
    warnings = monotonicity_warnings(table, np.where(mask, y, np.nan), base)
    warnings += [
        f"{d}: stage 1 skipped {int(n)} of 30 terms (a loss difference <= 0: noisy or "
        "non-monotone pilots)"
        for d, n in zip(table.domains, dropped)
        if n > 0
    ]
    warnings += status_warnings(table.domains, out.status) + ident_warn
    diagnostics = _reference_diagnostics(table, out, report, dropped, delta, unit)
    return result._replace(
        residuals=np.where(mask, pred / np.where(mask, y, 1.0) - 1.0, np.nan),
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )


def _reference_inputs(table: PilotTable, target: str | None):
    """``(base amounts [K], K, targets [R, K])`` after the reference procedure's checks."""
    if np.any(table.amounts <= 0):
        r, j = np.argwhere(table.amounts <= 0)[0]
        raise InputError(
            "the reference procedure needs every amount > 0 (it takes logs); use --method joint",
            table.path,
            table.rows[r] if table.rows else None,
            f"n:{table.domains[j]}",
        )
    base = base_amounts(table)
    k = len(table.domains)
    if target is None:
        for d in table.domains:
            check_losses(table, _column(table, f"loss:{d}"), f"loss:{d}", 5)
        y = table.domain_losses()
    else:
        col = _column(table, target)
        check_losses(table, col, target if target.startswith("loss:") else f"loss:{target}", 5)
        y = np.repeat(col[:, None], k, axis=1)
    check_amounts(table)
    return base, k, y


def _used_identifiability(table: PilotTable, out, y, mask, law_name: str):
    """Identifiability on the observations the reference fit used, in normalized units."""
    dt = _dtype()
    return aot.call(
        identifiability_by_name,
        "identifiability",
        out.params,
        jnp.asarray(table.amounts, dt),
        jnp.asarray(np.where(mask, y, 1.0), dt),
        jnp.asarray(mask),
        jnp.asarray(float(log_scale(jnp.asarray(table.amounts))), dt),
        law_name=law_name,
    )


def _reference_diagnostics(table: PilotTable, out, report, dropped, delta, unit) -> dict:
    return {
        "identifiability": report,
        "stage1": {
            d: {"beta": float(b), "A": float(a), "skipped_terms": int(n)}
            for d, b, a, n in zip(
                table.domains, np.asarray(out.stage1_beta), np.asarray(out.stage1_A), dropped
            )
        },
        "huber_delta": delta,
        "unit": unit,
    }
