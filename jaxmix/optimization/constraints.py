"""The constraints of ``optimize`` from per-domain options: objective weights, weight
bounds (``--min-weight``, ``--max-weight``, ``--fix``, availability caps), unique data for
repetition, and which bounds bind at the answer."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxmix.fitting.result import FitResult
from jaxmix.laws.repetition import effective_amounts
from jaxmix.status import InputError

BIND_TOL = 1e-7  # a weight this close to a bound binds it


def requested(**given) -> dict:
    """The constraints a caller gave, JSON-ready (``{domain: float}`` or a number)."""
    out = {}
    for key, value in given.items():
        if value is None or value is False:
            continue
        if isinstance(value, dict):
            value = {str(d): float(v) for d, v in value.items()}
        out[key] = value
    return out


def per_domain(fit: FitResult, values, flag: str, default: float) -> np.ndarray:
    """``[K]`` values of ``{domain: value}`` (``default`` elsewhere), checked; ``flag`` names
    the option in errors."""
    out = np.full(len(fit.domains), float(default))
    for name, value in (values or {}).items():
        if name not in fit.domains:
            raise InputError(f"{flag}: unknown domain {name!r} (domains: {', '.join(fit.domains)})")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{flag}: {name}={value!r} is not a number") from None
        if not np.isfinite(value):
            raise InputError(f"{flag}: {name}={value} is not finite")
        out[fit.domains.index(name)] = value
    return out


def importance_weights(fit: FitResult, importance) -> np.ndarray:
    """``[K]`` objective weights from ``{domain: weight}`` (default 1), checked."""
    imp = per_domain(fit, importance, "importance", 1.0)
    if np.any(imp < 0) or not np.any(imp > 0):
        raise InputError("importance: weights must be >= 0 and not all zero")
    return imp


def needs_caps(lower, upper) -> bool:
    """Whether any upper bound ``[..., K]`` binds below what the softmax map can reach."""
    lower, upper = np.asarray(lower), np.asarray(upper)
    return bool(np.any(upper < lower + (1.0 - lower.sum(axis=-1, keepdims=True)) - 1e-12))


def constraints(
    fit: FitResult,
    budget: float,
    min_weight=None,
    max_weight=None,
    fix=None,
    available=None,
    max_epochs: float | None = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``[K]`` lower and upper weight bounds from per-domain dicts; checks feasibility."""
    max_epochs = 1.0 if max_epochs is None else max_epochs
    lower = per_domain(fit, min_weight, "min_weight", 0.0)
    upper = per_domain(fit, max_weight, "max_weight", 1.0)
    for flag, arr in (("min_weight", lower), ("max_weight", upper)):
        if np.any((arr < 0) | (arr > 1)):
            raise InputError(f"{flag}: weights must be in [0, 1]")
    fixed = per_domain(fit, fix, "fix", np.nan)
    if np.any(fixed[np.isfinite(fixed)] < 0) or np.any(fixed[np.isfinite(fixed)] > 1):
        raise InputError("fix: weights must be in [0, 1]")
    lower = np.where(np.isfinite(fixed), fixed, lower)
    upper = np.where(np.isfinite(fixed), fixed, upper)
    if available:
        if not (np.isfinite(max_epochs) and max_epochs > 0):
            raise InputError(f"max_epochs must be > 0, got {max_epochs}")
        avail = per_domain(fit, available, "available", np.inf)
        if np.any(avail <= 0):
            raise InputError("available: amounts must be > 0")
        upper = np.minimum(upper, max_epochs * avail / budget)
    bad = np.where(lower > upper + 1e-12)[0]
    if len(bad):
        d = fit.domains[bad[0]]
        raise InputError(
            f"constraints cannot be satisfied: {d} needs weight >= {lower[bad[0]]:g} "
            f"but <= {upper[bad[0]]:g}"
        )
    if lower.sum() > 1 + 1e-9:
        raise InputError(
            f"constraints cannot be satisfied: minimum weights sum to {lower.sum():g} > 1"
        )
    if upper.sum() < 1 - 1e-9:
        raise InputError(
            f"constraints cannot be satisfied: maximum weights (with availability) "
            f"sum to {upper.sum():g} < 1"
        )
    return lower, np.minimum(upper, 1.0)


def unique_amounts(fit: FitResult, available, r_star: float) -> np.ndarray:
    """``[K]`` unique data per domain for repetition-aware optimization (inf if not given)."""
    if not available:
        raise InputError(
            "repetition needs available={domain: unique amount} (--available domain=amount)"
        )
    if not (np.isfinite(r_star) and r_star > 0):
        raise InputError(f"r_star must be > 0, got {r_star}")
    unique = per_domain(fit, available, "available", np.inf)
    if np.any(unique <= 0):
        raise InputError("available: amounts must be > 0")
    return unique


def repetition_notes(domains, amounts, unique, r_star) -> list[str]:
    """One line per domain the mixture repeats: epochs and what the repeats are worth."""
    worth = np.asarray(effective_amounts(jnp.asarray(amounts), jnp.asarray(unique), r_star))
    return [
        f"{d}: {a / u:.3g} epochs over its unique data, worth {w / u:.3g} epochs of fresh data"
        for d, a, u, w in zip(domains, amounts, unique, worth)
        if np.isfinite(u) and a > u * (1 + 1e-9)
    ]


def binding(weights, lower, upper) -> tuple:
    """K labels: ``"fixed"``, ``"min"``, ``"max"`` or ``""``, the bound each weight is at."""
    out = []
    for w, lo, hi in zip(weights, lower, upper):
        if hi - lo <= BIND_TOL:
            out.append("fixed")
        elif w - lo <= BIND_TOL and lo > 0:
            out.append("min")
        elif hi - w <= BIND_TOL and hi < 1:
            out.append("max")
        else:
            out.append("")
    return tuple(out)
