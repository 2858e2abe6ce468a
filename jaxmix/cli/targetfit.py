"""Target fit files on the command line: ``fit --objective`` writes one, ``optimize`` and
``predict`` answer from one (:mod:`jaxmix.io.targetfitfile`)."""

from __future__ import annotations

import csv
import io

import numpy as np

from jaxmix.cli.common import say, warn


def write_target_fit_cmd(args, table, objective) -> None:
    """``jaxmix fit --objective``: fit the target law and write its fit file."""
    from jaxmix.cli.targets import check_target_flags, format_fit_lines
    from jaxmix.fitting.targets import describe_status, fit_targets
    from jaxmix.io.targetfitfile import write_target_fit

    check_target_flags(args)
    fit = fit_targets(table, objective, seed=getattr(args, "seed", 0) or 0)
    warnings = describe_status(fit)
    write_target_fit(fit, table.runs, args.output, warnings)
    warn(args, warnings)
    say(args, "\n".join(format_fit_lines(fit, len(table.runs))))


def read_any_fit(path):
    """``(FitResult, None)`` for a per-domain fit file, ``(TargetFit, run ids)`` for a target
    fit file: the file is read and decoded once."""
    from pathlib import Path

    from jaxmix.io.fitfile import fit_from_dict
    from jaxmix.io.jsonfile import read_json
    from jaxmix.io.targetfitfile import is_target_fit, target_fit_from_dict

    data = read_json(path, "fit")
    if is_target_fit(data):
        return target_fit_from_dict(data, Path(path))
    return fit_from_dict(data, Path(path)), None


def optimize_target_fit(args, fit, runs) -> None:
    """``jaxmix optimize`` on a target fit file: the decision of ``run --objective``."""
    from jaxmix.cli.targets import answer, decision_options
    from jaxmix.fitting.targets import describe_status
    from jaxmix.optimization.targets import choose
    from jaxmix.study.targets import TargetRecommendation

    names, candidates, near, strength = decision_options(args, fit.domains)
    rec = TargetRecommendation(
        fit, choose(fit, candidates, names=names, near=near, strength=strength),
        tuple(describe_status(fit)))
    answer(args, rec, runs, args.budget, {"fit_file": str(args.fit)}, True)


def predict_target_fit(args, fit) -> str:
    """``jaxmix predict`` on a target fit file: the CSV text of each mixture's predicted
    targets and objective with intervals, its gain over the best observed run and whether
    the runs cover it."""
    from jaxmix.io.mixtures_csv import read_mixture_table
    from jaxmix.study.targets import predict_targets

    if getattr(args, "importance", None):
        from jaxmix.status import InputError

        raise InputError("--importance: a target fit's objective is fixed when it is fitted "
                         "(jaxmix fit --objective)")
    names, weights, _ = read_mixture_table(args.mixtures, fit.domains)
    out = predict_targets(fit, weights, level=args.level)
    lo, hi = f"lo{round(100 * out.level)}", f"hi{round(100 * out.level)}"
    header = ["name"] + [f"w:{d}" for d in fit.domains]
    for c in out.columns:
        header += [c, f"{c}:{lo}", f"{c}:{hi}"]
    header += ["objective", f"objective:{lo}", f"objective:{hi}", "gain_over_best_run",
               "gain_se", "p_beats_best_run", "covered_by_runs"]
    fmt = lambda x: "" if not np.isfinite(x) else f"{x:.10g}"  # noqa: E731
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for j, name in enumerate(names):
        cells = [name] + [fmt(x) for x in out.weights[j]]
        for t in range(len(out.columns)):
            cells += [fmt(out.predicted[j, t])] + [fmt(x) for x in out.predicted_interval[j, t]]
        cells += [fmt(out.objective[j])] + [fmt(x) for x in out.objective_interval[j]]
        cells += [fmt(out.gain[j]), fmt(out.gain_se[j]), fmt(out.p_beats[j]),
                  str(bool(out.covered[j])).lower()]
        writer.writerow(cells)
    return buf.getvalue()
