"""The ``jaxmix`` command: parse -> validate -> call the API -> write atomically.

Bad input exits with status 2 and one line on stderr naming the file, row and column.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        self.exit(EXIT_INPUT, f"jaxmix: error: {message}\n")


def _pairs(flag: str):
    def parse(text: str):
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise argparse.ArgumentTypeError(f"{flag} expects domain=value, got {text!r}")
        return name.strip(), value.strip()

    return parse


def _collect(pairs, flag: str = "") -> dict | None:
    if not pairs:
        return None
    from jaxmix._status import InputError

    out = {}
    for name, value in pairs:
        try:
            out[name] = float(value)
        except ValueError:
            where = f"{flag}: " if flag else ""
            raise InputError(f"{where}{name}={value!r} is not a number") from None
    return out


def _add_constraints(p) -> None:
    g = p.add_argument_group("objective and constraints (repeatable domain=value)")
    for flag, help_ in (
        ("--importance", "weight of a domain's loss in the objective (default 1)"),
        ("--min-weight", "lower bound on a domain's weight"),
        ("--max-weight", "upper bound on a domain's weight"),
        ("--fix", "fix a domain's weight"),
        (
            "--available",
            "amount of a domain's data that exists (caps w*N <= max-epochs * available)",
        ),
    ):
        g.add_argument(flag, action="append", type=_pairs(flag), metavar="D=V", help=help_)
    g.add_argument(
        "--max-epochs",
        type=float,
        help="passes allowed over available data (default 1; no cap with --repetition)",
    )
    g.add_argument("--restarts", type=int, default=8, help="gradient-solver restarts (default 8)")
    g.add_argument("--seed", type=int, default=0, help="seed of the restarts (default 0)")


def _add_repetition(p) -> None:
    g = p.add_argument_group("repeated data")
    g.add_argument(
        "--repetition",
        action="store_true",
        help="--available is unique data that may be repeated; repeats count as "
        "diminishing effective data (Muennighoff et al. 2023) instead of being capped",
    )
    g.add_argument(
        "--r-star", type=float, default=15.4, help="R*, the decay of repeats' worth (15.4)"
    )


def _add_fit_options(p) -> None:
    from jaxmix._laws import available_laws

    p.add_argument(
        "--law",
        choices=available_laws(),
        default=None,
        help="force one law family (default: every law, combined by held-out error on the "
        "pilots, and a decision against the safe mixture; transfer without per-domain losses)",
    )
    p.add_argument(
        "--method",
        choices=("joint", "reference"),
        help="joint (default when per-domain losses exist) or reference",
    )
    p.add_argument("--target", help="loss column for --method reference (e.g. loss:total)")
    p.add_argument(
        "--strategy",
        choices=("screen", "vmap", "map"),
        default="screen",
        help="multi-start scheme of the joint fit (default screen)",
    )
    p.add_argument(
        "--no-extrapolation-check",
        action="store_true",
        help="skip refitting without each domain's largest pilots (joint fit)",
    )
    p.add_argument(
        "--reference-unit",
        type=float,
        default=1.0,
        help="divide amounts by this for --method reference, which is not unit-free "
        "(the authors used millions of tokens: 1e6 for a table in tokens)",
    )


GLOBAL_FLAGS = (
    (("--float32",), "compute in float32 (default float64)"),
    (("-q", "--quiet"), "no tables or warnings"),
    (("-v", "--verbose"), "every warning in full, with its technical details"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jaxmix", description="Data-mixture optimization for SFT.")
    for flags, help_ in GLOBAL_FLAGS:
        parser.add_argument(*flags, action="store_true", help=help_)
    from jaxmix import __version__

    parser.add_argument("--version", action="version", version=f"jaxmix {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser("plan", help="write the pilot runs to do (1 + 4K perturbations)")
    p.add_argument("--domains", required=True, help="comma-separated domain names")
    p.add_argument("--base", type=float, required=True, help="base amount per domain")
    p.add_argument("--multipliers", default="1/3,1/2,2,3", help="default 1/3,1/2,2,3")
    p.add_argument(
        "--budget",
        type=float,
        help="target budget N: add runs nearer it and print the pilots' cost in full-budget runs",
    )
    p.add_argument(
        "--near-runs",
        type=int,
        default=2,
        help="with --budget: the base mixture, then one domain doubled, ... (default 2)",
    )
    p.add_argument(
        "--near-fraction", type=float, default=0.5, help="their size, a fraction of N (0.5)"
    )
    p.add_argument("-o", "--output", help="pilot CSV (or .json) to write; stdout when absent")

    p = sub.add_parser("fit", help="fit the loss model to pilot results")
    p.add_argument("pilots", help="pilot table (CSV or JSON)")
    _add_fit_options(p)
    p.add_argument("-o", "--output", required=True, help="fit JSON to write")

    p = sub.add_parser("optimize", help="optimal mixture for a budget from a fit")
    p.add_argument("fit", help="fit JSON (from `jaxmix fit` or written by hand)")
    p.add_argument("--budget", type=float, required=True, help="total amount N (pilot units)")
    _add_constraints(p)
    _add_repetition(p)
    p.add_argument(
        "-o", "--output", help="mixture JSON to write; stdout when absent (the table: stderr)"
    )

    p = sub.add_parser("run", help="fit, optimize and report in one step")
    p.add_argument("pilots", nargs="?", help="pilot table; default: the shipped example")
    p.add_argument("--budget", type=float, help="total amount N (default: 5x the base pilot run)")
    _add_fit_options(p)
    _add_constraints(p)
    _add_repetition(p)
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
        type=_pairs("--baseline"),
        metavar="D=W",
        help="compare with this mixture instead of uniform (repeat per domain)",
    )

    p = sub.add_parser("export", help="write a mixture for a fine-tuning framework")
    p.add_argument("mixture", help="mixture JSON (from optimize or run)")
    p.add_argument(
        "--to", required=True, choices=("counts", "hf", "llama-factory", "open-instruct")
    )
    p.add_argument(
        "--available",
        action="append",
        type=_pairs("--available"),
        metavar="D=V",
        help="amount of a domain's data that exists (counts: epochs per domain)",
    )
    p.add_argument("-o", "--output", help="file to write; stdout when absent")

    p = sub.add_parser("next", help="propose the next runs to train, at the budget")
    p.add_argument("pilots", help="pilot table with loss:<domain> columns")
    p.add_argument("--budget", type=float, required=True, help="total amount N (pilot units)")
    p.add_argument("--runs", type=int, default=3, help="runs to propose (default 3)")
    p.add_argument(
        "--resamples", type=int, default=64, help="bootstrap resamples behind the axes (64)"
    )
    _add_fit_options(p)
    _add_constraints(p)
    p.add_argument("-o", "--output", required=True, help="pilot CSV (or .json) of the runs")

    p = sub.add_parser("validate", help="cross-validate law families on pilot results")
    p.add_argument("pilots", help="pilot table with loss:<domain> columns")
    p.add_argument("--laws", help="comma-separated law names (default: all registered laws)")
    p.add_argument("--folds", type=int, default=5, help="k of the k-fold split (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the k-fold split (default 0)")
    p.add_argument("-o", "--output", help="validation JSON to write")

    p = sub.add_parser("sweep", help="optimal mixtures for a list of budgets, one batched call")
    p.add_argument("fit", help="fit JSON")
    p.add_argument("--budgets", required=True, help="comma-separated budgets, e.g. 5e6,2e7,2e8")
    _add_constraints(p)
    p.add_argument(
        "-o", "--output", help="sweep JSON to write; stdout when absent (the table: stderr)"
    )

    p = sub.add_parser("pareto", help="trade-off front between two domains' losses")
    p.add_argument("fit", help="fit JSON")
    p.add_argument("--budget", type=float, required=True, help="total amount N")
    p.add_argument("--between", required=True, help="two domains, e.g. math,code")
    p.add_argument("--points", type=int, default=11, help="points on the front (default 11)")
    _add_constraints(p)
    p.add_argument(
        "-o", "--output", help="front JSON to write; stdout when absent (the table: stderr)"
    )
    _add_report_parser(sub)
    _add_import_parser(sub)
    _add_global_flags(sub)
    return parser


def _add_global_flags(sub) -> None:
    """Accept the global flags after the subcommand too (``jaxmix run ... -q``).

    Their default is SUPPRESS, so a flag given before the subcommand is not reset."""
    for p in sub.choices.values():
        nested = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            _add_global_flags(nested[0])
            continue
        g = p.add_argument_group("global options (also accepted before the command)")
        for flags, help_ in GLOBAL_FLAGS:
            g.add_argument(*flags, action="store_true", default=argparse.SUPPRESS, help=help_)


def _setup_jax(float32: bool) -> None:
    import jax

    jax.config.update("jax_enable_x64", not float32)
    if os.environ.get("JAXMIX_NO_CACHE"):
        return
    cache = Path(os.environ.get("JAXMIX_CACHE_DIR", Path.home() / ".cache" / "jaxmix" / "xla"))
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", str(cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    from jaxmix import _aot

    _aot.enable(cache / "export")
    (cache / "export").mkdir(exist_ok=True)


def _say(args, text: str) -> None:
    if not args.quiet:
        print(text)


def _warn(args, warnings) -> None:
    """Warnings on stderr: the ones that matter first, in plain words (-v: all in full)."""
    from jaxmix._warnings import lines

    if not args.quiet:
        for line in lines(warnings, getattr(args, "verbose", False)):
            print(line, file=sys.stderr)


def _table_out(args, text: str) -> None:
    """The human-readable table: stdout, or stderr when stdout carries the JSON (no -o)."""
    if args.quiet:
        return
    print(text, file=sys.stdout if args.output else sys.stderr)


def _write_or_print(args, text: str) -> None:
    if args.output:
        from jaxmix._atomic import write_atomic

        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)


def _check_output(path) -> None:
    from jaxmix._status import InputError

    if path is None:
        return
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise InputError(f"output folder {str(parent)!r} does not exist", path)


def _optimize_kwargs(args) -> dict:
    return dict(
        importance=_collect(args.importance, "--importance"),
        min_weight=_collect(args.min_weight, "--min-weight"),
        max_weight=_collect(args.max_weight, "--max-weight"),
        fix=_collect(args.fix, "--fix"),
        available=_collect(args.available, "--available"),
        max_epochs=args.max_epochs,
        restarts=args.restarts,
        seed=args.seed,
    )


def _cmd_plan(args) -> None:
    from jaxmix._pilots import parse_multipliers, pilots_to_csv, plan, write_pilots

    _check_output(args.output)
    table = plan(args.domains.split(","), args.base, parse_multipliers(args.multipliers))
    if args.budget is not None:
        from jaxmix._design import lattice_size, near_budget, pilot_cost

        paper = pilot_cost(table, args.budget)
        table = near_budget(table, args.budget, args.near_runs, args.near_fraction)
        total = pilot_cost(table, args.budget)
        grid = lattice_size(len(table.domains))
        if not args.quiet:
            print(
                f"pilot cost: {total:.2f} full-budget runs ({paper:.2f} for the 1+4K design, "
                f"{total - paper:.2f} for {args.near_runs} runs at {args.near_fraction:g} N); a "
                f"grid search over the {grid} mixtures of the 1/8 lattice costs {grid} per seed",
                file=sys.stderr,
            )
    if args.output:
        write_pilots(table, args.output)
        _say(
            args, f"wrote {len(table.runs)} pilot runs to {args.output}; fill in the loss: columns"
        )
    else:
        sys.stdout.write(pilots_to_csv(table))


def _fit(args):
    from jaxmix._fit import fit
    from jaxmix._pilots import read_pilots

    table = read_pilots(args.pilots)
    return table, fit(
        table,
        method=args.method,
        target=args.target,
        law=args.law,
        strategy=args.strategy,
        reference_unit=args.reference_unit,
        check_extrapolation=not args.no_extrapolation_check,
    )


def _cmd_fit(args) -> None:
    from jaxmix._files import write_fit
    from jaxmix._text import format_fit

    _check_output(args.output)
    _, result = _fit(args)
    write_fit(result, args.output)
    _warn(args, result.warnings)
    _say(args, format_fit(result))


def _cmd_optimize(args) -> None:
    from jaxmix._files import mixture_json, read_fit, write_mixture
    from jaxmix._optimize import optimize
    from jaxmix._text import format_mixture

    _check_output(args.output)
    result = read_fit(args.fit)
    mix = optimize(
        result,
        args.budget,
        repetition=args.repetition,
        r_star=args.r_star,
        **_optimize_kwargs(args),
    )
    if args.output:
        write_mixture(mix, args.output)
    else:
        sys.stdout.write(mixture_json(mix))
    _warn(args, mix.warnings)
    _table_out(args, format_mixture(mix))


def _cmd_run(args) -> None:
    from jaxmix._examples import example_pilots
    from jaxmix._files import write_fit, write_mixture
    from jaxmix._optimize import optimize
    from jaxmix._status import InputError
    from jaxmix._text import format_fit, format_intervals, format_mixture

    _check_output(args.output)
    _check_output(args.fit_output)
    if args.report:
        _check_report_folder(args.report)
    if args.pilots is None:
        args.pilots = example_pilots()
        _say(args, f"pilots: the shipped example {args.pilots}")
    table, result = _fit(args)
    budget = args.budget
    if budget is None:
        from jaxmix._fit import base_amounts

        budget = 5.0 * float(base_amounts(table).sum())
        _say(args, f"budget: {budget:g} (5x the base pilot run; set it with --budget)")
    extra = {"fit": {"method": result.method, "target": result.target, "pilots": str(args.pilots)}}
    if args.bootstrap:
        from jaxmix._decide import refit_law
        from jaxmix._fit import fit
        from jaxmix._study import bootstrap

        if result.method != "joint":
            raise InputError("--bootstrap needs per-domain losses (the joint fit)")
        if args.repetition:
            raise InputError("--bootstrap does not support --repetition yet")
        member = result
        if refit_law(result) != result.law:
            # The combination's largest member, fitted as `fit --law` would fit it.
            member = fit(
                table,
                method="joint",
                law=refit_law(result),
                strategy=args.strategy,
                check_extrapolation=not args.no_extrapolation_check,
            )
        study, mix, _ = bootstrap(
            table,
            budget,
            args.bootstrap,
            level=args.level,
            baseline=_collect(args.baseline, "--baseline"),
            progress=_progress(args),
            law=member.law,
            fit=member,
            **_optimize_kwargs(args),
        )
        if refit_law(result) != result.law:
            # The intervals come from the combination's largest member; the mixture and the
            # decision from the combination itself.
            study["bootstrap"] = {**study.get("bootstrap", {}), "law": refit_law(result)}
            mix = optimize(result, budget, **_optimize_kwargs(args))
        extra.update(study)
    else:
        mix = optimize(
            result, budget, repetition=args.repetition, r_star=args.r_star, **_optimize_kwargs(args)
        )
    if args.fit_output:
        write_fit(result, args.fit_output)
    if args.output:
        write_mixture(mix, args.output, extra)
    _warn(args, result.warnings + mix.warnings)
    _say(args, format_fit(result) + "\n\n" + format_mixture(mix))
    if args.bootstrap:
        _say(args, format_intervals(extra, mix.domains))
    if args.report:
        _write_report(args, table, result, mix, extra if args.bootstrap else None)


def _progress(args):
    if args.quiet:
        return None

    def report(stage, done, total):
        print(f"jaxmix: bootstrap {stage} {done}/{total}", file=sys.stderr, flush=True)

    return report


def _budget_list(text: str) -> list:
    from jaxmix._status import InputError

    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--budgets: {text!r} is not a comma-separated list of numbers") from None


def _cmd_export(args) -> None:
    import json

    from jaxmix._atomic import write_atomic
    from jaxmix._export import export_text, read_mixture
    from jaxmix._status import InputError

    _check_output(args.output)
    try:
        data = json.loads(Path(args.mixture).read_text(encoding="utf-8-sig"))
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", args.mixture) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not a JSON mixture file ({err})", args.mixture) from None
    domains, weights, budget = read_mixture(data, args.mixture)
    available = _collect(args.available, "--available")
    for d in available or {}:
        if d not in domains:
            raise InputError(f"--available: unknown domain {d!r} (domains: {', '.join(domains)})")
    text = export_text(args.to, domains, weights, budget, available)
    if args.output:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)


def _cmd_next(args) -> None:
    from jaxmix._pilots import read_pilots, write_pilots
    from jaxmix._propose import propose
    from jaxmix._status import InputError
    from jaxmix._text import table

    _check_output(args.output)
    if args.resamples < 2:
        raise InputError(f"--resamples must be >= 2, got {args.resamples}")
    pilots = read_pilots(args.pilots)
    prop = propose(
        pilots,
        args.budget,
        runs=args.runs,
        law=args.law or "transfer",
        resamples=args.resamples,
        **_optimize_kwargs(args),
    )
    write_pilots(prop.table, args.output)
    rows = [
        [run] + [f"{w:.4f}" for w in prop.weights[r]] + [why]
        for r, (run, why) in enumerate(zip(prop.table.runs, prop.reasons))
    ]
    header = ["run"] + [f"w:{d}" for d in pilots.domains] + ["why"]
    _say(
        args,
        table(header, rows)
        + f"\nwrote {len(rows)} runs to {args.output}: train them, fill in the loss: "
        "columns, append the rows to the pilots, then fit and optimize again",
    )


def _cmd_validate(args) -> None:
    import json

    from jaxmix._atomic import write_atomic
    from jaxmix._pilots import read_pilots
    from jaxmix._status import InputError
    from jaxmix._validate import format_validation, validate, validation_to_dict

    _check_output(args.output)
    laws = None
    if args.laws:
        from jaxmix._laws import available_laws

        laws = [x.strip() for x in args.laws.split(",") if x.strip()]
        unknown = [x for x in laws if x not in available_laws()]
        if unknown or not laws:
            raise InputError(
                f"--laws: unknown law {unknown[0] if unknown else args.laws!r} "
                f"(known: {', '.join(available_laws())})"
            )
    if args.folds < 2:
        raise InputError(f"--folds must be >= 2, got {args.folds}")
    v = validate(read_pilots(args.pilots), laws=laws, folds=args.folds, seed=args.seed)
    if args.output:
        write_atomic(args.output, json.dumps(validation_to_dict(v), indent=1) + "\n")
    _say(args, format_validation(v))


def _cmd_sweep(args) -> None:
    from jaxmix._files import read_fit, sweep_to_dict
    from jaxmix._study import sweep_budgets
    from jaxmix._text import format_sweep

    _check_output(args.output)
    result = read_fit(args.fit)
    budgets = _budget_list(args.budgets)
    kw = _optimize_kwargs(args)
    res = sweep_budgets(result, budgets, **kw)
    _write_or_print(args, sweep_to_dict(result.domains, {"budget": budgets}, res))
    _table_out(args, format_sweep(result.domains, "budget", budgets, res))


def _cmd_pareto(args) -> None:
    from jaxmix._files import read_fit, sweep_to_dict
    from jaxmix._study import pareto
    from jaxmix._text import format_sweep

    _check_output(args.output)
    result = read_fit(args.fit)
    pair = tuple(x.strip() for x in args.between.split(","))
    if len(pair) != 2:
        from jaxmix._status import InputError

        raise InputError(f"--between expects two domains a,b, got {args.between!r}")
    kw = _optimize_kwargs(args)
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
    _write_or_print(
        args,
        sweep_to_dict(
            result.domains, {"t": t.tolist(), "between": pair, "budget": args.budget}, res
        ),
    )
    _table_out(
        args, format_sweep(result.domains, f"t ({pair[0]} importance 2t)", t.tolist(), res)
    )


# --- jaxmix report, and run --report -------------------------------------------------------


def _add_report_parser(sub) -> None:
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
    _add_fit_options(p)
    _add_constraints(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write")


def _check_report_folder(folder) -> None:
    from jaxmix._plots import pyplot
    from jaxmix._status import InputError

    pyplot()  # matplotlib missing: one line, exit 2, before any work
    path = Path(folder)
    if not path.resolve().parent.is_dir():
        raise InputError(f"folder {str(path.resolve().parent)!r} does not exist", folder)
    if path.exists() and not path.is_dir():
        raise InputError("exists and is not a folder", folder)


def _write_report(args, table, fit, mix, study, budgets=None, pair=None, bootstrap=None):
    from jaxmix._report import BOOTSTRAP_DEFAULT, build_report, write_report

    kw = _optimize_kwargs(args)
    if bootstrap is None:
        bootstrap = BOOTSTRAP_DEFAULT
    inputs = {"pilots": str(args.pilots) if args.pilots else "", "budget": f"{mix.budget:g}"}
    for key in ("fit", "mixture"):
        if getattr(args, key, None):
            inputs[key] = getattr(args, key)
    progress = _progress(args)
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
    _say(args, f"report: {len(files)} files in {args.report} (open index.html)")


def _mixture_settings(args) -> tuple[dict, dict | None]:
    """Budget, bounds and importance from ``--mixture`` (flags win), and its bootstrap."""
    import json

    from jaxmix._status import InputError

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


def _cmd_report(args) -> None:
    from jaxmix._examples import example_pilots
    from jaxmix._files import read_fit
    from jaxmix._optimize import optimize
    from jaxmix._pilots import read_pilots
    from jaxmix._status import InputError

    args.report = args.output
    _check_report_folder(args.output)
    study = None
    if args.mixture:
        _, study = _mixture_settings(args)
    if args.pilots is None and args.fit is None:
        args.pilots = example_pilots()
        _say(args, f"pilots: the shipped example {args.pilots}")
    table = None
    if args.fit:
        result = read_fit(args.fit)
        table = read_pilots(args.pilots) if args.pilots else None
    else:
        table, result = _fit(args)
    budget = args.budget
    if budget is None:
        if table is None:
            raise InputError("--budget is needed (or --mixture, or the pilots)")
        from jaxmix._fit import base_amounts

        budget = 5.0 * float(base_amounts(table).sum())
        _say(args, f"budget: {budget:g} (5x the base pilot run; set it with --budget)")
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
    budgets = _budget_list(args.budgets) if args.budgets else None
    mix = optimize(result, budget, **_optimize_kwargs(args))
    _warn(args, result.warnings + mix.warnings)
    _write_report(args, table, result, mix, study, budgets, pair, args.bootstrap)


# --- jaxmix import trainer-state | wandb --------------------------------------------------


def _add_import_parser(sub) -> None:
    p = sub.add_parser("import", help="pilot table from Trainer logs or a W&B export")
    src = p.add_subparsers(dest="source", required=True, parser_class=_Parser)
    q = src.add_parser(
        "trainer-state",
        help="a folder of Hugging Face Trainer runs (one sub-folder per run)",
        description="Best (min) eval_<domain>_loss of each run's trainer_state.json; "
        "eval_loss gives loss:total.",
    )
    q.add_argument("folder", help="folder with one sub-folder per manifest run")
    r = src.add_parser(
        "wandb",
        help="a W&B runs-table CSV export",
        description="Columns eval/<domain>_loss or eval_<domain>_loss give loss:<domain> "
        "(eval/loss, eval_loss: loss:total), or map them with --loss-column.",
    )
    r.add_argument("export", help="the CSV exported from the W&B runs table")
    r.add_argument("--run-column", default="Name", help="column of run names (default Name)")
    r.add_argument(
        "--loss-column",
        action="append",
        type=_pairs("--loss-column"),
        metavar="D=COLUMN",
        help="read loss:D from COLUMN (repeatable; replaces the naming rule)",
    )
    for x in (q, r):
        x.add_argument(
            "--manifest", required=True, help="CSV of amounts: run,n:<domain>,... (seed)"
        )
        x.add_argument("-o", "--output", required=True, help="pilot CSV (or .json) to write")


def _cmd_import(args) -> None:
    import numpy as np

    from jaxmix._importers import import_trainer_state, import_wandb
    from jaxmix._pilots import write_pilots

    _check_output(args.output)
    if args.source == "trainer-state":
        table = import_trainer_state(args.folder, args.manifest)
    else:
        columns = dict(args.loss_column) if args.loss_column else None
        table = import_wandb(args.export, args.manifest, args.run_column, columns)
    write_pilots(table, args.output)
    missing = sum(int(np.isnan(v).sum()) for v in table.losses.values())
    _say(
        args,
        f"wrote {len(table.runs)} pilot runs ({', '.join('loss:' + n for n in table.losses)}; "
        f"{missing} empty cells) to {args.output}",
    )


COMMANDS = {
    "import": _cmd_import,
    "report": _cmd_report,
    "plan": _cmd_plan,
    "fit": _cmd_fit,
    "optimize": _cmd_optimize,
    "run": _cmd_run,
    "sweep": _cmd_sweep,
    "validate": _cmd_validate,
    "next": _cmd_next,
    "export": _cmd_export,
    "pareto": _cmd_pareto,
}


def main(argv=None) -> int:
    """Entry point of the ``jaxmix`` command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error (one line, status 2)
        return int(exit_.code or 0)
    if args.command is None:  # bare `jaxmix`: the overview of the commands
        parser.print_help()
        return 0
    _setup_jax(args.float32)
    from jaxmix._status import InputError

    try:
        COMMANDS[args.command](args)
    except InputError as err:
        print(f"jaxmix: error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("jaxmix: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
