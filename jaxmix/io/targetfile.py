"""The mixture file of a target objective (``jaxmix run --objective``).

The fields of every mixture file (``budget``, ``weights``, ``amounts``, ``objective``) plus
``objective_spec``, ``predicted_targets``, the ``decision`` against the best observed run
and a summary of the ``fit``; ``jaxmix export`` reads it like any mixture file.
"""

from __future__ import annotations

import json

import numpy as np

from jaxmix.io.atomic import write_atomic
from jaxmix.laws.targets import LAWS


def target_mixture_dict(rec, runs, budget: float) -> dict:
    """JSON-ready dict of a :class:`~jaxmix.study.targets.TargetRecommendation`; ``runs``:
    the table's run ids."""
    fit, c = rec.fit, rec.choice
    per = lambda v: dict(zip(fit.domains, np.asarray(v, float).tolist()))  # noqa: E731
    cols = fit.objective.columns
    by_col = lambda v: dict(zip(cols, np.asarray(v).tolist()))  # noqa: E731
    j = max(c.index, 0)
    return {
        "budget": float(budget),
        "weights": per(c.weights),
        "amounts": per(np.asarray(c.weights) * budget),
        "objective": c.predicted_objective,
        "objective_spec": fit.objective.spec(),
        "predicted_targets": by_col(c.predicted),
        "decision": {
            "action": c.action,
            "line": c.line,
            "best_run": runs[c.best_run],
            "best_run_weights": per(c.best_weights),
            "best_run_observed_objective": c.observed_best,
            "optimum": per(c.optimum),
            "optimum_frank_wolfe_gap": c.fw_gap,
            "gain": None if c.index < 0 else float(c.gain[j]),
            "gain_se": None if c.index < 0 else float(c.gain_se[j]),
            "p_beats_best_run": None if c.index < 0 else float(c.p_beats[j]),
            "candidates_beyond_the_runs": int(np.sum(~np.asarray(c.covered))),
            "optimum_gain": c.optimum_gain,
            "optimum_gain_se": c.optimum_gain_se,
            "stay_near_gain_given_up": None if np.isnan(c.given_up) else c.given_up,
        },
        "fit": {
            "law": "laws per target",
            "laws": {c: LAWS[int(i)] for c, i in zip(fit.objective.columns, fit.law)},
            "fitted_at_budget": fit.budget,
            "cv_rmse": by_col(fit.cv_rmse),
            "ridge": by_col(fit.ridge),
            "status": by_col(fit.status.astype(int)),
        },
        "warnings": list(rec.warnings),
    }


def write_target_mixture(rec, runs, budget: float, path, extra: dict | None = None) -> None:
    """Write the mixture file atomically."""
    data = target_mixture_dict(rec, runs, budget)
    data.update(extra or {})
    write_atomic(path, json.dumps(data, indent=1) + "\n")
