"""``jaxmix predict``: a fit's predicted losses and objective at given mixtures, with
intervals (:func:`jaxmix.study.predictions.predict_mixtures`)."""

from __future__ import annotations

import sys

from jaxmix.cli.common import check_output, collect_pairs, pair_type


def add_predict_parser(sub) -> None:
    """``jaxmix predict``: predicted losses at given mixtures"""
    p = sub.add_parser("predict", help="predicted losses and objective at given mixtures")
    p.add_argument("fit", help="fit JSON (from `jaxmix fit`)")
    p.add_argument(
        "mixtures", help="CSV: a row per mixture, w:<domain> shares or n:<domain> amounts"
    )
    p.add_argument("--budget", type=float, help="total amount N for w: shares")
    p.add_argument(
        "--importance",
        action="append",
        type=pair_type("--importance"),
        metavar="D=W",
        help="weight of a domain's loss in the objective (default 1)",
    )
    p.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    p.add_argument("-o", "--output", help="CSV to write; stdout when absent")


def cmd_predict(args) -> None:
    from jaxmix.cli.targetfit import predict_target_fit, read_any_fit
    from jaxmix.io.mixtures_csv import predictions_csv, read_mixture_table
    from jaxmix.status import InputError
    from jaxmix.study.predictions import predict_mixtures

    check_output(args.output)
    fit, runs = read_any_fit(args.fit)
    if runs is not None:  # a target fit: the objective and the shares are all it needs
        _write_or_print(args, predict_target_fit(args, fit))
        return
    names, weights, budgets = read_mixture_table(args.mixtures, fit.domains)
    if budgets is None and args.budget is None:
        raise InputError(f"--budget: needed for the w: shares of {args.mixtures}")
    if budgets is not None and args.budget is not None:
        raise InputError("--budget: the n: amounts of the mixtures already give the budget")
    out = predict_mixtures(
        fit,
        weights,
        args.budget if budgets is None else budgets,
        importance=collect_pairs(args.importance, "--importance"),
        level=args.level,
    )
    _write_or_print(args, predictions_csv(names, out))


def _write_or_print(args, text: str) -> None:
    from jaxmix.io.atomic import write_atomic

    if args.output:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
