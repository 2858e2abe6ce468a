"""One self-contained HTML page of a report: images embedded as base64, tables, warnings."""

from __future__ import annotations

import base64
import html

from jaxmix.fitting.result import FitResult
from jaxmix.optimization.api import Mixture
from jaxmix.report.text import beats_key, certificate_line, fit_rows, interval_rows
from jaxmix.version import __version__

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}
.warn{color:#8a4b00}
"""

CAPTIONS = {
    "fit_curves.png": "Fitted law against the pilot runs, per domain",
    "predicted_vs_observed.png": "Predicted against observed loss",
    "weights_vs_budget.png": "Optimal weights as the budget grows",
    "bootstrap.png": "Bootstrap intervals of the recommendation",
    "pareto.png": "Trade-off between two domains' losses",
}


def _e(x) -> str:
    return html.escape(str(x))


def _table(header, rows) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _mixture_table(m: Mixture) -> str:
    k = len(m.domains)
    rows = [
        [
            d,
            f"{m.weights[i]:.4f}",
            f"{m.amounts[i]:.6g}",
            f"{m.predicted[i]:.5f}",
            f"{1 / k:.4f}",
            f"{m.uniform_predicted[i]:.5f}",
            m.binding[i],
        ]
        for i, d in enumerate(m.domains)
    ]
    rows.append(["objective", "", "", f"{m.objective:.5f}", "", f"{m.uniform_objective:.5f}", ""])
    return _table(
        ["domain", "weight", "amount", "predicted loss", "uniform w", "uniform loss", "binds"],
        rows,
    )


def _params_table(fit: FitResult) -> str:
    return _table(*fit_rows(fit))


def _study_table(study: dict, domains) -> str:
    level = study["bootstrap"]["level"]
    key = beats_key(study)
    p = "" if study.get(key) is None else f"; {_e(key)} = {study[key]:.3f}"
    header = ["domain", "weight interval", "predicted loss interval"]
    if study.get("optimum_weights_interval"):
        header.append("optimum's weight interval")
    return (
        f"<p>{study['bootstrap']['resamples']} resamples, {level:.0%} intervals of the "
        f"recommended mixture{p}</p>" + _table(header, interval_rows(study, domains))
    )


def _sweep_table(domains, budgets, res) -> str:
    rows = [
        [f"{n:g}"] + [f"{w:.4f}" for w in res.weights[i]] + [f"{res.objective[i]:.5f}"]
        for i, n in enumerate(budgets)
    ]
    return _table(["budget", *(f"w:{d}" for d in domains), "objective"], rows)


def report_html(title, fit, mixture, images, study=None, sweep=None, notes=(), inputs=None) -> str:
    """The page: inputs, the mixture, figures (``{name: png bytes}``), bootstrap intervals,
    the budget sweep, fitted parameters and every warning."""
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{_e(title)}</h1>",
        f"<p>jaxmix {_e(__version__)}; law {_e(fit.law)}, method {_e(fit.method)}"
        + (f", target {_e(fit.target)}" if fit.target else "")
        + "</p>",
    ]
    if inputs:
        parts.append(_table(["input", "value"], [[k, v] for k, v in inputs.items()]))
    parts.append(f"<h2>Recommended mixture for budget {mixture.budget:g}</h2>")
    parts.append(_mixture_table(mixture))
    if mixture.certificate:
        parts.append(f"<p>{_e(certificate_line(mixture.certificate))}</p>")
    if getattr(mixture, "decision", None):
        from jaxmix.optimization.decision import decision_lines

        lines = decision_lines(mixture.decision)
        parts.append(
            f"<p><b>{_e(lines[0])}</b></p><ul>"
            + "".join(f"<li>{_e(x.strip())}</li>" for x in lines[1:])
            + "</ul>"
        )
    if study and "weights_interval" in study:
        parts.append("<h2>Bootstrap</h2>" + _study_table(study, mixture.domains))
    for name, data in images.items():
        b64 = base64.b64encode(data).decode("ascii")
        caption = CAPTIONS.get(name, name)
        parts.append(
            f"<h2>{_e(caption)}</h2><img alt='{_e(caption)}' src='data:image/png;base64,{b64}'>"
        )
    if sweep is not None:
        parts.append("<h2>Budget sweep</h2>" + _sweep_table(mixture.domains, *sweep))
    parts.append("<h2>Fitted parameters</h2>" + _params_table(fit))
    parts += _warnings_section(
        list(fit.warnings) + list(mixture.warnings), bootstrapped=study is not None
    )
    if notes:
        parts.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _warnings_section(warnings: list, bootstrapped: bool = False) -> list[str]:
    """The warnings as shown in the terminal (folded), and every one in full a click away."""
    parts = ["<h2>Warnings</h2>"]
    if warnings:
        from jaxmix.report.warnings import summarize

        shown, folded = summarize(warnings, bootstrapped)
        parts.append(
            "<ul>"
            + "".join(
                f"<li class='warn'>{_e(label)}: {_e(w)}</li>" if label == "warning"
                else f"<li>{_e(label)}: {_e(w)}</li>"
                for label, w in shown
            )
            + "</ul>"
        )
        if folded:  # every warning in full, one click away
            parts.append(
                f"<details><summary>all {len(warnings)} warnings in full</summary><ul>"
                + "".join(f"<li>{_e(w)}</li>" for w in warnings)
                + "</ul></details>"
            )
    else:
        parts.append("<p>none</p>")
    return parts
