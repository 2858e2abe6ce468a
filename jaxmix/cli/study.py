"""``jaxmix next`` (runs to train next), ``validate`` (cross-validate the law families),
``sweep`` (mixtures over budgets) and ``pareto`` (a trade-off front)."""

from __future__ import annotations

from jaxmix.cli.common import (
    add_constraints,
    add_fit_options,
    budget_list,
    check_output,
    optimize_kwargs,
    say,
    table_out,
    write_or_print,
)
from jaxmix.cli.targets import add_targets


def add_next_parser(sub) -> None:
    """``jaxmix next``: propose the next runs to train, at the budget"""
    p = sub.add_parser(
        "next",
        help="propose the next runs to train, at the budget",
        description="Propose the next runs to train at the budget. Default: from the "
        "combined fit's posterior (every law, weighed by held-out error; its fold fits give "
        "the uncertainty): the mixture with the lowest expected objective, then the best "
        "mixture of fresh posterior draws (batch Thompson sampling), among --candidates when "
        "given. With too few runs to fit, the mixtures farthest from those run. With --law: "
        "that law's recommendation, then moves along its bootstrap's most uncertain axes.",
    )
    p.add_argument("pilots", help="pilot table with loss:<domain> columns")
    p.add_argument("--budget", type=float, required=True, help="total amount N (pilot units)")
    p.add_argument("--runs", type=int, default=3, help="runs to propose (default 3)")
    p.add_argument(
        "--candidates",
        help="mixture CSV (w:<domain> shares, optional name column) to choose the runs "
        "from, e.g. the mixtures your data pipeline can build (default model only)",
    )
    p.add_argument(
        "--resamples", type=int, default=64, help="with --law: bootstrap resamples (64)"
    )
    add_fit_options(p)
    add_constraints(p)
    add_targets(p, candidates=False)
    p.add_argument("-o", "--output", required=True, help="pilot CSV (or .json) of the runs")


def add_validate_parser(sub) -> None:
    """``jaxmix validate``: cross-validate law families on pilot results"""
    p = sub.add_parser("validate", help="cross-validate law families on pilot results")
    p.add_argument("pilots", help="pilot table with loss:<domain> columns")
    p.add_argument("--laws", help="comma-separated law names (default: all registered laws)")
    add_targets(p, candidates=False)
    p.add_argument("--folds", type=int, default=5, help="k of the k-fold split (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the k-fold split (default 0)")
    p.add_argument("-o", "--output", help="validation JSON to write")


def add_sweep_parser(sub) -> None:
    """``jaxmix sweep``: optimal mixtures for a list of budgets, one batched call"""
    p = sub.add_parser("sweep", help="optimal mixtures for a list of budgets, one batched call")
    p.add_argument("fit", help="fit JSON")
    p.add_argument("--budgets", required=True, help="comma-separated budgets, e.g. 5e6,2e7,2e8")
    add_constraints(p)
    p.add_argument(
        "-o", "--output", help="sweep JSON to write; stdout when absent (the table: stderr)"
    )


def add_pareto_parser(sub) -> None:
    """``jaxmix pareto``: trade-off front between two domains' losses"""
    p = sub.add_parser("pareto", help="trade-off front between two domains' losses")
    p.add_argument("fit", help="fit JSON")
    p.add_argument("--budget", type=float, required=True, help="total amount N")
    p.add_argument("--between", required=True, help="two domains, e.g. math,code")
    p.add_argument("--points", type=int, default=11, help="points on the front (default 11)")
    add_constraints(p)
    p.add_argument(
        "-o", "--output", help="front JSON to write; stdout when absent (the table: stderr)"
    )


def cmd_next(args) -> None:
    from jaxmix.io.pilots import write_pilots
    from jaxmix.report.text import table
    from jaxmix.status import InputError
    from jaxmix.study.propose import propose

    check_output(args.output)
    if args.resamples < 2:
        raise InputError(f"--resamples must be >= 2, got {args.resamples}")
    from jaxmix.cli.targets import next_targets_cmd, objective_for_targets

    pilots = objective_for_targets(args, answer=next_targets_cmd, candidates_ok=True)
    if pilots is None:  # a target objective: proposed
        return
    candidates = None
    if args.candidates:
        from jaxmix.io.mixtures_csv import read_mixture_table

        if args.law:
            raise InputError("--candidates: not with --law (the default model chooses them)")
        _, candidates, budgets = read_mixture_table(args.candidates, pilots.domains)
        if budgets is not None:
            raise InputError(f"--candidates: {args.candidates} must give w: shares (the runs "
                             "are at --budget)")
    prop = propose(
        pilots,
        args.budget,
        runs=args.runs,
        law=args.law,
        resamples=args.resamples,
        candidates=candidates,
        **optimize_kwargs(args),
    )
    write_pilots(prop.table, args.output)
    rows = [
        [run] + [f"{w:.4f}" for w in prop.weights[r]] + [why]
        for r, (run, why) in enumerate(zip(prop.table.runs, prop.reasons))
    ]
    header = ["run"] + [f"w:{d}" for d in pilots.domains] + ["why"]
    say(
        args,
        table(header, rows)
        + f"\nwrote {len(rows)} runs to {args.output}: train them, fill in the loss: "
        "columns, append the rows to the pilots, then fit and optimize again",
    )


def cmd_validate(args) -> None:
    import json

    from jaxmix.io.atomic import write_atomic
    from jaxmix.report.validation import format_validation
    from jaxmix.status import InputError
    from jaxmix.study.validate import validate, validation_to_dict

    check_output(args.output)
    laws = None
    if args.laws:
        from jaxmix.laws.registry import available_laws

        laws = [x.strip() for x in args.laws.split(",") if x.strip()]
        unknown = [x for x in laws if x not in available_laws()]
        if unknown or not laws:
            raise InputError(
                f"--laws: unknown law {unknown[0] if unknown else args.laws!r} "
                f"(known: {', '.join(available_laws())})"
            )
    if args.folds < 2:
        raise InputError(f"--folds must be >= 2, got {args.folds}")
    from jaxmix.cli.targets import objective_for_targets, validate_targets_cmd

    table = objective_for_targets(args, answer=validate_targets_cmd)
    if table is None:  # a target objective: validated
        return
    imp = None
    if getattr(args, "importance", None):
        w = dict(args.importance)
        imp = [float(w[d]) for d in table.domains]
    v = validate(table, laws=laws, folds=args.folds, seed=args.seed, importance=imp)
    text = json.dumps(validation_to_dict(v), indent=1) + "\n"
    if args.output:
        write_atomic(args.output, text)
    elif args.quiet:  # -q and no file: the JSON on stdout, not nothing at all
        print(text, end="")
    say(args, format_validation(v))


def cmd_sweep(args) -> None:
    from jaxmix.io.fitfile import read_fit
    from jaxmix.io.mixturefile import sweep_to_dict
    from jaxmix.report.text import format_sweep
    from jaxmix.study.sweeps import sweep_budgets

    check_output(args.output)
    result = read_fit(args.fit)
    budgets = budget_list(args.budgets)
    kw = optimize_kwargs(args)
    res = sweep_budgets(result, budgets, **kw)
    write_or_print(args, sweep_to_dict(result.domains, {"budget": budgets}, res))
    table_out(args, format_sweep(result.domains, "budget", budgets, res))


def cmd_pareto(args) -> None:
    from jaxmix.io.fitfile import read_fit
    from jaxmix.io.mixturefile import sweep_to_dict
    from jaxmix.report.text import format_sweep
    from jaxmix.study.sweeps import pareto

    check_output(args.output)
    result = read_fit(args.fit)
    pair = tuple(x.strip() for x in args.between.split(","))
    if len(pair) != 2:
        from jaxmix.status import InputError

        raise InputError(f"--between expects two domains a,b, got {args.between!r}")
    kw = optimize_kwargs(args)
    kw.pop("importance")
    t, res = pareto(
        result,
        args.budget,
        pair,
        args.points,
        restarts=kw.pop("restarts"),
        seed=kw.pop("seed"),
        **kw,
    )
    write_or_print(
        args,
        sweep_to_dict(
            result.domains, {"t": t.tolist(), "between": pair, "budget": args.budget}, res
        ),
    )
    table_out(
        args,
        format_sweep(
            result.domains,
            f"t ({pair[0]} importance 2t, {pair[1]} 2(1-t)"
            + (", others 1)" if len(result.domains) > 2 else ")"),
            t.tolist(),
            res,
        ),
    )
