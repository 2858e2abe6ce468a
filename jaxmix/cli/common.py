"""Pieces every ``jaxmix`` command shares: the parser class and option groups, option
parsing, fitting the pilots, and output (tables, warnings, files written atomically)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_INPUT = 2


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        self.exit(EXIT_INPUT, f"jaxmix: error: {message}\n")


def pair_type(flag: str):
    def parse(text: str):
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise argparse.ArgumentTypeError(f"{flag} expects domain=value, got {text!r}")
        return name.strip(), value.strip()

    return parse


def collect_pairs(pairs, flag: str = "") -> dict | None:
    if not pairs:
        return None
    from jaxmix.status import InputError

    out = {}
    for name, value in pairs:
        try:
            out[name] = float(value)
        except ValueError:
            where = f"{flag}: " if flag else ""
            raise InputError(f"{where}{name}={value!r} is not a number") from None
    return out


def add_constraints(p) -> None:
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
        g.add_argument(flag, action="append", type=pair_type(flag), metavar="D=V", help=help_)
    g.add_argument(
        "--max-epochs",
        type=float,
        help="passes allowed over available data (default 1; no cap with --repetition)",
    )
    g.add_argument("--restarts", type=int, default=8, help="gradient-solver restarts (default 8)")
    g.add_argument("--seed", type=int, default=0, help="seed of the restarts (default 0)")


def add_repetition(p) -> None:
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


def add_fit_options(p) -> None:
    from jaxmix.fitting.joint import STRATEGIES
    from jaxmix.fitting.single import METHODS
    from jaxmix.laws.registry import available_laws

    p.add_argument(
        "--law",
        choices=available_laws(),
        default=None,
        help="force one law family (default: every law, combined by held-out error on the "
        "pilots, and a decision against the safe mixture; transfer without per-domain losses)",
    )
    p.add_argument(
        "--method",
        choices=METHODS,
        help="joint (default when per-domain losses exist) or reference",
    )
    p.add_argument("--target", help="loss column for --method reference (e.g. loss:total)")
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
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


def say(args, text: str) -> None:
    if not args.quiet:
        print(text)


def warn(args, warnings) -> None:
    """Warnings on stderr: the ones that matter first, in plain words (-v: all in full)."""
    from jaxmix.report.warnings import lines

    if not args.quiet:
        ran = bool(getattr(args, "bootstrap", 0))
        for line in lines(warnings, getattr(args, "verbose", False), bootstrapped=ran):
            print(line, file=sys.stderr)


def table_out(args, text: str) -> None:
    """The human-readable table: stdout, or stderr when stdout carries the JSON (no -o)."""
    if args.quiet:
        return
    print(text, file=sys.stdout if args.output else sys.stderr)


def write_or_print(args, text: str) -> None:
    if args.output:
        from jaxmix.io.atomic import write_atomic

        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)


def check_output(path) -> None:
    from jaxmix.status import InputError

    if path is None:
        return
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise InputError(f"output folder {str(parent)!r} does not exist", path)
    if Path(path).is_dir():
        raise InputError("is a folder; give the name of a file to write", path)


def check_study_flags(args) -> None:
    """Flags that would only fail after the fit (``--bootstrap``, ``--level``,
    ``--restarts``): checked first, so a typo costs no work."""
    from jaxmix.status import InputError

    b = getattr(args, "bootstrap", None)
    if b is not None and (b < 0 or b == 1):
        raise InputError(f"--bootstrap needs 0 (none) or at least 2 resamples, got {b}")
    level = getattr(args, "level", None)
    if level is not None and not 0 < level < 1:
        raise InputError(f"--level must be in (0, 1), got {level:g}")
    restarts = getattr(args, "restarts", None)
    if restarts is not None and restarts < 1:
        raise InputError(f"--restarts must be at least 1, got {restarts}")


def optimize_kwargs(args) -> dict:
    return dict(
        importance=collect_pairs(args.importance, "--importance"),
        min_weight=collect_pairs(args.min_weight, "--min-weight"),
        max_weight=collect_pairs(args.max_weight, "--max-weight"),
        fix=collect_pairs(args.fix, "--fix"),
        available=collect_pairs(args.available, "--available"),
        max_epochs=args.max_epochs,
        restarts=args.restarts,
        seed=args.seed,
    )


def fit_pilots(args, table=None):
    from jaxmix.fitting.api import fit
    from jaxmix.fitting.checks import measured_runs
    from jaxmix.io.pilots import read_pilots

    # The runs without losses are left out here, so that every study of the command (the
    # bootstrap, the report) sees the table the fit saw; fit() warns about them.
    table = read_pilots(args.pilots) if table is None else table
    return measured_runs(table)[0], fit(
        table,
        method=args.method,
        target=args.target,
        law=args.law,
        strategy=args.strategy,
        reference_unit=args.reference_unit,
        check_extrapolation=not args.no_extrapolation_check,
    )


def progress_printer(args):
    if args.quiet:
        return None

    def report(stage, done, total):
        print(f"jaxmix: bootstrap {stage} {done}/{total}", file=sys.stderr, flush=True)

    return report


def budget_list(text: str) -> list:
    from jaxmix.status import InputError

    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--budgets: {text!r} is not a comma-separated list of numbers") from None
