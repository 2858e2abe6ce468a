"""Fit one law family to a pilot table: the joint fit (:func:`fit_joint`), with its input
checks, warnings and diagnostics; :func:`fit_law` runs it, or the authors' reference procedure
(:func:`jaxmix.fitting.reference.fit_reference`), as ``jaxmix.fit`` does for a given law."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix.fitting.batched import fit_weighted
from jaxmix.fitting.checks import (
    base_amounts,
    check_amounts,
    check_losses,
    monotonicity_warnings,
    pilot_warnings,
)
from jaxmix.fitting.extrapolate import holdout_report, holdout_rows, pilot_noise, steepening
from jaxmix.fitting.identify import describe
from jaxmix.fitting.joint import AT_BOUND_Z, STRATEGIES
from jaxmix.fitting.objective import HUBER_K, MAD_SIGMA
from jaxmix.fitting.reference import fit_reference
from jaxmix.fitting.result import FitResult, amount_range, predict, status_warnings
from jaxmix.fitting.stacking import cv_masks, fold_weights, proportion_groups
from jaxmix.laws.base import flat_field_names, row_names
from jaxmix.laws.registry import get_law
from jaxmix.status import InputError, Status
from jaxmix.table import PilotTable

METHODS = ("joint", "reference")


def _dtype():
    return jnp.result_type(float)  # float64 when the caller enabled x64, else float32


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
    pilots (1.345 x a MAD estimate of the noise, see :func:`jaxmix.fitting.objective.robust_delta`).
    ``prior`` weighs the law's weak prior against the residuals in noise units (1: a MAP
    fit; 0 drops it, and a fit may then have no finite minimizer).

    With ``check_extrapolation`` the law is also refitted without each domain's largest
    pilots (in the same batched call) to report how well it extrapolates (see
    :mod:`jaxmix.fitting.extrapolate`); the CLI turns it on.
    """
    return fit_joint_and_folds(
        table, law, strategy, polish, delta, prior, check_extrapolation, False
    )[0]


def fit_joint_and_folds(
    table, law, strategy, polish, delta, prior, check_extrapolation, cv_folds: bool
) -> tuple[FitResult, tuple | None]:
    """:func:`fit_joint`, plus, with ``cv_folds``, in the same batched call, the fits on the
    cross-validation folds of :func:`jaxmix.fitting.stacking.combine` (weights
    :func:`~jaxmix.fitting.stacking.fold_weights`; row 0, every run, is the full fit
    itself): ``(result, (params, status, thresholds) with leading axis [F+1], or None)``."""
    y, need = _joint_inputs(table, get_law(law), strategy)
    fold_w = fold_weights(y, cv_masks(proportion_groups(table.amounts))) if cv_folds else None
    mask = np.isfinite(y)
    dt = _dtype()
    # The full fit and the hold-out refit (without each domain's largest pilots) run as one
    # batched call: a vmapped pair costs little more than one fit.
    held = holdout_rows(table)
    train = mask & ~held[:, None]
    holdout = check_extrapolation and held.any() and bool(np.all(train.sum(axis=0) >= need))
    masks = np.stack([mask, train] if holdout else [mask]).astype(dt)
    m = len(masks)
    if fold_w is not None:
        masks = np.concatenate([masks, fold_w[1:].astype(dt)])
    both = _fit_masks(table, y, mask, masks, delta, prior, law, strategy, polish)
    folds = None
    if fold_w is not None:
        rows = lambda x: np.concatenate([x[:1], x[m:]])  # noqa: E731
        folds = (jax.tree.map(rows, both.params), rows(both.status), rows(both.delta))
    out = jax.tree.map(lambda x: x[0], both)
    report, ident_warn = describe(out.identifiability, out.params, table.domains)
    result = _joint_result(table, law, out)
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
    steep, steep_warn = steepening(table, y, pred_held, base, pilot_noise(residuals, need))
    warnings = (
        monotonicity_warnings(table, y, base)
        + status_warnings(table.domains, out.status)
        + _bound_warnings(result.at_bound)
    ) + (ident_warn + steep_warn + extra_warn)
    diagnostics = _joint_diagnostics(
        table, out, result, report, extrapolation, steep, strategy, delta, prior
    )
    if holdout:
        diagnostics = _with_holdout(diagnostics, result._replace(params=refit).natural())
    result = result._replace(
        residuals=residuals, diagnostics=diagnostics, warnings=tuple(warnings)
    )
    return result, folds


def _joint_result(table: PilotTable, law: str, out) -> FitResult:
    """The full fit (row 0 of the batch) as a :class:`FitResult`, before its checks."""
    return FitResult(
        law=law,
        domains=table.domains,
        params=out.params,
        method="joint",
        target="loss:<domain>",
        status=np.asarray(out.status),
        objective=np.asarray(out.objective),
        amount_range=amount_range(table),
        at_bound=at_bound(out.params, table.domains, out.prior_z),
    )


def _joint_inputs(table: PilotTable, spec, strategy: str):
    """``(losses [R, K], parameters per domain)``, after the joint fit's input checks."""
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
    return y, need


def _fit_masks(table, y, mask, masks, delta, prior, law, strategy, polish):
    """The compiled joint fit of every mask in ``masks [M, R, K]`` (through the export
    cache); a ``JointFit`` with leading axis ``[M]``."""
    return fit_weighted(
        table.amounts,
        np.broadcast_to(np.where(mask, y, 1.0), masks.shape),
        masks,
        0.0 if delta is None else delta,
        prior,
        law_name=law,
        strategy=strategy,
        polish=polish,
        diagnose=True,
    )


def _joint_diagnostics(table, out, result, report, extrapolation, steep, strategy, delta, prior):
    return {
        "identifiability": report,
        "extrapolation": extrapolation,
        "steepening": steep,
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


def _with_holdout(diagnostics: dict, holdout_params: dict) -> dict:
    """``holdout_params`` placed after ``steepening``, where fit files have always kept it."""
    out = {}
    for key, value in diagnostics.items():
        out[key] = value
        if key == "steepening":
            out["holdout_params"] = holdout_params
    return out


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
