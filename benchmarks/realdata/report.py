"""JSON and Markdown output of the side-by-side benchmark."""

from __future__ import annotations

import json
import math
from collections import defaultdict

SOURCES = (
    (
        "regmix",
        "Q. Liu et al., *RegMix: Data Mixture as Regression for Language Model Pre-training*, "
        "ICLR 2025, arXiv:2407.01492; data from github.com/sail-sg/regmix `data/` at b004d3a "
        "(MIT).",
    ),
    (
        "mixinglaws",
        "J. Ye et al., *Data Mixing Laws: Optimizing Data Mixtures by Predicting Language "
        "Modeling Performance*, ICLR 2025, arXiv:2403.16952; data from github.com/yegcjs/"
        "mixinglaws `data/` at 8ad3e12 (no license file: research use, cited). The 5Mix "
        "held-out mixtures are those of SLDBench (H. Lin et al., *Can Language Models "
        "Discover Scaling Laws?*, arXiv:2507.21184, github.com/linhaowei1/SLD at bf7e8e3).",
    ),
    (
        "rectified_sft_scaling",
        "H. Lin et al., *Selecting Large Language Model to Fine-tune via Rectified Scaling "
        "Law*, ICML 2024, arXiv:2402.02314; data from github.com/linhaowei1/Fine-tuning-"
        "Scaling-Law `benchmark/` at 5214568 (Apache-2.0).",
    ),
    (
        "data_constrained_muennighoff",
        "N. Muennighoff et al., *Scaling Data-Constrained Language Models*, NeurIPS 2023; "
        "the runs as published in SLDBench (github.com/linhaowei1/SLD at bf7e8e3, MIT), "
        "token columns relabelled (see its SOURCE.md).",
    ),
    (
        "jaxmix",
        "jaxmix's `transfer` law: M. Li, Y. Liu, E. Xing, *Data Mixing Optimization for "
        "Supervised Fine-Tuning of Large Language Models*, ICML 2025, arXiv:2508.11953.",
    ),
)


def _pct(x) -> str:
    if x is None:
        return "—"
    return "failed" if not math.isfinite(x) else f"{100 * x:.2f}%"


def _num(x, fmt: str) -> str:
    if x is None:
        return "—"
    return "failed" if not math.isfinite(x) else format(x, fmt)


def _best(rows, key, pick):
    vals = [r[key] for r in rows if r.get(key) is not None and math.isfinite(r[key])]
    return pick(vals) if len(vals) > 1 else None


def _bold(text: str, is_best: bool) -> str:
    return f"**{text}**" if is_best else text


def table(rows: list[dict]) -> list[str]:
    """The one Markdown table: best value per (data set, split) in bold."""
    out = [
        "| data set | split | method | held-out mean rel. error | Spearman | "
        "selection regret % | fit s |",
        "|---|---|---|---|---|---|---|",
    ]
    groups = defaultdict(list)
    for r in rows:
        groups[(r["dataset"], r["split"])].append(r)
    for (dataset, split), rs in groups.items():
        err = _best(rs, "mean_rel_error", min)
        rho = _best(rs, "spearman", max)
        reg = _best(rs, "regret_pct", min)
        for r in rs:
            e, s, g = r["mean_rel_error"], r["spearman"], r["regret_pct"]
            if any(n.startswith("n/a") for n in r.get("notes", [])):
                out.append(f"| {dataset} | {split} | {r['method']} | n/a | n/a | n/a | — |")
                continue
            secs = _num(r["fit_seconds"], ".1f")
            if r.get("fit_seconds_warm") is not None:
                secs += f" (warm {r['fit_seconds_warm']:.1f})"
            out.append(
                f"| {dataset} | {split} | {r['method']} | "
                f"{_bold(_pct(e), e is not None and e == err)} | "
                f"{_bold(_num(s, '.3f'), s is not None and s == rho)} | "
                f"{_bold(_num(g, '.2f'), g is not None and g == reg)} | {secs} |"
            )
    return out


def notes(rows: list[dict]) -> list[str]:
    """Each distinct note once, with the (data set, method) pairs it applies to."""
    where = defaultdict(list)
    for r in rows:
        for n in r.get("notes", []):
            key = f"{r['dataset']} / {r['method']}"
            if key not in where[n]:
                where[n].append(key)
    return [f"- {', '.join(keys)}: {n}" for n, keys in where.items()]


def regmix_details(rows: list[dict]) -> list[str]:
    rs = [r for r in rows if r["dataset"] == "regmix"]
    if not rs:
        return []
    out = [
        "| split | method | Spearman, Pile-CC | regret %, Pile-CC | regret %, mean of 13 | "
        "rel. error (other model) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rs:
        out.append(
            f"| {r['split']} | {r['method']} | {_num(r['spearman_pile_cc'], '.3f')} | "
            f"{_num(r['regret_pct'], '.2f')} | {_num(r['regret_mean13_pct'], '.2f')} | "
            f"{_pct(r['mean_rel_error_other_model'])} |"
        )
    return out


def objectives(rows: list[dict]) -> list[str]:
    seen = {}
    for r in rows:
        if r.get("objective"):
            seen.setdefault(r["dataset"], r["objective"])
    return [f"- {d}: {o}" for d, o in seen.items()]


def markdown(result: dict) -> str:
    rows = result["rows"]
    lines = [
        "# jaxmix laws vs peer methods on public experiment data",
        "",
        f"`python -m benchmarks.realdata{' --quick' if result['quick'] else ''}`; jaxmix "
        f"{result['jaxmix_commit']}, JAX {result['jax_version']}, float64, "
        f"{result['wall_seconds']:.0f} s wall. Laws: {', '.join(result['laws'])}"
        + (
            f" (not in this jaxmix: {', '.join(result['laws_missing'])})"
            if result["laws_missing"]
            else ""
        )
        + ".",
        "",
        "Held-out mean relative error = mean over held-out runs and domains of "
        "|pred/obs - 1|. Spearman = rank correlation of predicted and observed held-out loss "
        "(mean over validation domains for mixtures; across models for SFT; across runs for "
        "repetition). Regret = observed objective of the candidate with the best predicted "
        "objective, in % above the best observed candidate. Fit s = wall time of the fits, "
        "JIT compilation included for jaxmix. Best per split in bold.",
        "",
        *table(rows),
        "",
        "Selection objectives:",
        *objectives(rows),
        "",
    ]
    details = regmix_details(rows)
    if details:
        lines += ["RegMix details:", "", *details, ""]
    n = notes(rows)
    if n:
        lines += ["Notes:", "", *n, ""]
    lines += ["Sources:", ""] + [f"- {name}: {text}" for name, text in SOURCES] + [""]
    return "\n".join(lines)


def write(result: dict, out_dir) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "realdata.json").write_text(json.dumps(result, indent=1, default=_jsonable) + "\n")
    (out_dir / "realdata.md").write_text(markdown(result))


def _jsonable(x):
    try:
        return x.tolist()
    except AttributeError:
        return str(x)
