"""How far to trust a solved mixture: the optimality certificate (Frank-Wolfe gap, the
exact solver's answer for a separable law, restarts that agree) and the warnings about the
answer (a solver that falls short, extrapolation past the pilots, a recommendation that
rests on the largest pilots)."""

from __future__ import annotations

import numpy as np

from jaxmix.optimization.solve import Solution, convex_problem

EXTRAPOLATION_RATIO = 2.0  # budget amount beyond this multiple of the largest pilot warns
UNIT_RATIO = 100.0  # a budget this far outside the pilots' total amounts is in another unit?
SENSITIVITY = 0.05  # weight change without the largest pilots that warns
FW_TOL = 1e-6  # relative Frank-Wolfe gap below which a convex law's optimum is certified
RESTART_TOL = 1e-9  # relative objective difference within which restarts agree


def certify(law, fit, sol: Solution, repetition: bool) -> tuple[dict, list[str]]:
    """``(certificate, warnings)`` of a solution (see ``Mixture.certificate``)."""
    w_grad = np.asarray(sol.weights, dtype=float)
    convex = convex_problem(law, repetition)
    r_obj = np.asarray(sol.restart_objective, dtype=float)
    best = float(sol.objective)
    at_best = int(np.sum(np.isfinite(r_obj) & (r_obj <= best + RESTART_TOL * max(abs(best), 1.0))))
    certificate = {
        "convex": convex,
        "frank_wolfe_gap": float(sol.fw_gap),
        "restarts": int(r_obj.size),
        "restarts_at_best": at_best,
    }
    warnings = []
    if law.separable and not repetition:
        w_exact = np.asarray(sol.exact_weights, dtype=float)
        gap = float(sol.objective - sol.exact_objective)
        certificate.update(
            {
                "exact_weights": dict(zip(fit.domains, w_exact.tolist())),
                "exact_objective": float(sol.exact_objective),
                "gap": gap,
                "max_weight_diff": float(np.max(np.abs(w_grad - w_exact))),
            }
        )
        if certificate["max_weight_diff"] > 1e-4:
            warnings.append(
                f"the gradient solver and the exact solver differ by "
                f"{certificate['max_weight_diff']:.2g} in weight (objective gap {gap:.2g}); "
                "reporting the mixture with the lower objective"
            )
    elif not float(sol.fw_gap) <= FW_TOL * max(abs(best), 1.0):
        warnings.append(
            f"the optimizer's Frank-Wolfe gap {float(sol.fw_gap):.2g} is not small: the "
            "mixture may be short of the optimum"
            + ("" if convex else " (or of a stationary point: the objective is not convex)")
        )
    elif not convex and at_best < r_obj.size:
        warnings.append(
            f"the objective is not convex here and only {at_best} of {r_obj.size} restarts "
            "reached the best mixture: it is the best local optimum found, not a certified "
            "global one (more --restarts search further)"
        )
    return certificate, warnings


def extrapolation_warnings(fit, amounts) -> list[str]:
    """One line per domain whose amount is far beyond its largest pilot amount."""
    warnings = []
    if fit.amount_range is not None:
        top = np.asarray(fit.amount_range)[:, 1]
        for d, amount, t in zip(fit.domains, amounts, top):
            if amount > EXTRAPOLATION_RATIO * t:
                warnings.append(
                    f"{d}: the budget's amount {amount:.4g} is {amount / t:.2g}x the "
                    f"largest pilot amount {t:.4g}; the law is extrapolating (confirm the "
                    "mixture with runs from `jaxmix next`)"
                )
    return warnings


def unit_warnings(fit, budget: float) -> list[str]:
    """A line when ``budget`` is more than ``UNIT_RATIO`` times outside the pilots' total
    amounts (bounded by the sums of each domain's smallest and largest pilot amount)."""
    if fit.amount_range is None:
        return []
    rng = np.asarray(fit.amount_range, dtype=float)
    low, high = float(rng[:, 0].sum()), float(rng[:, 1].sum())
    if not (budget * UNIT_RATIO < low or budget > UNIT_RATIO * high):
        return []
    return [
        f"the budget {budget:.4g} is {budget / high if budget > high else budget / low:.2g}x "
        f"the pilot runs' total amounts (each domain's smallest to largest pilot amount "
        f"adds up to {low:.4g} to {high:.4g}): is it in another unit? The budget is in the "
        "unit of the pilots' n: columns"
    ]


def sensitivity_warnings(without_largest, weights) -> list[str]:
    """A line when the mixture fitted without the largest pilots differs by much."""
    diff = float(np.max(np.abs(without_largest - weights)))
    if diff > SENSITIVITY:
        return [
            "the recommendation rests on the largest pilots: fitted without them the "
            f"law recommends {np.round(without_largest, 3).tolist()} (weights differ by "
            f"up to {diff:.2g})"
        ]
    return []
