"""``jaxmix report``: PNG plots and one HTML page of a fit and its mixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxmix.cli.common import (
    add_constraints,
    add_fit_options,
    budget_list,
    check_study_flags,
    fit_pilots,
    optimize_kwargs,
    progress_printer,
    say,
    warn,
)


def add_report_parser(sub) -> None:
    p = sub.add_parser("report", help="PNG plots and one HTML page of a fit and its mixture")
    p.add_argument("pilots", nargs="?", help="pilot table; default: the shipped example")
    p.add_argument("--fit", help="fit JSON to use instead of fitting the pilots")
    p.add_argument(
        "--mixture",
        help="mixture JSON (from optimize/run): its budget, bounds, importance and any "
        "bootstrap intervals are used",
    )
    p.add_argument(
        "--budget",
        type=float,
        help="total amount N (default: the mixture's, or 5x the base pilot run)",
    )
    p.add_argument("--budgets", help="budgets of the sweep plot (default 1/100x to 100x)")
    p.add_argument("--between", help="two domains of the Pareto plot (default the first two)")
    p.add_argument(
        "--bootstrap",
        type=int,
        default=None,
        metavar="B",
        help="bootstrap resamples for the interval plot (default 64; 0: none)",
    )
    p.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    add_fit_options(p)
    add_constraints(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write")


def check_report_folder(folder) -> None:
    from jaxmix.report.plots import pyplot
    from jaxmix.status import InputError

    pyplot()  # matplotlib missing: one line, exit 2, before any work
    path = Path(folder)
    if not path.resolve().parent.is_dir():
        raise InputError(f"folder {str(path.resolve().parent)!r} does not exist", folder)
    if path.exists() and not path.is_dir():
        raise InputError("exists and is not a folder", folder)


def report_to_folder(args, table, fit, mix, study, budgets=None, pair=None, bootstrap=None):
    from jaxmix.report.build import BOOTSTRAP_DEFAULT, build_report, write_report

    kw = optimize_kwargs(args)
    if bootstrap is None:
        bootstrap = BOOTSTRAP_DEFAULT
    inputs = {"pilots": str(args.pilots) if args.pilots else "", "budget": f"{mix.budget:g}"}
    for key in ("fit", "mixture"):
        if getattr(args, key, None):
            inputs[key] = getattr(args, key)
    progress = progress_printer(args)
    files = build_report(
        fit,
        mix,
        table,
        study=study,
        budgets=budgets,
        pair=pair,
        bootstrap=bootstrap,
        level=args.level,
        seed=args.seed,
        optimize_kw=kw,
        progress=progress,
        inputs={k: v for k, v in inputs.items() if v},
    )
    write_report(files, args.report)
    say(args, f"report: {len(files)} files in {args.report} (open index.html)")


def _mixture_settings(args) -> tuple[dict, dict | None]:
    """Budget, bounds and importance from ``--mixture`` (flags win), and its bootstrap."""
    import json

    from jaxmix.status import InputError

    try:
        data = json.loads(Path(args.mixture).read_text(encoding="utf-8-sig"))
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", args.mixture) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not a JSON mixture file ({err})", args.mixture) from None
    if not isinstance(data, dict) or not isinstance(data.get("budget"), (int, float)):
        raise InputError("not a mixture file (no numeric 'budget')", args.mixture, None, "budget")
    bounds = data.get("bounds") or {}
    if args.budget is None:
        args.budget = float(data["budget"])
    given = data.get("constraints")
    if isinstance(given, dict) and not given.get("repetition"):
        # The bounds as requested: an availability cap stays a cap on the amount at every
        # budget of the report (``bounds`` hold this budget's weights only).
        settings = [(flag, given.get(flag)) for flag in ("min_weight", "max_weight", "fix")]
        settings += [("available", given.get("available"))]
        if args.max_epochs is None and isinstance(given.get("max_epochs"), (int, float)):
            if args.available is None:
                args.max_epochs = float(given["max_epochs"])
    else:  # a mixture file written before the constraints were recorded
        settings = [("min_weight", bounds.get("min")), ("max_weight", bounds.get("max"))]
    for flag, values in settings + [("importance", data.get("importance"))]:
        if getattr(args, flag) is None and isinstance(values, dict):
            setattr(args, flag, [(d, str(v)) for d, v in values.items()])
    study = data if "weights_interval" in data and "bootstrap" in data else None
    return data, study


def _given_mixture(args, fit, data: dict, budget: float):
    """The ``--mixture`` file's own weights, evaluated by ``fit`` at ``budget``: the report
    shows the mixture it names as its input, not a re-optimized one."""
    from jaxmix.io.mixturefile import mixture_from_dict
    from jaxmix.optimization.api import optimize
    from jaxmix.status import InputError

    given = mixture_from_dict(data, args.mixture)  # weights in [0, 1] summing to 1
    if tuple(given.domains) != tuple(fit.domains):
        raise InputError(
            f"the mixture's domains ({', '.join(given.domains)}) differ from the fit's "
            f"({', '.join(fit.domains)})",
            args.mixture,
            None,
            "weights",
        )
    kw = optimize_kwargs(args)
    for key in ("min_weight", "max_weight", "available", "max_epochs"):
        kw[key] = None  # the weights are given: only the objective is evaluated
    kw["fix"] = dict(zip(fit.domains, np.asarray(given.weights, float).tolist()))
    return optimize(fit, budget, **kw)


def cmd_report(args) -> None:
    from jaxmix.io.examples import example_pilots
    from jaxmix.io.fitfile import read_fit
    from jaxmix.io.pilots import read_pilots
    from jaxmix.optimization.api import optimize
    from jaxmix.status import InputError

    args.report = args.output
    check_report_folder(args.output)
    check_study_flags(args)
    study = given = None
    if args.mixture:
        given, study = _mixture_settings(args)
    if args.pilots is None and args.fit is None:
        args.pilots = example_pilots()
        say(args, f"pilots: the shipped example {args.pilots}")
    table = None
    if args.fit:
        result = read_fit(args.fit)
        table = read_pilots(args.pilots) if args.pilots else None
        if table is not None and tuple(table.domains) != tuple(result.domains):
            raise InputError(
                f"the pilots' domains ({', '.join(table.domains)}) differ from the fit's "
                f"({', '.join(result.domains)})",
                table.path,
            )
    else:
        table, result = fit_pilots(args)
    budget = args.budget
    if budget is None:
        if table is None:
            raise InputError("--budget is needed (or --mixture, or the pilots)")
        from jaxmix.fitting.checks import base_amounts

        budget = 5.0 * float(base_amounts(table).sum())
        say(args, f"budget: {budget:g} (5x the base pilot run; set it with --budget)")
    pair = None
    if args.between:
        pair = tuple(x.strip() for x in args.between.split(","))
        if len(pair) != 2 or pair[0] == pair[1]:
            raise InputError(f"--between expects two domains a,b, got {args.between!r}")
        for d in pair:
            if d not in result.domains:
                raise InputError(
                    f"--between: unknown domain {d!r} (domains: {', '.join(result.domains)})"
                )
    budgets = budget_list(args.budgets) if args.budgets else None
    if given is not None and budget == float(given["budget"]):
        mix = _given_mixture(args, result, given, budget)  # the mixture as given
    else:
        mix = optimize(result, budget, **optimize_kwargs(args))
    warn(args, result.warnings + mix.warnings)
    report_to_folder(args, table, result, mix, study, budgets, pair, args.bootstrap)
