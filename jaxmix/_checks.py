"""Sanity checks of a pilot table that warn rather than fail: data that reads cleanly but
would give a silently wrong model.

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


def pilot_warnings(table) -> list[str]:
    """Every warning of this module for ``table``."""
    return unmatched_loss_columns(table) + outlier_losses(table)
