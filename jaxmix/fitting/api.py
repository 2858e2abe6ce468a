"""``fit``: the table-level fit API. Chooses the method for a pilot table, then fits the
default combination of every law family (:mod:`.combined`) or one given law (:mod:`.single`).
"""

from __future__ import annotations

import numpy as np

from jaxmix.fitting.checks import measured_runs
from jaxmix.fitting.combined import fit_default
from jaxmix.fitting.result import FitResult
from jaxmix.fitting.single import check_method, fit_law
from jaxmix.status import InputError
from jaxmix.table import PilotTable


def choose_method(table: PilotTable) -> tuple[str, str | None, str | None]:
    """(method, target, note) for a table: joint when per-domain losses exist, else the
    reference procedure on the single aggregate loss column."""
    if any(d in table.losses and np.isfinite(table.losses[d]).any() for d in table.domains):
        return "joint", None, None
    others = [
        n for n in table.losses if n not in table.domains and np.isfinite(table.losses[n]).any()
    ]
    if len(others) == 1:
        note = (
            f"the pilots have no per-domain loss:<domain> columns, so the joint fit cannot "
            f"run: using the reference procedure on 'loss:{others[0]}'"
        )
        return "reference", f"loss:{others[0]}", note
    if not others:
        raise InputError("no loss column has any value to fit", table.path)
    raise InputError(
        "no per-domain losses and several aggregate targets "
        f"({', '.join('loss:' + o for o in others)}): choose one with --target",
        table.path,
    )


def fit(
    table: PilotTable,
    method: str | None = None,
    target: str | None = None,
    strategy: str = "screen",
    delta: float | None = None,
    prior: float = 1.0,
    reference_unit: float = 1.0,
    check_extrapolation: bool = False,
    law: str | None = None,
) -> FitResult:
    """Fit the loss model to a pilot table.

    Args:
      table: a :class:`PilotTable` (see :func:`read_pilots`).
      method: ``"joint"`` (every domain against every run), ``"reference"`` (the authors'
        two-stage procedure), or None: joint when per-domain losses exist, else reference on
        the aggregate loss column (a warning says so).
      target: for ``reference``, the loss column to fit (default ``loss:<domain>`` per domain).
      strategy, prior: multi-start scheme and prior weight of the joint fit
        (see :func:`joint_fit_arrays`).
      delta: Huber threshold of either method; None: from the pilots' residual scale for
        the joint fit, the authors' 1e-3 for the reference procedure.
      reference_unit: amounts are divided by it for the reference procedure only.
      check_extrapolation: joint fit only: refit without each domain's largest pilots and
        report (and warn about) the error of predicting them.
      law: the law family of the joint fit (:func:`available_laws`), or None (the default):
        every law family cross-validated on the pilots and combined by held-out error, the
        recommendation ``jaxmix run`` makes (see :func:`fit_combined`). The reference
        procedure fits ``transfer`` only.

    >>> from jaxmix import example_pilots, read_pilots
    >>> result = fit(read_pilots(example_pilots("llama32_3b")))
    >>> result.method, result.target
    ('reference', 'loss:total')
    """
    table, skipped = measured_runs(table)
    result = _fit(table, method, target, strategy, delta, prior, reference_unit,
                  check_extrapolation, law)
    return result._replace(warnings=tuple(skipped) + tuple(result.warnings))


def _fit(table, method, target, strategy, delta, prior, reference_unit, check_extrapolation,
         law) -> FitResult:
    note = None
    if method is None:
        method, auto_target, note = choose_method(table)
        target = target or auto_target
    check_method(method, target)
    if method == "joint" and law is None:
        return fit_default(
            table, strategy=strategy, delta=delta, check_extrapolation=check_extrapolation
        )
    return fit_law(
        table,
        method,
        target,
        strategy=strategy,
        delta=delta,
        prior=prior,
        reference_unit=reference_unit,
        check_extrapolation=check_extrapolation,
        law=law,
        note=note,
    )
