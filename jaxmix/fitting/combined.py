"""The default fit: the law families stacked by held-out error (:mod:`.stacking`), as a
:class:`FitResult` of law ``ensemble(...)`` that keeps its fold fits and pilots, so that
``optimize`` can weigh the recommendation against the safe mixture
(:mod:`jaxmix.optimization.decision`). Also: a combination's members, and a combination
rebuilt from a fit file.
"""

from __future__ import annotations

import functools

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
from jaxmix.fitting.identify import describe, identifiability_by_name
from jaxmix.fitting.objective import log_scale
from jaxmix.fitting.result import FitResult, from_params, predict, predict_params
from jaxmix.fitting.single import check_method, fit_joint_and_folds, fit_law
from jaxmix.fitting.stacking import (
    DEFAULT_LAWS,
    Combination,
    combine,
    ensemble_params,
    prepare_fold_fits,
)
from jaxmix.laws.base import natural_rows, row_names
from jaxmix.laws.ensemble import EnsembleParams, ensemble_name, is_ensemble, member_names
from jaxmix.laws.registry import ensure_registered, get_law
from jaxmix.status import InputError


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


def fit_combined(
    table, laws=DEFAULT_LAWS, importance=None, delta: float | None = None, given=None
) -> FitResult:
    """The default fit: every law in ``laws`` cross-validated on the pilots and stacked
    (see the module docstring). Needs per-domain ``loss:<domain>`` columns. ``given``:
    fold fits already made (see :func:`jaxmix.fitting.stacking.combine`). The fold fits
    and the pilots are kept in ``diagnostics["combination"]`` (and so in the fit file), so
    that ``optimize`` can weigh the recommendation against the safe mixture."""
    check_amounts(table)
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
        check_losses(table, y[:, i], f"loss:{d}", need)
    try:
        comb = combine(
            table.amounts, y, laws=laws, importance=importance, delta=delta, given=given
        )
    except ValueError:
        # Too few runs to hold any out: the single transfer law (its own checks and errors).
        single = fit_law(table, method="joint", delta=delta, law="transfer")
        note = "too few pilot runs to cross-validate the law families: fitted the transfer law"
        return single._replace(warnings=(note,) + single.warnings)
    amount_range = np.stack([table.amounts.min(axis=0), table.amounts.max(axis=0)], axis=1)
    fit = to_fit_result(comb, table.domains, amount_range)
    dt = jnp.result_type(float)
    pred = np.asarray(
        aot.call(
            predict_params,
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
    diag["combination"] = {**diag["combination"], **_kept(comb, table.domains, table.amounts, y)}
    return fit._replace(residuals=residuals, diagnostics=diag, warnings=tuple(warnings))


def _kept(comb: Combination, domains, amounts, y) -> dict:
    """What a combination fit keeps beyond its members (in the fit file too): the fold
    fits, the pilots, the folds' held-out runs and each member's Huber thresholds."""
    return {
        "fold_params": _fold_naturals(comb, domains),
        "pilots": {
            "amounts": amounts.tolist(),
            "losses": np.where(np.isfinite(y), y, np.nan).tolist(),
        },
        "held_out": comb.held.astype(int).tolist(),
        "member_huber_delta": {
            law: dict(zip(domains, np.asarray(d, float).tolist()))
            for law, d, a in zip(comb.laws, comb.delta, comb.stack)
            if a > 0
        },
    }


def fit_default(
    table, strategy: str = "screen", delta: float | None = None, check_extrapolation=False
) -> FitResult:
    """What ``jaxmix.fit(table)`` and ``jaxmix fit`` do without a law: the transfer law's
    own joint fit first (its input checks, warnings and diagnostics: outliers,
    extrapolation), then :func:`fit_combined`, which carries them. With the default
    strategy the transfer law's fold fits run in the same batched call as its own fit."""
    check_method("joint", None)
    if strategy == "screen" and all(d in table.losses for d in table.domains):
        # The other laws' fold fits compile in the background while the transfer law's
        # own fit is traced and run.
        others = [n for n in DEFAULT_LAWS if n != "transfer"]
        prepare_fold_fits(table.amounts, table.domain_losses(), others, delta=delta)
    single, given = fit_joint_and_folds(
        table, "transfer", strategy, 4, delta, 1.0, check_extrapolation, strategy == "screen"
    )
    single = single._replace(warnings=tuple(pilot_warnings(table)) + single.warnings)
    given = {} if given is None else {"transfer": given}
    combined = fit_combined(table, delta=delta, given=given)
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
    if not is_ensemble(fit.law):
        return from_params(held, fit.law, fit.domains).params
    if "transfer" not in member_names(fit.law):
        return None
    alt = from_params(held, "transfer", fit.domains).params
    members = list(fit.params.members)
    members[member_names(fit.law).index("transfer")] = alt
    return fit.params._replace(members=tuple(members))


def predict_fit(fit, amounts):
    return predict(fit, amounts)


def _fold_naturals(comb: Combination, domains) -> dict:
    """``{law: [per fold {domain: natural row}]}`` for the members with weight > 0."""
    out = {}
    for i, law in enumerate(comb.laws):
        if comb.stack[i] <= 0:
            continue
        spec = get_law(law)
        nat = jax.device_get(
            aot.call(_natural_many, "natural_many", comb.fold_params[i], law_name=law)
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


def member_fit(fit: FitResult, table, strategy: str = "screen") -> FitResult | None:
    """The member of a combination that a bootstrap refits (:func:`refit_law`) as a joint
    fit of its own, without fitting again: the full fit the combination made of it (its
    parameters and Huber thresholds, ``diagnostics["combination"]["member_huber_delta"]``)
    with the identifiability of those parameters on ``table``'s runs, and ``strategy`` for
    its refits. None when the fit does not keep the thresholds (a fit file of an earlier
    jaxmix)."""
    law = refit_law(fit)
    found = ((fit.diagnostics or {}).get("combination") or {}).get("member_huber_delta") or {}
    if law not in found or not is_ensemble(fit.law):
        return None
    params = dict((n, p) for n, _, p in members_of(fit))[law].params
    y = table.domain_losses()
    mask = np.isfinite(y)
    dt = jnp.result_type(float)
    ident = aot.call(
        identifiability_by_name,
        "identifiability",
        jax.tree.map(lambda x: jnp.asarray(x, dt), params),
        jnp.asarray(table.amounts, dt),
        jnp.asarray(np.where(mask, y, 1.0), dt),
        jnp.asarray(mask),
        jnp.asarray(float(log_scale(jnp.asarray(table.amounts))), dt),
        law_name=law,
    )
    report, _ = describe(jax.device_get(ident), params, fit.domains)
    diagnostics = {
        "identifiability": report,
        "huber_delta": {d: float(found[law][d]) for d in fit.domains},
        "prior": 1.0,  # the combination fits every member with the default prior
        "restarts": {"strategy": strategy},
    }
    return FitResult(
        law=law,
        domains=fit.domains,
        params=params,
        method="joint",
        target=fit.target,
        amount_range=fit.amount_range,
        diagnostics=diagnostics,
    )


def refit_law(fit: FitResult) -> str:
    """The law a bootstrap refits: the fit's own, or a combination's largest member."""
    if not is_ensemble(fit.law):
        return fit.law
    members = members_of(fit)
    return max(members, key=lambda m: m[1])[0]
