"""Export a mixture to where fine-tuning happens: sampling probabilities and counts.

Formats: ``counts`` (integer amounts per domain by largest-remainder rounding, with epochs
when the available data is known), ``hf`` (probabilities for Hugging Face
``datasets.interleave_datasets``), ``llama-factory`` (``dataset`` and ``interleave_probs``
arguments) and ``open-instruct`` (a ``dataset_mixer`` mapping).
"""

from __future__ import annotations

import json

import numpy as np

from jaxmix.status import InputError

FORMATS = ("counts", "hf", "llama-factory", "open-instruct")
PROB_DIGITS = 6


def largest_remainder(weights, total: int) -> np.ndarray:
    """Non-negative integers summing to ``total``, proportional to ``weights [K]``.

    >>> largest_remainder([0.5, 0.3, 0.2], 7).tolist()
    [4, 2, 1]
    """
    w = np.asarray(weights, dtype=float)
    exact = w / w.sum() * total
    out = np.floor(exact).astype(int)
    short = total - int(out.sum())
    order = np.argsort(-(exact - out), kind="stable")
    out[order[:short]] += 1
    return out


def probabilities(weights) -> list:
    """Weights rounded to ``PROB_DIGITS`` decimals that sum to exactly one."""
    units = largest_remainder(weights, 10**PROB_DIGITS)
    return [round(u / 10**PROB_DIGITS, PROB_DIGITS) for u in units]


def mixture_weights(data: dict, path=None) -> tuple[list, np.ndarray, float]:
    """(domains, weights [K], budget) from a mixture file's content, validated."""
    weights = data.get("weights") if isinstance(data, dict) else None
    if not isinstance(weights, dict) or len(weights) < 2:
        raise InputError(
            "a mixture file needs a 'weights' object with 2 or more domains", path, None, "weights"
        )
    domains = list(weights)
    w = []
    for d in domains:
        v = weights[d]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise InputError(
                f"weight must be a number in [0, 1], got {v!r}", path, None, f"weights.{d}"
            )
        w.append(float(v))
    w = np.asarray(w)
    if abs(w.sum() - 1) > 1e-6:
        raise InputError(f"weights sum to {w.sum():.6g}, not 1", path, None, "weights")
    budget = data.get("budget")
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget > 0:
        raise InputError(f"budget must be a positive number, got {budget!r}", path, None, "budget")
    return domains, w, float(budget)


def _count(budget: float, examples, fmt: str) -> int:
    """The number of examples a trainer draws: ``examples``, else the budget (the pilots'
    unit must then be examples: a budget under 100 is taken for another unit)."""
    if examples is not None:
        if isinstance(examples, bool) or not (examples >= 1 and float(examples).is_integer()):
            raise InputError(f"--examples must be a whole number >= 1, got {examples!r}")
        return int(examples)
    if budget < 100:
        raise InputError(
            f"{fmt} counts examples: give the total with --examples N (the budget {budget:g} "
            "is in the pilots' unit, which looks like millions of tokens or similar)"
        )
    return int(round(budget))


def export_text(
    fmt: str, domains: list, weights, budget: float, available=None, examples=None
) -> str:
    """The mixture in format ``fmt`` (see :data:`FORMATS`) as text. ``examples``: the total
    number of examples to train on, for the formats that count them (default the budget)."""
    probs = probabilities(weights)
    if fmt == "counts":
        counts = largest_remainder(weights, int(round(budget)))
        rows = {}
        for d, w, c in zip(domains, weights, counts):
            row = {"weight": float(w), "count": int(c)}
            if available and d in available:
                row["available"] = available[d]
                row["epochs"] = c / available[d]
            rows[d] = row
        return json.dumps({"budget": int(round(budget)), "domains": rows}, indent=1) + "\n"
    if fmt == "hf":
        # interleave_datasets draws each example from a source chosen with these
        # probabilities; "all_exhausted" restarts a source that runs out (none is cut short),
        # so the first num_examples of the stream hold the mixture's proportions.
        data = {
            "datasets": domains,
            "probabilities": probs,
            "stopping_strategy": "all_exhausted",
            "num_examples": _count(budget, examples, fmt),
        }
        return json.dumps(data, indent=1) + "\n"
    if fmt == "llama-factory":
        return (
            f"dataset: {','.join(domains)}\nmix_strategy: interleave_under\n"
            f"interleave_probs: {','.join(f'{p:.{PROB_DIGITS}f}' for p in probs)}\n"
        )
    if fmt == "open-instruct":
        # open-instruct reads each value as a string: with a '.' a fraction of that dataset
        # (so the mix would depend on the datasets' sizes), without one a number of samples
        # (repeating a dataset that has fewer). Counts make the trained proportions exact.
        counts = largest_remainder(weights, _count(budget, examples, fmt))
        lines = ["dataset_mixer_list:"]
        for d, c in zip(domains, counts):
            lines += [f"  - {json.dumps(d)}", f'  - "{int(c)}"']
        return "\n".join(lines) + "\n"
    raise InputError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
