"""``jaxmix plan`` (the pilot runs to train) and ``jaxmix import`` (a pilot table from
Trainer logs or a W&B export)."""

from __future__ import annotations

import sys

from jaxmix.cli.common import Parser, check_output, pair_type, say


def add_plan_parser(sub) -> None:
    """``jaxmix plan``: write the pilot runs to do (1 + 4K perturbations)"""
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


def cmd_plan(args) -> None:
    from jaxmix.io.pilots import parse_multipliers, pilots_to_csv, plan, write_pilots

    check_output(args.output)
    table = plan(args.domains.split(","), args.base, parse_multipliers(args.multipliers))
    if args.budget is not None:
        from jaxmix.io.design import lattice_size, near_budget, pilot_cost

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
        say(
            args, f"wrote {len(table.runs)} pilot runs to {args.output}; fill in the loss: columns"
        )
    else:
        sys.stdout.write(pilots_to_csv(table))


def add_import_parser(sub) -> None:
    p = sub.add_parser("import", help="pilot table from Trainer logs, a W&B export, an "
                       "Olmix swarm or a RegMix sweep")
    src = p.add_subparsers(dest="source", required=True, parser_class=Parser)
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
        type=pair_type("--loss-column"),
        metavar="D=COLUMN",
        help="read loss:D from COLUMN (repeatable; replaces the naming rule)",
    )
    for x in (q, r):
        x.add_argument(
            "--manifest", required=True, help="CSV of amounts: run,n:<domain>,... (seed)"
        )
    o = _swarm_parser(
        src, "olmix", "an Olmix swarm: its ratios.csv and metrics.csv",
        "Each run's amounts are its ratios times --budget; each metric column becomes a "
        "loss:<metric> target (Olmix's bits per byte), or score:<metric> with --as score. The "
        "files are joined on their run column.",
        ("ratios", "the swarm's ratios CSV (run, one column per domain)"),
        ("metrics", "the swarm's metrics CSV (run, one column per metric)"),
    )
    o.add_argument("--as", dest="kind", choices=("loss", "score"), default="loss",
                   help="the metrics are losses, lower is better (default), or scores")
    g = _swarm_parser(
        src, "regmix", "a RegMix sweep: its mixture CSV and loss CSV",
        "Each run's amounts are its train_<domain> shares times --budget; each "
        "metric/<name>_val_loss column becomes loss:<name> (a domain's own loss when <name> is "
        "a training domain). The files are joined on their index column.",
        ("mixtures", "the sweep's mixture CSV (index, train_<domain> shares)"),
        ("losses", "the sweep's loss CSV (index, metric/<name>_val_loss)"),
    )
    for x in (q, r, o, g):
        x.add_argument("-o", "--output", required=True, help="pilot CSV (or .json) to write")


def _swarm_parser(src, name: str, summary: str, description: str, shares, metrics):
    """The parser of a fixed-budget swarm's two files: ``(dest, help)`` of each, and
    ``--budget``."""
    p = src.add_parser(name, help=summary, description=description)
    for dest, text in (shares, metrics):
        p.add_argument(dest, help=text)
    p.add_argument("--budget", type=float, required=True,
                   help="tokens (in your unit) each run of the swarm trained on")
    return p


def cmd_import(args) -> None:
    import numpy as np

    from jaxmix.io.importers import import_trainer_state, import_wandb
    from jaxmix.io.olmix import import_olmix, import_regmix
    from jaxmix.io.pilots import write_pilots

    check_output(args.output)
    if args.source == "trainer-state":
        table = import_trainer_state(args.folder, args.manifest)
    elif args.source == "olmix":
        table = import_olmix(args.ratios, args.metrics, args.budget, args.kind)
    elif args.source == "regmix":
        table = import_regmix(args.mixtures, args.losses, args.budget)
    else:
        columns = dict(args.loss_column) if args.loss_column else None
        table = import_wandb(args.export, args.manifest, args.run_column, columns)
    write_pilots(table, args.output)
    targets = table.targets()
    missing = sum(int(np.isnan(v).sum()) for v in targets.values())
    shown = ", ".join(list(targets)[:4]) + (f", ... ({len(targets)})" if len(targets) > 4 else "")
    say(args, f"wrote {len(table.runs)} pilot runs ({shown}; {missing} empty cells) to "
        f"{args.output}")
