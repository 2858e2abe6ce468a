"""A report of a fit and its mixture: the studies behind the pictures, PNGs and one HTML page.

:func:`build_report` gathers the numbers (law curves, a budget sweep, a Pareto front and,
with pilots and a joint fit, a small bootstrap) with the existing batched studies, draws
them with :mod:`jaxmix.report.plots` and returns ``{file name: bytes}``; :func:`write_report`
writes them atomically into a folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxmix.fitting.checks import base_amounts
from jaxmix.fitting.result import FitResult, predict
from jaxmix.io.atomic import write_atomic
from jaxmix.optimization.api import Mixture
from jaxmix.optimization.constraints import constraints
from jaxmix.status import InputError
from jaxmix.table import PilotTable

BOOTSTRAP_DEFAULT = 64  # resamples in a report: a picture of the spread, quick on a CPU
CONSTRAINT_KEYS = ("min_weight", "max_weight", "fix", "available", "max_epochs")
FIGURES = (  # every figure a report may hold
    "fit_curves.png",
    "predicted_vs_observed.png",
    "weights_vs_budget.png",
    "pareto.png",
    "bootstrap.png",
)


def observed_losses(table: PilotTable, fit: FitResult) -> np.ndarray:
    """``[R, K]`` the loss each domain's law was fitted to (its own ``loss:<domain>``, or
    the aggregate target of a reference fit); NaN where not measured."""
    target = fit.target
    if target in (None, "loss:<domain>"):
        return table.domain_losses()
    col = table.losses.get(target[5:] if target.startswith("loss:") else target)
    if col is None:
        return np.full(table.amounts.shape, np.nan)
    return np.repeat(np.asarray(col)[:, None], len(table.domains), axis=1)


def _align(table: PilotTable, fit: FitResult) -> PilotTable:
    if tuple(table.domains) != tuple(fit.domains):
        raise InputError(
            f"the pilots' domains ({', '.join(table.domains)}) differ from the fit's "
            f"({', '.join(fit.domains)})",
            table.path,
        )
    return table


def curve_data(table: PilotTable, fit: FitResult, points: int = 60):
    """Per domain ``(x [G], law [G])`` with the others at base, and pilot points
    ``(x [R], observed [R], predicted [R], on_curve [R])`` (see :func:`plots.fit_curves`)."""
    base = base_amounts(table)
    y = observed_losses(table, fit)
    pred = np.asarray(predict(fit, table.amounts), dtype=float)
    curves, pts = [], []
    for i in range(len(fit.domains)):
        own = table.amounts[:, i]
        hi = own.max()
        lo = own[own > 0].min() if hi > 0 else 1.0  # a domain may be left out of some runs
        hi = max(hi, lo)
        grid = np.geomspace(lo / 1.5, hi * 1.5, points)
        amounts = np.broadcast_to(base, (points, len(base))).copy()
        amounts[:, i] = grid
        curves.append((grid, np.asarray(predict(fit, amounts), dtype=float)[:, i]))
        others = np.delete(np.arange(len(base)), i)
        on = np.all(table.amounts[:, others] == base[others], axis=1)
        pts.append((table.amounts[:, i], y[:, i], pred[:, i], on))
    return curves, pts, y, pred


def default_budgets(budget: float, count: int = 11) -> np.ndarray:
    """Budgets from 1/100 to 100x ``budget``, evenly spaced in log (11: the Pareto front's
    batch size, so both studies share one compiled program)."""
    return np.geomspace(budget / 100, budget * 100, count)


def _feasible(fit: FitResult, budgets, kw: dict) -> np.ndarray:
    ok = []
    for n in budgets:
        try:
            constraints(fit, float(n), **{k: kw.get(k) for k in CONSTRAINT_KEYS if k in kw})
            ok.append(float(n))
        except InputError:
            pass
    return np.asarray(ok)


def build_report(
    fit: FitResult,
    mixture: Mixture,
    table: PilotTable | None = None,
    study: dict | None = None,
    budgets=None,
    pair=None,
    bootstrap: int = BOOTSTRAP_DEFAULT,
    level: float = 0.9,
    seed: int = 0,
    optimize_kw: dict | None = None,
    progress=None,
    title: str = "jaxmix report",
    inputs: dict | None = None,
) -> dict:
    """Figures and the HTML page of a fit and its recommended mixture.

    Args:
      fit, mixture: the fitted law and the mixture recommended from it.
      table: the pilot table the fit came from (curves against points, predicted vs
        observed and the bootstrap need it), or None.
      study: a bootstrap study already run (``jaxmix.bootstrap``'s first result, or the
        ``weights_interval``... keys of a mixture file); else one of ``bootstrap``
        resamples runs when ``table`` is given and the fit is joint (0: none).
      budgets: budgets of the sweep (default :func:`default_budgets` around the mixture's).
      pair: two domains for the Pareto front (default the first two).
      level, seed: interval level and seed of the bootstrap (and of the solver restarts).
      optimize_kw: the constraints and solver options the mixture was optimized with.

    Returns:
      ``{file name: bytes}``: ``index.html`` and one PNG per figure.
    """
    from jaxmix.report import plots
    from jaxmix.report.html import report_html

    plots.pyplot()  # fail early, before any study runs, when matplotlib is missing
    kw = dict(optimize_kw or {})
    files, notes = {}, []
    if table is not None:
        _pilot_figures(table, fit, files)
    else:
        notes.append("no pilot table: law curves, predicted vs observed and bootstrap skipped")
    budgets, sweep = _sweep_figure(fit, mixture, table, budgets, kw, files)
    _pareto_figure(fit, mixture, pair, kw, seed, files)
    if study is None and table is not None and bootstrap >= 2:
        study = _bootstrap_study(fit, mixture, table, bootstrap, kw, seed, level, progress, notes)
    if study and "weights_interval" in study:
        _bootstrap_figure(fit.domains, mixture, study, files)
    files["index.html"] = report_html(
        title,
        fit,
        mixture,
        images={k: v for k, v in files.items() if k.endswith(".png")},
        study=study,
        sweep=(budgets, sweep) if sweep is not None else None,
        notes=notes,
        inputs=inputs or {},
    ).encode("utf-8")
    return files


def _pilot_figures(table: PilotTable, fit: FitResult, files: dict) -> None:
    """The law's curves against the pilots, and predicted against observed losses."""
    from jaxmix.report import plots

    domains = fit.domains
    _align(table, fit)
    curves, pts, y, pred = curve_data(table, fit)
    files["fit_curves.png"] = plots.fit_curves(domains, curves, pts)
    used = np.isfinite(y)
    if fit.residuals is not None and np.shape(fit.residuals) == y.shape:
        used &= np.isfinite(np.asarray(fit.residuals))
    files["predicted_vs_observed.png"] = plots.predicted_vs_observed(
        domains, np.where(used, y, np.nan), pred
    )


def _sweep_figure(fit, mixture, table, budgets, kw: dict, files: dict):
    """``(budgets, SweepResult or None)``: the weights across budgets, and their figure."""
    from jaxmix.report import plots
    from jaxmix.study.sweeps import sweep_budgets

    budgets = default_budgets(mixture.budget) if budgets is None else np.asarray(budgets, float)
    budgets = _feasible(fit, budgets, kw)
    sweep = None
    if len(budgets):
        sweep = sweep_budgets(fit, budgets, **kw)
        pilot_total = float(base_amounts(table).sum()) if table is not None else None
        files["weights_vs_budget.png"] = plots.weights_vs_budget(
            fit.domains, budgets, sweep.weights, mixture.budget, pilot_total
        )
    return budgets, sweep


def _pareto_figure(fit, mixture, pair, kw: dict, seed: int, files: dict) -> None:
    """The trade-off front between two domains' losses at the mixture's budget."""
    from jaxmix.report import plots
    from jaxmix.study.sweeps import pareto

    domains = fit.domains
    pair = tuple(pair) if pair else tuple(domains[:2])
    ckw = {k: kw[k] for k in CONSTRAINT_KEYS if k in kw}
    t, front = pareto(
        fit, mixture.budget, pair, 11, restarts=kw.get("restarts", 8), seed=seed, **ckw
    )
    ia, ib = domains.index(pair[0]), domains.index(pair[1])
    files["pareto.png"] = plots.pareto_front(
        pair,
        front.predicted[:, ia],
        front.predicted[:, ib],
        t,
        (float(mixture.predicted[ia]), float(mixture.predicted[ib])),
        others=tuple(d for d in domains if d not in pair),
    )


def _bootstrap_study(fit, mixture, table, bootstrap: int, kw: dict, seed, level, progress, notes):
    """A bootstrap study of ``bootstrap`` resamples of the recommended mixture (see
    :func:`jaxmix.study.intervals.recommendation_intervals`), or None with a note when the
    fit is not joint."""
    from jaxmix.study.intervals import recommendation_intervals

    if fit.method != "joint":
        notes.append("bootstrap skipped: it needs per-domain losses (the joint fit)")
        return None
    bkw = {key: v for key, v in kw.items() if key != "seed"}
    return recommendation_intervals(
        table, fit, mixture, bootstrap, seed=seed, level=level, progress=progress, **bkw
    )


def _bootstrap_figure(domains, mixture, study: dict, files: dict) -> None:
    from jaxmix.report import plots

    iv = lambda key: np.array([study[key][d] for d in domains], dtype=float)  # noqa: E731
    files["bootstrap.png"] = plots.bootstrap_intervals(
        domains,
        np.asarray(mixture.weights),
        iv("weights_interval"),
        np.asarray(mixture.predicted),
        iv("predicted_loss_interval"),
        study["bootstrap"]["level"],
    )


def write_report(files: dict, folder) -> list[Path]:
    """Write ``{name: bytes}`` into ``folder`` (created if missing; its parent must exist),
    each file atomically. Returns the paths written."""
    folder = Path(folder)
    if not folder.parent.resolve().is_dir():
        raise InputError(f"folder {str(folder.parent)!r} does not exist", folder)
    if folder.exists() and not folder.is_dir():
        raise InputError("exists and is not a folder", folder)
    folder.mkdir(exist_ok=True)
    out = []
    for name, data in files.items():
        write_atomic(folder / name, data)
        out.append(folder / name)
    # A figure this report does not have (bootstrap.png after --bootstrap 0, the curves of a
    # report without pilots) must not stay from an earlier report in the same folder.
    for name in FIGURES:
        if name not in files and (folder / name).is_file():
            (folder / name).unlink()
    return out
