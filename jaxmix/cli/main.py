"""The ``jaxmix`` command: parse -> validate -> call the API -> write atomically.

Bad input exits with status 2 and one line on stderr naming the file, row and column.
"""

from __future__ import annotations

import argparse
import re
import sys

from jaxmix.cli.common import EXIT_INPUT, GLOBAL_FLAGS, Parser
from jaxmix.cli.mixture import (
    add_export_parser,
    add_fit_parser,
    add_optimize_parser,
    add_run_parser,
    cmd_export,
    cmd_fit,
    cmd_optimize,
    cmd_run,
)
from jaxmix.cli.pilots import add_import_parser, add_plan_parser, cmd_import, cmd_plan
from jaxmix.cli.predict import add_predict_parser, cmd_predict
from jaxmix.cli.report import add_report_parser, cmd_report
from jaxmix.cli.study import (
    add_next_parser,
    add_pareto_parser,
    add_sweep_parser,
    add_validate_parser,
    cmd_next,
    cmd_pareto,
    cmd_sweep,
    cmd_validate,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="jaxmix", description="Data-mixture optimization for SFT.")
    for flags, help_ in GLOBAL_FLAGS:
        parser.add_argument(*flags, action="store_true", help=help_)
    from jaxmix.version import __version__

    parser.add_argument("--version", action="version", version=f"jaxmix {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    for add in PARSERS:  # in the order of `jaxmix --help`
        add(sub)
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
    from jaxmix.cache import enable_caches

    enable_caches()  # (import jaxmix did too; idempotent)


PARSERS = (
    add_plan_parser,
    add_fit_parser,
    add_optimize_parser,
    add_run_parser,
    add_predict_parser,
    add_export_parser,
    add_next_parser,
    add_validate_parser,
    add_sweep_parser,
    add_pareto_parser,
    add_report_parser,
    add_import_parser,
)


COMMANDS = {
    "import": cmd_import,
    "report": cmd_report,
    "plan": cmd_plan,
    "fit": cmd_fit,
    "optimize": cmd_optimize,
    "run": cmd_run,
    "predict": cmd_predict,
    "sweep": cmd_sweep,
    "validate": cmd_validate,
    "next": cmd_next,
    "export": cmd_export,
    "pareto": cmd_pareto,
}


# The library's errors name its arguments; the command line's name the flags.
_ARGUMENTS = (
    "importance", "min_weight", "max_weight", "fix", "available", "max_epochs", "r_star",
    "baseline", "level", "runs", "between", "points", "budget",
)
_FLAG_OF = re.compile(r"^(" + "|".join(_ARGUMENTS) + r")\b(?=[: ])")


def as_flags(message: str) -> str:
    """A library error as the command line says it: ``max_weight: ...`` ->
    ``--max-weight: ...``; ``n: the bootstrap ...`` -> ``--bootstrap: ...``.

    >>> as_flags("max_weight: unknown domain 'c'")
    "--max-weight: unknown domain 'c'"
    """
    if message.startswith("n: the bootstrap"):
        return "--bootstrap" + message[len("n: the bootstrap") :]
    return _FLAG_OF.sub(lambda m: "--" + m[1].replace("_", "-"), message)


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
    from jaxmix.status import InputError

    try:
        COMMANDS[args.command](args)
    except InputError as err:
        print(f"jaxmix: error: {as_flags(str(err))}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("jaxmix: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
