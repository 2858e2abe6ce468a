"""``jaxmix validate``'s terminal table: the scores of every law, the verdict, and why the
regret column cannot rank the laws when it cannot."""

from __future__ import annotations

import numpy as np

from jaxmix.report.text import table
from jaxmix.study.validate import Validation, percent


def format_validation(v: Validation) -> str:
    """The scores as a terminal table, then the verdict."""
    pct = percent
    num = lambda x, f: "-" if not np.isfinite(x) else format(x, f)  # noqa: E731
    header = [
        "law",
        "params/domain",
        "fit err",
        "LOO err",
        f"{v.folds}-fold err",
        "extrap err",
        "rank corr",
        "regret",
        "converged",
        "note",
    ]
    # Numeric columns at least as wide as their widest possible cell: a diverged fold does
    # not move the columns.
    header = [h if j in (0, len(header) - 1) else h.rjust(8) for j, h in enumerate(header)]
    rows = [
        [
            s.law,
            s.params_per_domain,
            pct(s.fit_error),
            pct(s.cv_error),
            pct(s.kfold_error),
            pct(s.extrapolation_error),
            num(s.rank_corr, ".3f"),
            percent(s.regret_pct / 100),
            "-" if not np.isfinite(s.converged) else f"{100 * s.converged:.0f}%",
            s.note,
        ]
        for s in v.scores
    ]
    return table(header, rows) + "\n" + v.verdict + _regret_note(v)


def _regret_note(v: Validation) -> str:
    """Why the regret column cannot rank the laws, when it cannot."""
    regrets = [s.regret_pct for s in v.scores if np.isfinite(s.regret_pct)]
    if not v.regret_groups:
        return "\nregret: no two pilot mixtures share a budget, so no pick can be scored"
    if regrets and max(regrets) == 0:
        return (
            f"\nregret: 0 for every law: each picks the best observed run in each of the "
            f"{v.regret_groups} groups of equal-budget pilots, so it cannot rank them here"
        )
    return ""
