"""The condensed table of benchmarks/README.md from ``results/regret.json``:
``python -m benchmarks.regret.report [results/regret.json]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ORDER = (
    "default (combination + decision)",
    "best of pilots",
    "combination optimum",
    "validate -> law",
    "law transfer",
    "law mixing_law",
    "law interference",
    "LightGBM",
    "uniform",
)


def family(name: str) -> str:
    return name.split(" (")[0] if name.startswith("SFT") else name.rsplit(" ", 1)[0]


def condensed(results: dict) -> str:
    from .__main__ import summarize

    fams: dict = {}
    for name, rows in results["trials"].items():
        fams.setdefault(family(name), []).extend(rows)
    fams["pooled"] = [r for rows in results["trials"].values() for r in rows]
    lines = [
        "| data set (trials) | protocol | mean % | p90 % | worst % | <= best-of-pilots + 0.15 |",
        "|---|---|---|---|---|---|",
    ]
    for fam, rows in fams.items():
        s = summarize(rows)
        for p in ORDER:
            v = s.get(p)
            label = f"{fam} ({len(rows)})"
            if v is None:
                lines.append(f"| {label} | {p} | n/a | | | |")
                continue
            bold = "**" if p.startswith("default") else ""
            lines.append(
                f"| {label} | {bold}{p}{bold} | {bold}{v['mean']:.3f}{bold} | {v['p90']:.3f} | "
                f"{v['worst']:.3f} | {100 * v['no_worse_share']:.0f}% |"
            )
    return "\n".join(lines)


def actions(results: dict) -> str:
    out = []
    for fam in dict.fromkeys(family(n) for n in results["trials"]):
        rows = [r for n, rs in results["trials"].items() if family(n) == fam for r in rs]
        acts = [r["action"] for r in rows]
        out.append(
            f"{fam}: " + ", ".join(f"{a} {acts.count(a)}" for a in ("move", "shrink", "keep"))
        )
    return "; ".join(out)


def synthetic(results: dict) -> str:
    lines = [
        "| known law | default | combination optimum | transfer law alone | uniform "
        "| default / uniform |",
        "|---|---|---|---|---|---|",
    ]
    for key, res in results.get("synthetic", {}).items():
        d, u = res["default (combination + decision)"]["mean"], res["uniform"]["mean"]
        lines.append(
            f"| {key} | {d:.3f}% | {res['combination optimum']['mean']:.3f}% | "
            f"{res['law transfer']['mean']:.3f}% | {u:.3f}% | {d / u:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else Path(__file__).parents[1] / "results" / "regret.json"
    results = json.loads(path.read_text())
    if results.get("trials"):
        print(condensed(results))
        print()
        print("decisions: " + actions(results))
    if results.get("synthetic"):
        print()
        print(synthetic(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
