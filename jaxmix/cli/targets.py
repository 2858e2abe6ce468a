"""``jaxmix run --objective`` for targets that are not training domains: fit the target law,
choose against the best observed run, print and write the mixture
(:func:`jaxmix.study.targets.recommend_targets`)."""

from __future__ import annotations

import sys

import numpy as np

from jaxmix.cli.common import say, table_out, warn
from jaxmix.laws.targets import LAWS

# Options of the per-domain laws that the target law does not take (yet): refused up front.
_UNSUPPORTED = (
    ("bootstrap", "--bootstrap"), ("report", "--report"),
    ("law", "--law"), ("target", "--target"), ("importance", "--importance"),
    ("min_weight", "--min-weight"), ("max_weight", "--max-weight"), ("fix", "--fix"),
    ("available", "--available"), ("repetition", "--repetition"),
)


def check_target_flags(args) -> None:
    """One-line error for an option a target objective cannot use."""
    from jaxmix.status import InputError

    for attr, flag in _UNSUPPORTED:
        if getattr(args, attr, None):
            raise InputError(
                f"{flag} is not available with a target objective (--objective "
                f"{getattr(args, 'objective', None) or 'the only target'}); it applies to "
                "loss:<domain> laws"
            )
    if getattr(args, "method", None) == "reference":
        raise InputError("--method reference needs the 1+4K design of one loss column; a "
                         "target objective is fitted by the target law")


def run_targets(args, table, objective) -> None:
    from jaxmix.study.targets import recommend_targets

    names, candidates, near, strength = decision_options(args, table.domains)
    rec = recommend_targets(table, objective, candidates, seed=args.seed, names=names,
                            near=near, strength=strength)
    budget = args.budget if args.budget is not None else rec.fit.budget
    if getattr(args, "fit_output", None):
        from jaxmix.io.targetfitfile import write_target_fit

        write_target_fit(rec.fit, table.runs, args.fit_output, rec.warnings)
    answer(args, rec, table.runs, budget, {"fit_pilots": str(args.pilots)}, args.quiet)


def decision_options(args, domains):
    """``(names, candidates, near, strength)`` of ``--candidates`` and ``--stay-near``, after
    refusing the options a target objective cannot use."""
    from jaxmix.io.mixtures_csv import read_mixture_table

    check_target_flags(args)
    names = candidates = None
    if getattr(args, "candidates", None):
        names, candidates, _ = read_mixture_table(args.candidates, domains)
    return (names, candidates, *stay_near(args, domains))


def answer(args, rec, runs, budget: float, extra: dict, json_to_stdout: bool) -> None:
    """Write the mixture file (or, when ``json_to_stdout`` and no ``-o``, print its JSON),
    then the warnings and the terminal text (to stderr when the JSON took stdout)."""
    import json

    from jaxmix.io.targetfile import target_mixture_dict, write_target_mixture

    if args.output:
        write_target_mixture(rec, runs, budget, args.output, extra)
    elif json_to_stdout:
        data = target_mixture_dict(rec, runs, budget)
        sys.stdout.write(json.dumps({**data, **extra}, indent=1) + "\n")
    warn(args, list(rec.warnings))
    text = format_targets(rec, runs, budget)
    if json_to_stdout:
        table_out(args, text)
    else:
        say(args, text)


def format_targets(rec, runs, budget: float, show: int = 8) -> str:
    """The recommendation as terminal text: the fit per target, the mixtures, the decision."""
    fit, c = rec.fit, rec.choice
    lines = format_fit_lines(fit, len(runs), show)
    lines.append("")
    lines.append(f"  {'domain':<20} {'recommended':>11} {'best run':>9} {'optimum':>8}")
    for i, d in enumerate(fit.domains):
        lines.append(f"  {d:<20} {c.weights[i]:>11.4f} {c.best_weights[i]:>9.4f} "
                     f"{c.optimum[i]:>8.4f}")
    lines.append(f"best observed run: {runs[c.best_run]} (objective {c.observed_best:.6g}); "
                 f"budget {budget:g}")
    lines.append(f"decision ({c.action}): {c.line}")
    if np.isfinite(c.given_up):
        rel = 100 * c.given_up / max(abs(c.observed_best), 1e-30)
        lines.append(f"staying near the reference mixture gives up {rel:.2f}% of the objective "
                     "at the optimum (predicted)")
    return "\n".join(lines)


def format_fit_lines(fit, n_runs: int, show: int = 8) -> list:
    """The target fit as lines of terminal text: per target its out-of-fold error."""
    cols = fit.objective.columns
    lines = [f"target laws on {n_runs} runs, objective {short_spec(fit.objective)}"]
    lines.append(f"  {'target':<28} {'law':<14} {'out-of-fold RMSE':>16} {'ridge':>7}  status")
    for j in range(min(len(cols), show)):
        st = "converged" if int(fit.status[j]) == 0 else f"status {int(fit.status[j])}"
        law = LAWS[int(fit.law[j])]
        lines.append(f"  {cols[j]:<28} {law:<14} {fit.cv_rmse[j]:>16.4g} {fit.ridge[j]:>7g}"
                     f"  {st}")
    if len(cols) > show:
        ok = int(np.sum(fit.status == 0))
        lines.append(f"  ... {len(cols) - show} more targets ({ok}/{len(cols)} converged)")
    return lines


def add_targets(p, candidates: bool = True, near: bool = False) -> None:
    """``--objective`` (and ``--candidates`` unless ``candidates`` is False, the stay-near
    penalty when ``near``)."""
    g = p.add_argument_group("targets (loss:<name> and score:<name> columns)")
    g.add_argument(
        "--objective",
        metavar="COLUMN[=W],...",
        help="targets to optimize and their weights, e.g. 'score:gsm8k=2,loss:total' or "
        "'loss:*' (scores are maximized); default: the mean loss:<domain>, else the only target",
    )
    if candidates:
        add_candidates(g)
    if near:
        add_stay_near(g)


def add_stay_near(g) -> None:
    g.add_argument(
        "--stay-near",
        metavar="D=W,...|FILE",
        help="penalize the optimum's KL divergence from this mixture (shares per domain, or "
        "a mixture JSON); unlisted domains get 0 (floored at 1e-6); default uniform",
    )
    g.add_argument("--strength", type=float, default=None,
                   help="weight of the stay-near penalty (default 1 with --stay-near, else 0)")


def stay_near(args, domains):
    """``(near [K] or None, strength)`` from ``--stay-near`` and ``--strength``."""
    from jaxmix.status import InputError

    text, strength = getattr(args, "stay_near", None), getattr(args, "strength", None)
    if text is None:
        return None, float(strength or 0.0)
    strength = 1.0 if strength is None else float(strength)
    if "=" not in text:
        from jaxmix.io.mixturefile import read_mixture

        mix = read_mixture(text)
        shares = dict(zip(mix.domains, np.asarray(mix.weights, float)))
        extra = [d for d in shares if d not in domains]
        if extra:
            raise InputError(f"--stay-near: {text} has domain {extra[0]!r}, not in the table")
        return np.array([shares.get(d, 0.0) for d in domains]), strength
    near = dict.fromkeys(domains, 0.0)
    for part in text.split(","):
        d, _, w = part.partition("=")
        d = d.strip()
        if d not in near:
            raise InputError(f"--stay-near: unknown domain {d!r} (the table's: "
                             f"{', '.join(domains)})")
        try:
            near[d] = float(w)
        except ValueError:
            raise InputError(f"--stay-near: {part!r} is not DOMAIN=SHARE") from None
    return np.array([near[d] for d in domains]), strength


def add_candidates(g) -> None:
    g.add_argument(
        "--candidates",
        metavar="FILE",
        help="CSV of mixtures (w:<domain> shares or n:<domain> amounts): the answer is one of "
        "them or the safe mixture (the best observed run, else uniform)",
    )


def objective_for_targets(args, answer=None, candidates_ok: bool = False):
    """Read the table and the objective of ``run`` (``fit``, ``validate``, ``next``): a
    target objective is answered here by ``answer(args, table, objective)`` (default
    :func:`run_targets`) and None is returned; else the table, with an objective of
    ``loss:<domain>`` columns turned into ``--importance`` weights of the per-domain laws
    (``candidates_ok``: ``--candidates`` also serves the per-domain command)."""
    from jaxmix.io.pilots import read_pilots
    from jaxmix.objective import parse_objective
    from jaxmix.status import InputError

    table = read_pilots(args.pilots)
    if args.objective is None and all(f"loss:{d}" in table.losses for d in table.domains):
        objective = None
    else:
        objective = parse_objective(args.objective, table.targets(), table.domains)
    every = all(f"loss:{d}" in table.losses for d in table.domains)
    if objective is not None and not (every and objective.is_domain_losses(table.domains)):
        # targets that are not domains, or domain losses the per-domain laws cannot fit
        # (some domain has no loss column, as in a swarm that validates a few of them)
        (answer or run_targets)(args, table, objective)
        return None
    refuse_stay_near(args)
    if getattr(args, "candidates", None) and not candidates_ok:
        raise InputError("--candidates needs a target objective (--objective with a score: or "
                         "non-domain loss: column); for loss:<domain> laws use jaxmix predict")
    if objective is not None:
        if getattr(args, "importance", None):
            raise InputError("give the weights of loss:<domain> targets with --objective or "
                             "--importance, not both")
        w = dict(zip((c[5:] for c in objective.columns), objective.weights))
        args.importance = [(d, str(w.get(d, 0.0))) for d in table.domains]
    return table


def validate_targets_cmd(args, table, objective) -> None:
    """``jaxmix validate --objective``: the target law's out-of-fold errors."""
    import json

    from jaxmix.io.atomic import write_atomic
    from jaxmix.io.jsonfile import clean
    from jaxmix.study.target_studies import validate_targets

    v = validate_targets(table, objective, seed=args.seed)
    data = clean({"law": "laws per target", "objective_spec": objective.spec(),
                  "folds": v.folds, "law_rmse": dict(zip(v.columns, v.law_rmse)),
                  "mean_rmse": dict(zip(v.columns, v.mean_rmse)),
                  "objective_law_rmse": v.objective_law_rmse,
                  "objective_mean_rmse": v.objective_mean_rmse,
                  "rank_correlation": v.rank_corr, "law_beats_the_mean": v.better})
    text = json.dumps(data, indent=1) + "\n"
    if args.output:
        write_atomic(args.output, text)
    elif args.quiet:
        print(text, end="")
    lines = [f"target laws, {v.folds} folds over {len(table.runs)} runs, objective "
             f"{short_spec(objective)}",
             f"  {'target':<28} {'law RMSE':>10} {'mean RMSE':>10}"]
    for c, a, b in list(zip(v.columns, v.law_rmse, v.mean_rmse))[:8]:
        lines.append(f"  {c:<28} {a:>10.4g} {b:>10.4g}")
    if len(v.columns) > 8:
        lines.append(f"  ... {len(v.columns) - 8} more targets")
    lines.append(f"  {'objective':<28} {v.objective_law_rmse:>10.4g} "
                 f"{v.objective_mean_rmse:>10.4g}")
    lines.append(f"held-out rank correlation of the objective: {v.rank_corr:+.3f}; the law "
                 + ("predicts held-out runs better than their mean" if v.better else
                    "does NOT predict held-out runs better than their mean: do not trust its "
                    "moves"))
    say(args, "\n".join(lines))


def next_targets_cmd(args, table, objective) -> None:
    """``jaxmix next --objective``: the next runs for a target objective."""
    from jaxmix.io.mixtures_csv import read_mixture_table
    from jaxmix.io.pilots import write_pilots
    from jaxmix.report.text import table as text_table
    from jaxmix.study.target_studies import propose_targets

    for attr, flag in (("law", "--law"), ("target", "--target"), ("importance", "--importance"),
                       ("min_weight", "--min-weight"), ("max_weight", "--max-weight"),
                       ("fix", "--fix"), ("available", "--available")):
        if getattr(args, attr, None):
            from jaxmix.status import InputError

            raise InputError(f"{flag} is not available with a target objective (--objective "
                             f"{short_spec(objective)}); it applies to loss:<domain> laws")
    candidates = None
    if args.candidates:
        _, candidates, _ = read_mixture_table(args.candidates, table.domains)
    prop = propose_targets(table, args.budget, runs=args.runs, objective=objective,
                           candidates=candidates, seed=getattr(args, "seed", 0) or 0)
    write_pilots(prop.table, args.output)
    rows = [[run] + [f"{w:.4f}" for w in prop.weights[r]] + [why]
            for r, (run, why) in enumerate(zip(prop.table.runs, prop.reasons))]
    say(args, text_table(["run", *table.domains, "why"], rows)
        + f"\nwrote {len(rows)} runs to {args.output}")


def short_spec(objective, width: int = 80) -> str:
    """The objective as text for the terminal: in full when short, else its size.

    >>> from jaxmix.objective import parse_objective
    >>> short_spec(parse_objective("loss:*", {f"loss:t{i}": 0 for i in range(40)}))
    '40 targets, equal weights (loss:t0, ..., loss:t39)'
    """
    spec = objective.spec()
    if len(spec) <= width:
        return spec
    cols = objective.columns
    if np.all(objective.weights == objective.weights[0]):
        return f"{len(cols)} targets, equal weights ({cols[0]}, ..., {cols[-1]})"
    return spec[: width - 3] + "..."


def refuse_stay_near(args) -> None:
    """One-line error for ``--stay-near``/``--strength`` outside a target objective."""
    from jaxmix.status import InputError

    if getattr(args, "stay_near", None) is not None or getattr(args, "strength", None):
        raise InputError("--stay-near and --strength need a target objective (--objective with "
                         "a score: or non-domain loss: column)")
