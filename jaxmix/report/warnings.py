"""What the terminal shows of a fit's and a mixture's warnings: the few that matter first, in
plain words, with the repetitive and technical ones collapsed into one line each.

The fit and mixture files keep every warning in full, and ``jaxmix -v`` prints them all.
Warnings are matched on their wording; one this module does not know is shown as it is.
"""

from __future__ import annotations

import re

ACT, CHECK, NOTE = 0, 1, 2  # severity: may change the decision, worth a look, background

_IDENT = re.compile(r"^(?P<d>[^:]+): the pilots do not (?P<how>determine|pin down) the direction")
_CAP = re.compile(r"^(?P<d>[^:]+): fit stopped at the step cap")
_NOISY = re.compile(r"^(?P<d>[^:]+): noisy pilots: ")
_STAGE1 = re.compile(r"^(?P<d>[^:]+): stage 1 skipped (?P<n>\d+) of")
_OUTLIER = re.compile(r"x the column's median")
_EXTRAP = re.compile(
    r"^(?P<d>[^:]+): the budget's amount \S+ is (?P<r>\S+)x the largest pilot amount"
)
_ACT_WORDS = (
    "rests on the largest pilots",
    "may not extrapolate",
    "falls faster than the fitted law",
    "non-finite",
    "not finite",
    "has no 'n:",
    "differ by",
    "Frank-Wolfe gap",
    "in another unit",
    "look like perplexities",
)
_CHECK_WORDS = ("the law is extrapolating", "using the reference procedure", "epochs over")


def _names(domains) -> str:
    return ", ".join(dict.fromkeys(domains))


def _severity(w: str) -> int:
    if w.startswith("combined fit: "):  # which laws the default combined: background
        return NOTE
    if any(word in w for word in _ACT_WORDS) or _OUTLIER.search(w):
        return ACT
    if any(word in w for word in _CHECK_WORDS):
        return CHECK
    return CHECK


def summarize(warnings, bootstrapped: bool = False) -> tuple[list[tuple[str, str]], int]:
    """``([(label, line)], hidden)``: the lines to show, most severe first, each labelled
    ``"warning"`` or ``"note"``, and how many warnings were folded into a summary line."""
    g = _classify(warnings)
    shown, folded = g["shown"], 0
    for lines, n in (
        _fold_extrapolation(g["extrap"]),
        _fold_outliers(g["outliers"]),
        _fold_noisy(g["noisy"], warnings),
        _fold_stage1(g["stage1"]),
        _fold_caps(g["caps"]),
        _fold_undetermined(g["ident"], g["weak"], warnings, bootstrapped),
    ):
        shown += lines
        folded += n
    shown.sort(key=lambda x: x[0])
    return [("note" if s == NOTE else "warning", w) for s, w in shown], folded


def _classify(warnings) -> dict:
    """The warnings sorted into the groups that fold (exact repeats once), and the rest
    (``shown``, with their severity)."""
    g = {key: [] for key in ("shown", "ident", "weak", "caps", "noisy", "stage1", "outliers")}
    g["extrap"] = []
    for w in dict.fromkeys(warnings):  # exact repeats once
        if m := _EXTRAP.match(w):
            g["extrap"].append((w, m["d"], m["r"]))
        elif m := _IDENT.match(w):
            g["ident" if m["how"] == "determine" else "weak"].append(m["d"])
        elif m := _CAP.match(w):
            g["caps"].append(m["d"])
        elif m := _NOISY.match(w):
            g["noisy"].append(m["d"])
        elif m := _STAGE1.match(w):
            g["stage1"].append((m["d"], int(m["n"])))
        elif _OUTLIER.search(w):
            g["outliers"].append(w)
        else:
            g["shown"].append((_severity(w), w))
    return g


def _fold_extrapolation(extrap) -> tuple[list, int]:
    if len(extrap) > 1:
        line = (
            f"the law is extrapolating: at this budget {extrap[0][1]} gets {extrap[0][2]}x "
            "its largest pilot amount"
            + "".join(f", {d} {r}x" for _, d, r in extrap[1:])
            + " (confirm the mixture with runs from `jaxmix next`)"
        )
        return [(CHECK, line)], len(extrap)
    return [(CHECK, w) for w, _, _ in extrap], 0


def _fold_outliers(outliers) -> tuple[list, int]:
    shown = [(ACT, w) for w in outliers[:3]]
    if len(outliers) > 3:
        shown.append((ACT, f"... and {len(outliers) - 3} more losses far from their column"))
        return shown, len(outliers) - 3
    return shown, 0


def _fold_noisy(noisy, warnings) -> tuple[list, int]:
    if len(noisy) > 2:
        line = (
            f"noisy pilots: a loss rises while only its own domain's data grows, in "
            f"{len(noisy)} places ({_names(noisy)})"
        )
        return [(CHECK, line)], len(noisy)
    return [(CHECK, w) for w in dict.fromkeys(warnings) if _NOISY.match(w)], 0


def _fold_stage1(stage1) -> tuple[list, int]:
    if not stage1:
        return [], 0
    total = sum(n for _, n in stage1)
    line = (
        f"noisy pilots: the reference fit skipped {total} of its stage-1 terms "
        f"({_names(d for d, _ in stage1)}); the joint fit uses every run"
    )
    return [(CHECK, line)], len(stage1)


def _fold_caps(caps) -> tuple[list, int]:
    if not caps:
        return [], 0
    line = (
        f"the fit of {_names(caps)} stopped at its step limit before fully converging "
        "(the rms resid column shows how well it fits)"
    )
    return [(NOTE, line)], len(caps)


def _fold_undetermined(ident, weak, warnings, bootstrapped: bool) -> tuple[list, int]:
    if not (ident or weak):
        return [], 0
    hint = not bootstrapped and not any("reference procedure" in w for w in warnings)
    line = (
        f"the pilots leave some parameters of {_names(sorted(set(ident + weak)))} "
        "undetermined (usual for the 1+4K design)"
        + ("; --bootstrap shows how much the weights could move" if hint else "")
    )
    return [(NOTE, line)], len(ident) + len(weak)


def lines(warnings, verbose: bool = False, bootstrapped: bool = False) -> list[str]:
    """The lines the terminal shows, each once (``verbose``: every warning in full;
    ``bootstrapped``: the bootstrap ran, so no line suggests it)."""
    warnings = list(warnings)
    if verbose:  # every warning the files hold, as they hold them
        return [f"warning: {w}" for w in warnings]
    shown, folded = summarize(warnings, bootstrapped)
    out = [f"{label}: {w}" for label, w in shown]
    if folded:
        out.append(f"(-v shows the {folded} detailed warnings behind these lines in full)")
    return out
