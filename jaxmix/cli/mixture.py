"""``jaxmix fit``, ``optimize``, ``run`` (fit, optimize and report in one step) and
``export`` (a mixture for a fine-tuning framework)."""

from __future__ import annotations

import sys
from pathlib import Path

from jaxmix.cli.common import (
    add_constraints,
    add_fit_options,
    add_repetition,
    check_output,
    check_study_flags,
    collect_pairs,
    fit_pilots,
    optimize_kwargs,
    pair_type,
    progress_printer,
    say,
    table_out,
    warn,
)
from jaxmix.cli.report import check_report_folder, report_to_folder
from jaxmix.cli.targetfit import optimize_target_fit, read_any_fit, write_target_fit_cmd
from jaxmix.cli.targets import (
    add_candidates,
    add_stay_near,
    add_targets,
    objective_for_targets,
    refuse_stay_near,
)
from jaxmix.io.export import FORMATS


def add_fit_parser(sub) -> None:
    """``jaxmix fit``: fit the loss model to pilot results"""
    p = sub.add_parser("fit", help="fit the loss model to pilot results")
    p.add_argument("pilots", help="pilot table (CSV or JSON)")
    add_fit_options(p)
    add_targets(p, candidates=False)
    p.add_argument("-o", "--output", required=True, help="fit JSON to write")


def add_optimize_parser(sub) -> None:
    """``jaxmix optimize``: optimal mixture for a budget from a fit"""
    p = sub.add_parser("optimize", help="optimal mixture for a budget from a fit")
    p.add_argument("fit", help="fit JSON (from `jaxmix fit` or written by hand)")
    p.add_argument("--budget", type=float, required=True, help="total amount N (pilot units)")
    add_constraints(p)
    g = p.add_argument_group("target fits (jaxmix fit --objective)")
    add_candidates(g)
    add_stay_near(g)
    add_repetition(p)
    p.add_argument(
        "-o", "--output", help="mixture JSON to write; stdout when absent (the table: stderr)"
    )


def add_run_parser(sub) -> None:
    """``jaxmix run``: fit, optimize and report in one step"""
    p = sub.add_parser("run", help="fit, optimize and report in one step")
    p.add_argument("pilots", nargs="?", help="pilot table; default: the shipped example")
    p.add_argument("--budget", type=float, help="total amount N (default: 5x the base pilot run)")
    add_fit_options(p)
    add_constraints(p)
    add_targets(p, near=True)
    add_repetition(p)
    p.add_argument("-o", "--output", help="mixture JSON to write")
    p.add_argument("--fit-output", help="fit JSON to write")
    p.add_argument("--report", metavar="DIR", help="also write PNG plots and index.html here")
    g = p.add_argument_group("uncertainty (joint fit only)")
    g.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="B",
        help="resample the pilot runs B times, refit and re-optimize",
    )
    g.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    g.add_argument(
        "--baseline",
        action="append",
        type=pair_type("--baseline"),
        metavar="D=W",
        help="compare with this mixture instead of uniform (repeat per domain)",
    )


def add_export_parser(sub) -> None:
    """``jaxmix export``: write a mixture for a fine-tuning framework"""
    p = sub.add_parser("export", help="write a mixture for a fine-tuning framework")
    p.add_argument("mixture", help="mixture JSON (from optimize or run)")
    p.add_argument(
        "--to", required=True, choices=FORMATS
    )
    p.add_argument(
        "--available",
        action="append",
        type=pair_type("--available"),
        metavar="D=V",
        help="amount of a domain's data that exists (counts: epochs per domain)",
    )
    p.add_argument(
        "--examples",
        type=int,
        help="hf, open-instruct: the total number of examples to train on (default: the "
        "budget, when the pilots count examples)",
    )
    p.add_argument("-o", "--output", help="file to write; stdout when absent")


def cmd_fit(args) -> None:
    from jaxmix.io.fitfile import write_fit
    from jaxmix.report.text import format_fit

    check_output(args.output)
    table = objective_for_targets(args, answer=write_target_fit_cmd)
    if table is None:  # a target objective: its fit file is written
        return
    _, result = fit_pilots(args, table)
    write_fit(result, args.output)
    warn(args, result.warnings)
    say(args, format_fit(result))


def cmd_optimize(args) -> None:
    from jaxmix.io.mixturefile import mixture_json, write_mixture
    from jaxmix.optimization.api import optimize
    from jaxmix.report.text import format_mixture

    check_output(args.output)
    result, runs = read_any_fit(args.fit)
    if runs is not None:  # a target fit file
        optimize_target_fit(args, result, runs)
        return
    refuse_stay_near(args)
    names, shares = _candidates(args, result.domains)
    mix = optimize(
        result,
        args.budget,
        repetition=args.repetition,
        r_star=args.r_star,
        candidates=shares,
        **optimize_kwargs(args),
    )
    extra = _chosen(mix, names, shares)
    if args.output:
        write_mixture(mix, args.output, extra)
    else:
        sys.stdout.write(mixture_json(mix, extra))
    warn(args, mix.warnings)
    table_out(args, format_mixture(mix))
    _say_chosen(args, extra)


def _candidates(args, domains):
    """``(names, shares [J, K])`` of ``--candidates``, or ``(None, None)``."""
    if not getattr(args, "candidates", None):
        return None, None
    from jaxmix.io.mixtures_csv import read_mixture_table

    names, shares, _ = read_mixture_table(args.candidates, domains)
    return names, shares


def _chosen(mix, names, shares) -> dict:
    """``{"candidate": name or None}`` for the mixture file (None: the safe mixture kept);
    empty without candidates."""
    if shares is None:
        return {}
    import numpy as np

    dist = np.abs(shares - mix.weights[None]).sum(axis=1)
    j = int(np.argmin(dist))
    return {"candidate": names[j] if dist[j] < 1e-9 else None}


def _say_chosen(args, extra: dict) -> None:
    if "candidate" in extra:
        name = extra["candidate"]
        say(args, f"candidate: {name}" if name is not None
            else "candidate: none (the safe mixture is kept)")


def cmd_run(args) -> None:
    from jaxmix.io.examples import example_pilots
    from jaxmix.io.fitfile import write_fit
    from jaxmix.io.mixturefile import write_mixture
    from jaxmix.optimization.api import optimize
    from jaxmix.report.text import format_fit, format_intervals, format_mixture

    check_output(args.output)
    check_output(args.fit_output)
    check_study_flags(args)
    if args.report:
        check_report_folder(args.report)
    if args.pilots is None:
        args.pilots = example_pilots()
        say(args, f"pilots: the shipped example {args.pilots}")
    table = objective_for_targets(args, candidates_ok=True)
    if table is None:  # a target objective: answered
        return
    if args.bootstrap and getattr(args, "candidates", None):
        from jaxmix.status import InputError

        raise InputError("--candidates: not with --bootstrap (the intervals are of the free "
                         "recommendation)")
    names, shares = _candidates(args, table.domains)  # checked before any fit
    table, result = fit_pilots(args, table)
    budget = args.budget
    if budget is None:
        from jaxmix.fitting.checks import base_amounts

        budget = 5.0 * float(base_amounts(table).sum())
        say(args, f"budget: {budget:g} (5x the base pilot run; set it with --budget)")
    extra = {"fit": {"method": result.method, "target": result.target, "pilots": str(args.pilots)}}
    if args.bootstrap:
        mix = _bootstrapped(args, table, result, budget, extra)
    else:
        mix = optimize(result, budget, repetition=args.repetition, r_star=args.r_star,
                       candidates=shares, **optimize_kwargs(args))
        extra.update(_chosen(mix, names, shares))
    if args.fit_output:
        write_fit(result, args.fit_output)
    if args.output:
        write_mixture(mix, args.output, extra)
    elif args.quiet:  # -q and no file: the mixture JSON on stdout, not nothing at all
        from jaxmix.io.mixturefile import mixture_json

        sys.stdout.write(mixture_json(mix, extra))
    warn(args, result.warnings + mix.warnings)
    say(args, format_fit(result) + "\n\n" + format_mixture(mix))
    _say_chosen(args, extra)
    if args.bootstrap:
        say(args, format_intervals(extra, mix.domains, decided=bool(mix.decision)))
    if args.report:
        report_to_folder(args, table, result, mix, extra if args.bootstrap else None)


def _bootstrapped(args, table, result, budget, extra: dict):
    """``run --bootstrap``: the mixture, with the intervals of that mixture added to
    ``extra`` (:func:`jaxmix.study.intervals.recommendation_intervals`)."""
    from jaxmix.optimization.api import optimize
    from jaxmix.status import InputError
    from jaxmix.study.intervals import prepare_intervals, recommendation_intervals

    if result.method != "joint":
        raise InputError("--bootstrap needs per-domain losses (the joint fit)")
    if args.repetition:
        raise InputError("--bootstrap does not support --repetition yet")
    # The bootstrap's programs compile in the background while the mixture is found.
    prepare_intervals(table, result, budget, args.bootstrap, args.strategy, **optimize_kwargs(args))
    mix = optimize(result, budget, **optimize_kwargs(args))
    extra.update(
        recommendation_intervals(
            table,
            result,
            mix,
            args.bootstrap,
            level=args.level,
            baseline=collect_pairs(args.baseline, "--baseline"),
            progress=progress_printer(args),
            strategy=args.strategy,
            **optimize_kwargs(args),
        )
    )
    return mix


def cmd_export(args) -> None:
    import json

    from jaxmix.io.atomic import write_atomic
    from jaxmix.io.export import export_text, mixture_weights
    from jaxmix.status import InputError

    check_output(args.output)
    try:
        data = json.loads(Path(args.mixture).read_text(encoding="utf-8-sig"))
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", args.mixture) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not a JSON mixture file ({err})", args.mixture) from None
    domains, weights, budget = mixture_weights(data, args.mixture)
    available = collect_pairs(args.available, "--available")
    for d in available or {}:
        if d not in domains:
            raise InputError(f"--available: unknown domain {d!r} (domains: {', '.join(domains)})")
    text = export_text(args.to, domains, weights, budget, available, args.examples)
    if args.output:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
