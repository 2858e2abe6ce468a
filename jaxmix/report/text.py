"""Plain-text tables of fits and mixtures for the terminal."""

from __future__ import annotations

import numpy as np

from jaxmix.fitting.result import FitResult
from jaxmix.optimization.api import Mixture


def table(header: list, rows: list) -> str:
    """Right-aligned columns (first column left-aligned) with a rule under the header."""
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]
    fmt = lambda r: "  ".join(  # noqa: E731
        c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))
    )
    return "\n".join(
        [fmt(cells[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in cells[1:]]
    )


def fit_rows(fit: FitResult) -> tuple[list, list]:
    """(header, rows) of a fit's natural parameters per domain (per-source names are the
    union over domains, ``-`` where a domain has none) and its rms residual."""
    nat = fit.natural()
    names = list(dict.fromkeys(n for d in fit.domains for n in nat[d]))
    res = None if fit.residuals is None else np.asarray(fit.residuals)
    rows = []
    for i, d in enumerate(fit.domains):
        row = [d] + [f"{nat[d][n]:.5g}" if n in nat[d] else "-" for n in names]
        if res is not None:
            row.append(f"{100 * np.sqrt(np.nanmean(res[:, i] ** 2)):.3f}%")
        rows.append(row)
    return ["domain"] + names + (["rms resid"] if res is not None else []), rows


def convergence_line(fit: FitResult) -> str | None:
    """``converged 3/3 domains (100%); at bound: b (E low)``, or None for a given fit."""
    share = fit.converged_share()
    if share is None:
        return None
    k = len(fit.domains)
    line = f"converged {round(share * k)}/{k} domains ({100 * share:.0f}%)"
    bounds = {d: b for d, b in (fit.at_bound or {}).items() if b}
    if bounds:
        line += "; at bound: " + ", ".join(
            f"{d} ({' '.join(f'{n} {s}' for n, s in b.items())})" for d, b in bounds.items()
        )
    return line


def format_fit(fit: FitResult) -> str:
    title = f"fit: law={fit.law} method={fit.method}" + (
        f" target={fit.target}" if fit.target else ""
    )
    conv = convergence_line(fit)
    return title + "\n" + table(*fit_rows(fit)) + (f"\n{conv}" if conv else "")


def format_mixture(m: Mixture) -> str:
    rows = []
    for i, d in enumerate(m.domains):
        rows.append(
            [
                d,
                f"{m.weights[i]:.4f}",
                f"{m.amounts[i]:.6g}",
                f"{m.predicted[i]:.5f}",
                f"{1 / len(m.domains):.4f}",
                f"{m.uniform_predicted[i]:.5f}",
                m.binding[i],
            ]
        )
    rows.append(["objective", "", "", f"{m.objective:.5f}", "", f"{m.uniform_objective:.5f}", ""])
    header = ["domain", "weight", "amount", "pred loss", "uniform w", "uniform loss", "binds"]
    lines = [f"mixture for budget {m.budget:g}", table(header, rows)]
    if m.certificate:
        lines.append(certificate_line(m.certificate))
    if m.decision:
        from jaxmix.optimization.decision import decision_lines

        lines += decision_lines(m.decision)
    return "\n".join(lines)


def certificate_line(c: dict) -> str:
    """One line on how the optimum is certified (exact solver, or Frank-Wolfe gap).

    >>> certificate_line({"convex": True, "frank_wolfe_gap": 1e-12})[:38]
    'certificate: Frank-Wolfe gap 1.00e-12 '
    """
    if "gap" in c:
        return (
            f"certificate: exact optimum gap {_rounded(c['gap']):.2e}, "
            f"max weight difference {c['max_weight_diff']:.2e}"
        )
    if c.get("convex"):
        why = "convex problem: the objective is within the gap of the optimum"
    else:
        why = "not convex: the gap measures stationarity only, no bound on the optimum"
        if "restarts" in c:
            why += f"; {c.get('restarts_at_best', '?')} of {c['restarts']} restarts reached it"
    return f"certificate: Frank-Wolfe gap {_rounded(c['frank_wolfe_gap']):.2e} ({why})"


def _rounded(gap: float) -> float:
    """A gap that rounding made slightly negative (an optimum cannot be beaten) as 0.

    >>> _rounded(-1.03e-17), _rounded(2e-9)
    (0.0, 2e-09)
    """
    return 0.0 if -1e-9 < gap < 0 else gap


def format_sweep(domains, label: str, values, res) -> str:
    """One row per problem: the swept value, weights, predicted losses and objective."""
    header = [label] + [f"w:{d}" for d in domains] + [f"L:{d}" for d in domains] + ["objective"]
    rows = []
    for i, v in enumerate(values):
        rows.append(
            [f"{v:g}"]
            + [f"{w:.4f}" for w in res.weights[i]]
            + [f"{x:.5f}" for x in res.predicted[i]]
            + [f"{res.objective[i]:.5f}"]
        )
    return table(header, rows)


def interval_rows(study: dict, domains) -> list:
    """One row per domain: the bootstrap's interval of the recommended weight, of its
    predicted loss and, when the recommendation is not the optimum, of the optimum's weight."""
    opt = study.get("optimum_weights_interval")
    return [
        [
            d,
            "{:.4f} .. {:.4f}".format(*study["weights_interval"][d]),
            "{:.5f} .. {:.5f}".format(*study["predicted_loss_interval"][d]),
        ]
        + (["{:.4f} .. {:.4f}".format(*opt[d])] if opt else [])
        for d in domains
    ]


def beats_key(study: dict) -> str:
    """The study's probability key: against uniform, or against the given baseline."""
    return "p_beats_uniform" if "p_beats_uniform" in study else "p_beats_baseline"


def format_intervals(study: dict, domains, decided: bool = False) -> str:
    """The bootstrap's intervals of the recommended mixture as a table, and its probability
    of beating the baseline (``decided``: the decision lines already give it)."""
    level = study["bootstrap"]["level"]
    key = beats_key(study)
    header = ["domain", "weight", "predicted loss"]
    if study.get("optimum_weights_interval"):
        header.append("optimum weight")
    text = (
        f"bootstrap ({study['bootstrap']['resamples']} resamples, {level:.0%} intervals of "
        "the recommended mixture)\n" + table(header, interval_rows(study, domains))
    )
    if study.get(key) is not None and not (decided and key == "p_beats_uniform"):
        text += f"\n{key}: {study[key]:.3f}"
    boot = study["bootstrap"]
    if boot.get("refits_converged", boot["resamples"]) < boot["resamples"]:
        others = {k: v for k, v in boot.get("refit_status", {}).items() if k != "SUCCESS"}
        text += (
            f"\nrefits: {boot['refits_converged']} of {boot['resamples']} resamples converged in "
            "every domain (" + ", ".join(f"{v} {k}" for k, v in others.items()) + ")"
        )
    return text
