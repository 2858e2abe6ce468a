"""Checks of a pilot table before a fit.

Errors (:func:`check_amounts`, :func:`check_losses`): data nothing can be fitted to.
Warnings: losses that rise with their own domain's amount (:func:`monotonicity_warnings`),
and data that reads cleanly but would give a silently wrong model (:func:`pilot_warnings`):

- A ``loss:X`` column with no ``n:X`` column while other loss columns are per-domain: X is
  read as an extra target, so its loss is not fitted (a deleted or misspelled ``n:X`` column
  gives a fit with one domain fewer). A warning, not an error: extra targets are part of the
  file format (``loss:total``; the usual aggregate names in ``AGGREGATE_NAMES`` pass
  without one).
- A loss far from the rest of its column (``OUTLIER_RATIO`` times the column's median or
  less than its inverse): a perplexity pasted as a loss, a loss in another unit, a typo.
"""

from __future__ import annotations

import numpy as np

from jaxmix.status import InputError
from jaxmix.table import PilotTable

SCALE_RATIO = 4.0  # a domain's median loss this many times the others' warns (a domain
# far below the others is common: math or code can be learned to a low loss)
PERPLEXITY_LIKE = 8.0  # per-domain losses all above this read like perplexities
OUTLIER_RATIO = 10.0  # a loss this many times its column's median (or 1/this) warns
AGGREGATE_NAMES = frozenset(
    "total all avg average mean overall aggregate sum eval val valid validation heldout "
    "test dev".split()
)  # loss:<name> read as an extra target without a word


def _where(table, r=None) -> str:
    where = str(table.path) if table.path is not None else "pilots"
    if r is not None:
        where += f":{table.row_of(r)}"
    return where


def unmatched_loss_columns(table) -> list[str]:
    """Warnings for ``loss:X`` columns without ``n:X`` when some loss column is per-domain."""
    if not any(d in table.losses for d in table.domains):
        return []  # aggregate targets only: the reference procedure fits them
    out = []
    for name, values in table.losses.items():
        if name in table.domains or name.lower() in AGGREGATE_NAMES:
            continue
        if not np.isfinite(values).any():
            continue
        out.append(
            f"{_where(table)}: column 'loss:{name}' has no 'n:{name}' column, so it is read "
            f"as an extra target and not fitted (domains: {', '.join(table.domains)}); if "
            f"{name} is a training domain, its n:{name} column is missing"
        )
    return out


def outlier_losses(table) -> list[str]:
    """Warnings for losses ``OUTLIER_RATIO`` times above (or below) their column's median."""
    out = []
    for name, values in table.losses.items():
        seen = np.isfinite(values)
        if seen.sum() < 3:
            continue
        median = float(np.median(values[seen]))
        for r in np.where(seen)[0]:
            ratio = values[r] / median
            if ratio > OUTLIER_RATIO or ratio < 1 / OUTLIER_RATIO:
                out.append(
                    f"{_where(table, r)}: column 'loss:{name}': run '{table.runs[r]}' has loss "
                    f"{values[r]:.6g}, {ratio:.3g}x the column's median {median:.6g} (a "
                    "perplexity pasted as a loss, another unit, a typo?); the fit trusts it"
                )
    return out


def measured_runs(table: PilotTable) -> tuple[PilotTable, list[str]]:
    """``(table, warnings)``: the table without the runs that have no loss value at all (rows
    appended before their runs were trained), and one warning naming them."""
    if not table.losses:
        return table, []
    seen = np.zeros(len(table.runs), bool)
    for values in table.losses.values():
        seen |= np.isfinite(values)
    if seen.all() or not seen.any():
        return table, []
    keep = np.where(seen)[0]
    gone = np.where(~seen)[0]
    if np.any(np.ptp(table.amounts[keep], axis=0) <= 0):
        return table, []  # too little is measured: the fit's own checks say what is missing
    names = ", ".join(f"'{table.runs[r]}' (row {table.row_of(r)})" for r in gone)
    kept = table._replace(
        runs=tuple(table.runs[r] for r in keep),
        amounts=table.amounts[keep],
        losses={n: v[keep] for n, v in table.losses.items()},
        seeds=None if table.seeds is None else table.seeds[keep],
        rows=tuple(table.row_of(r) for r in keep),
    )
    return kept, [
        f"{_where(table)}: {len(gone)} run{'s' if len(gone) > 1 else ''} without any loss "
        f"value left out ({names}): train them and fill in their loss: columns"
    ]


def scale_warnings(table) -> list[str]:
    """Warnings for a per-domain loss column on another scale than the others' (its median
    ``SCALE_RATIO`` times the median of theirs), or with every value above ``PERPLEXITY_LIKE``:
    a perplexity or another unit, which would dominate the summed objective."""
    medians = {}
    for d in table.domains:
        values = table.losses.get(d)
        if values is not None and np.isfinite(values).sum() >= 1:
            medians[d] = float(np.median(values[np.isfinite(values)]))
    out = []
    for d, m in medians.items():
        values = table.losses[d][np.isfinite(table.losses[d])]
        others = [v for e, v in medians.items() if e != d]
        ratio = m / float(np.median(others)) if others else 1.0
        if values.min() > PERPLEXITY_LIKE or ratio > SCALE_RATIO:
            than = f", {ratio:.3g}x the other domains' median" if others else ""
            out.append(
                f"{_where(table)}: column 'loss:{d}': its losses (median {m:.4g}{than}) look "
                "like perplexities or another unit, not validation losses in nats; summed "
                "with the others they would dominate the objective (write ln(perplexity))"
            )
    return out


def pilot_warnings(table) -> list[str]:
    """Every warning of this module for ``table``."""
    return unmatched_loss_columns(table) + scale_warnings(table) + outlier_losses(table)


def check_losses(table: PilotTable, y: np.ndarray, column: str, need: int) -> None:
    seen = np.isfinite(y)
    if not seen.any():
        raise InputError("no values to fit", table.path, None, column)
    if seen.sum() < need:
        raise InputError(
            f"only {int(seen.sum())} runs have a value; fitting needs at least {need} "
            "(the law's parameters per domain)",
            table.path,
            None,
            column,
        )
    if np.ptp(y[seen]) <= 0:
        raise InputError("all losses are equal; nothing to fit", table.path, None, column)


def check_amounts(table: PilotTable) -> None:
    for j, d in enumerate(table.domains):
        if np.ptp(table.amounts[:, j]) <= 0:
            raise InputError(
                "the amount of this domain never varies across runs, so its "
                "effect cannot be fitted",
                table.path,
                None,
                f"n:{d}",
            )


def monotonicity_warnings(table: PilotTable, y: np.ndarray, base: np.ndarray) -> list[str]:
    """Warnings where a domain's loss rises while only its own amount grows."""
    out = []
    for i, d in enumerate(table.domains):
        others = np.delete(np.arange(len(table.domains)), i)
        rows = np.where(
            np.all(table.amounts[:, others] == base[others], axis=1) & np.isfinite(y[:, i])
        )[0]
        rows = rows[np.argsort(table.amounts[rows, i], kind="stable")]
        for a, b in zip(rows[:-1], rows[1:]):
            if table.amounts[b, i] > table.amounts[a, i] and y[b, i] > y[a, i]:
                out.append(
                    f"{d}: noisy pilots: loss rises from {y[a, i]:.6g} to {y[b, i]:.6g} "
                    f"as n:{d} grows from {table.amounts[a, i]:g} to {table.amounts[b, i]:g}"
                )
    return out


def base_amounts(table: PilotTable) -> np.ndarray:
    """``[K]`` the most common amount of each domain (the design's base run)."""
    out = []
    for j in range(len(table.domains)):
        values, counts = np.unique(table.amounts[:, j], return_counts=True)
        out.append(values[np.argmax(counts)])
    return np.asarray(out)
