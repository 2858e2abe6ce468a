"""Fit one law family to a pilot table: the joint fit (:func:`fit_joint`) or the authors'
reference procedure (:func:`fit_reference`), with their input checks, warnings and
diagnostics; :func:`fit_law` is either one as ``jaxmix.fit`` runs it for a given law."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix import aot
from jaxmix.fitting.checks import (
    base_amounts,
    check_amounts,
    check_losses,
    monotonicity_warnings,
    pilot_warnings,
)
from jaxmix.fitting.extrapolate import holdout_report, holdout_rows, steepening
from jaxmix.fitting.identify import describe, identifiability_by_name
from jaxmix.fitting.joint import AT_BOUND_Z, STRATEGIES, fit_many
from jaxmix.fitting.objective import HUBER_K, MAD_SIGMA, log_scale
from jaxmix.fitting.reference import reference_fit_arrays
from jaxmix.fitting.result import FitResult, predict
from jaxmix.io.pilots import PilotTable
from jaxmix.laws.base import flat_field_names, row_names
from jaxmix.laws.registry import get_law
from jaxmix.status import InputError, Status

METHODS = ("joint", "reference")


def _dtype():
    return jnp.result_type(float)  # float64 when the caller enabled x64, else float32


def _column(table: PilotTable, target: str) -> np.ndarray:
    name = target[5:] if target.startswith("loss:") else target
    if name not in table.losses:
        raise InputError("no such loss column in the pilots", table.path, None, f"loss:{name}")
    return table.losses[name]


def _status_warnings(domains, status) -> list[str]:
    return [
        f"{d}: fit {Status.describe(s)}"
        for d, s in zip(domains, np.asarray(status))
        if int(s) != Status.SUCCESS
    ]


def _natural_name(field: str) -> str:
    """``log_k:b -> k:b``, ``alpha_logit -> alpha``: an unconstrained entry's natural name."""
    base, _, src = field.partition(":")
    base = base.removeprefix("log_").removesuffix("_logit")
    return f"{base}:{src}" if src else base


def at_bound(params, domains, prior_z) -> dict:
    """``{domain: {param: "low" | "high"}}`` from the joint fit's ``prior_z [K, P]``."""
    z = np.asarray(prior_z)
    out = {}
    for i, d in enumerate(domains):
        names = flat_field_names(params, domains, i)
        out[d] = {
            _natural_name(n): ("low" if v < 0 else "high")
            for n, v in zip(names, z[i])
            if abs(v) >= AT_BOUND_Z
        }
    return out


def _bound_warnings(bounds: dict) -> list[str]:
    return [
        f"{d}: {', '.join(f'{n} ({side})' for n, side in names.items())} at the edge of "
        "its range, held by the weak prior rather than determined by the pilots"
        for d, names in bounds.items()
        if names
    ]


def _amount_range(table: PilotTable) -> np.ndarray:
    return np.stack([table.amounts.min(axis=0), table.amounts.max(axis=0)], axis=1)


def fit_joint(
    table: PilotTable,
    law: str = "transfer",
    strategy: str = "screen",
    polish: int = 4,
    delta: float | None = None,
    prior: float = 1.0,
    check_extrapolation: bool = False,
) -> FitResult:
    """Fit every domain's law to its loss ``loss:<domain>`` in every pilot run.

    ``delta`` is the Huber threshold on log residuals; None picks it per domain from the
    pilots (1.345 x a MAD estimate of the noise, see :func:`jaxmix.fitting.joint.robust_delta`).
    ``prior`` weighs the law's weak prior against the residuals in noise units (1: a MAP
    fit; 0 drops it, and a fit may then have no finite minimizer).

    With ``check_extrapolation`` the law is also refitted without each domain's largest
    pilots (in the same batched call) to report how well it extrapolates (see
    ``_extrapolate.py``); the CLI turns it on.
    """
    spec = get_law(law)
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r} (choose from {', '.join(STRATEGIES)})")
    check_amounts(table)
    y = table.domain_losses()
    need = len(row_names(spec, table.domains, 0))  # parameters per domain
    for i, d in enumerate(table.domains):
        if d not in table.losses:
            raise InputError(
                f"the joint fit needs a loss:{d} column (the loss on {d}'s "
                "validation set); use --method reference --target for an aggregate",
                table.path,
                1,
            )
        check_losses(table, y[:, i], f"loss:{d}", need)
    mask = np.isfinite(y)
    dt = _dtype()
    # The full fit and the hold-out refit (without each domain's largest pilots) run as one
    # batched call: a vmapped pair costs little more than one fit.
    held = holdout_rows(table)
    train = mask & ~held[:, None]
    holdout = check_extrapolation and held.any() and bool(np.all(train.sum(axis=0) >= need))
    masks = np.stack([mask, train] if holdout else [mask]).astype(dt)
    both = aot.call(
        fit_many,
        "joint_fit",
        jnp.asarray(table.amounts, dt),
        jnp.asarray(np.broadcast_to(np.where(mask, y, 1.0), masks.shape), dt),
        jnp.asarray(masks),
        jnp.asarray(0.0 if delta is None else delta, dt),
        jnp.asarray(prior, dt),
        law_name=law,
        strategy=strategy,
        polish=polish,
    )
    both = jax.device_get(both)  # numpy from here on: no small eager JAX ops
    out = jax.tree.map(lambda x: x[0], both)
    report, ident_warn = describe(out.identifiability, out.params, table.domains)
    bounds = at_bound(out.params, table.domains, out.prior_z)
    result = FitResult(
        law=law,
        domains=table.domains,
        params=out.params,
        method="joint",
        target="loss:<domain>",
        status=np.asarray(out.status),
        objective=np.asarray(out.objective),
        amount_range=_amount_range(table),
        at_bound=bounds,
    )
    pred = np.asarray(predict(result, table.amounts))
    residuals = np.where(mask, pred / y - 1.0, np.nan)
    base = base_amounts(table)
    extrapolation, extra_warn = {}, []
    pred_held = pred
    if holdout:
        refit = jax.tree.map(lambda x: x[1], both.params)
        pred_held = np.asarray(predict(result._replace(params=refit), table.amounts))
        extrapolation, extra_warn = holdout_report(table, y, held, pred_held, residuals)
    # The law's slope at the top, as extrapolated from the smaller pilots.
    steep, steep_warn = steepening(table, y, pred_held, base)
    warnings = (
        monotonicity_warnings(table, y, base)
        + _status_warnings(table.domains, out.status)
        + _bound_warnings(bounds)
        + ident_warn
        + steep_warn
        + extra_warn
    )
    diagnostics = {
        "identifiability": report,
        "extrapolation": extrapolation,
        "steepening": steep,
        **({"holdout_params": result._replace(params=refit).natural()} if holdout else {}),
        "restarts": {
            "strategy": strategy,
            "polished": int(out.restart_status.shape[0]),
            "converged": np.sum(np.asarray(out.restart_status) == 0, axis=0).tolist(),
        },
        "convergence": {
            "converged_share": result.converged_share(),
            "status": {d: Status(int(s)).name for d, s in zip(table.domains, out.status)},
            "steps": dict(zip(table.domains, np.asarray(out.steps).tolist())),
        },
        "huber_delta": dict(zip(table.domains, np.asarray(out.delta).tolist())),
        "huber_delta_rule": (
            "given" if delta is not None else f"{HUBER_K} x {MAD_SIGMA} x median |log residual| "
            "of the fitted residuals, per domain (floor 1e-4); no prior where they are below 1e-4"
        ),
        "prior": prior,
    }
    return result._replace(
        residuals=residuals,
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )


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
        amount_range=_amount_range(table),
    )
    pred = np.asarray(predict(result, table.amounts))
    mask = np.zeros_like(y, dtype=bool)
    for i, lv in enumerate(levels):
        mask[lv[2][i], i] = True
    # Identifiability on the observations the reference fit used, in normalized units.
    ident = aot.call(
        identifiability_by_name,
        "identifiability",
        out.params,
        jnp.asarray(table.amounts, dt),
        jnp.asarray(np.where(mask, y, 1.0), dt),
        jnp.asarray(mask),
        jnp.asarray(float(log_scale(jnp.asarray(table.amounts))), dt),
        law_name=spec.name,
    )
    report, ident_warn = describe(ident, out.params, table.domains)
    dropped = np.asarray(out.dropped_terms)
    warnings = monotonicity_warnings(table, np.where(mask, y, np.nan), base)
    warnings += [
        f"{d}: stage 1 skipped {int(n)} of 30 terms (a loss difference <= 0: noisy or "
        "non-monotone pilots)"
        for d, n in zip(table.domains, dropped)
        if n > 0
    ]
    warnings += _status_warnings(table.domains, out.status) + ident_warn
    diagnostics = {
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
    return result._replace(
        residuals=np.where(mask, pred / np.where(mask, y, 1.0) - 1.0, np.nan),
        diagnostics=diagnostics,
        warnings=tuple(warnings),
    )


def check_method(method: str, target: str | None) -> None:
    """Raise on an unknown method, or a target the joint fit does not take."""
    if method not in METHODS:
        raise InputError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    if method == "joint" and target not in (None, "loss:<domain>"):
        raise InputError(
            "the joint fit uses every loss:<domain> column; --target is for --method reference"
        )


def fit_law(
    table: PilotTable,
    method: str,
    target: str | None = None,
    strategy: str = "screen",
    delta: float | None = None,
    prior: float = 1.0,
    reference_unit: float = 1.0,
    check_extrapolation: bool = False,
    law: str | None = "transfer",
    note: str | None = None,
) -> FitResult:
    """``jaxmix.fit`` of one law family by ``method`` (see :func:`jaxmix.fit`); ``note``: a
    warning to put first (the method choice), before the pilot table's own warnings."""
    check_method(method, target)
    if method == "joint":
        result = fit_joint(
            table,
            law=law,
            strategy=strategy,
            delta=delta,
            prior=prior,
            check_extrapolation=check_extrapolation,
        )
    else:
        if law not in (None, "transfer"):
            raise InputError(f"the reference procedure fits the transfer law, not {law!r}")
        result = fit_reference(
            table, target, delta=1e-3 if delta is None else delta, unit=reference_unit
        )
    if note:
        result = result._replace(warnings=(note,) + result.warnings)
    return result._replace(warnings=tuple(pilot_warnings(table)) + result.warnings)
