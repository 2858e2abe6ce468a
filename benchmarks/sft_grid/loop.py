"""`python -m benchmarks.sft_grid.loop`: the confirmation loop on the SFT grid benchmark.

Uses the grid already trained by `python -m benchmarks.sft_grid` (benchmarks/results/
sft_grid.json: same base model, same data pools, same budget) and the paper's pilots
(jaxmix/examples/sft_pilots.csv), and runs, through the jaxmix command line:

1. the paper-only protocol (`fit` + `optimize` with the transfer law) and its warnings;
2. `validate` on the pilots, then `fit --law <supported law>` + `optimize`;
3. the loop: `next --runs R` proposes R runs at the budget, the benchmark trains them
   (seed 0), appends them to the pilots, and `fit` + `optimize` give the new mixture.

Every recommended mixture is trained at the budget with the grid's seeds and scored by
its regret against the grid's best mixture. First, one grid run is retrained to check
that training reproduces the stored grid.
"""

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from . import jaxmix_api
from .config import FULL
from .datasets import DOMAINS, build_pools
from .jaxmix_api import cli
from .model import init_params
from .pretrain import cache_dir
from .protocol import integer_amounts
from .report import gap_pct, regret_pct
from .runs import train_runs

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results"


def load_base(cfg, key: str):
    """The grid's base model, by the cache key recorded in sft_grid.json."""
    path = cache_dir() / f"base-{key}.npz"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `python -m benchmarks.sft_grid` first")
    treedef = jax.tree.structure(init_params(jax.random.PRNGKey(0), cfg.model))
    with np.load(path) as z:
        leaves = [jnp.asarray(z[f"a{i}"]) for i in range(treedef.num_leaves)]
    return jax.tree.unflatten(treedef, leaves)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_rows(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.sft_grid.loop", description=__doc__)
    ap.add_argument("--runs", type=int, default=3, help="runs proposed by `jaxmix next`")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = ap.parse_args(argv)
    t0 = time.time()

    def log(msg):
        print(f"[{time.time() - t0:7.1f}s] {msg}", flush=True)

    grid_res = json.loads((RESULTS / "sft_grid.json").read_text())
    cfg = FULL
    n = cfg.budget
    assert grid_res["budget"] == n and grid_res["domains"] == list(DOMAINS)
    grid = np.array([r["loss"] for r in grid_res["grid"]["runs"]])  # [G, K] seed means
    work = args.out / "sft_loop_work"
    work.mkdir(parents=True, exist_ok=True)
    pilots = work / "pilots.csv"
    pilots.write_text((RESULTS / "sft_pilots.csv").read_text())
    rows = read_rows(pilots)
    got = [[int(float(r[f"n:{d}"])) for d in DOMAINS] for r in rows]
    assert got == grid_res["pilots"]["amounts"], "sft_pilots.csv is not the grid's pilot table"

    base = load_base(cfg, grid_res["pretrain"]["cache_key"])
    pools = build_pools(cfg, cap=n, need=int(grid_res["grid"]["runs"][0]["amounts"][0]))
    available = [a for d, s in zip(DOMAINS, pools.sizes) for a in ("--available", f"{d}={s}")]

    def train(amounts_list, seeds):
        specs = [(np.asarray(a, np.int64), s) for a in amounts_list for s in seeds]
        best, _ = train_runs(base, specs, pools, cfg, log=log)
        return best.reshape(len(amounts_list), len(seeds), len(DOMAINS))

    # 0. training reproduces the stored grid
    uni = integer_amounts(np.full(3, 1 / 3), n)
    again = train([uni], [0])[0, 0]
    stored = np.array(grid_res["uniform"]["loss_by_seed"][0])
    repro = float(np.max(np.abs(again / stored - 1)) * 100)
    log(f"retrained the uniform mixture: largest difference {repro:.4f}% from the stored run")

    def recommend(pilot_csv: Path, law: str | None, tag: str) -> dict:
        """law None: `jaxmix run` as shipped (combined laws + decision); else fit + optimize."""
        fit_path, mix_path = work / f"fit_{tag}.json", work / f"mixture_{tag}.json"
        if law is None:
            fit_err, opt_err = "", cli(
                "-q", "run", str(pilot_csv), "--budget", str(n), *available, "-o", str(mix_path)
            )[1]
        else:
            _, fit_err = cli("fit", str(pilot_csv), "--law", law, "-o", str(fit_path))
            _, opt_err = cli(
                "optimize", str(fit_path), "--budget", str(n), *available, "-o", str(mix_path)
            )
        mix = json.loads(mix_path.read_text())
        w = np.array([mix["weights"][d] for d in DOMAINS])
        amounts = integer_amounts(w, n)
        loss = train([amounts], list(cfg.seeds))[0]  # [S, K]
        out = {
            "law": law or "default (combined laws + decision)",
            "action": (mix.get("decision") or {}).get("action"),
            "weights": w.tolist(),
            "amounts": amounts.tolist(),
            "loss_by_seed": loss.tolist(),
            "loss": loss.mean(0).tolist(),
            "regret_pct": regret_pct(loss.mean(0), grid),
            "gap_pct": gap_pct(loss.mean(0), grid),
            "predicted": [mix["predicted_loss"][d] for d in DOMAINS],
            "warnings": [
                line[9:] for line in (fit_err + opt_err).splitlines() if line.startswith("warning:")
            ],
        }
        log(f"{tag}: weights {np.round(w, 3).tolist()}, regret {out['regret_pct']:.3f}%")
        return out

    results = {}
    # 1. the paper-only protocol, and jaxmix's default, from the paper's pilots alone
    results["paper_only"] = recommend(pilots, "transfer", "paper_only")
    results["default"] = recommend(pilots, None, "default")
    # 2. the law the pilots support
    val_out, _ = cli("validate", str(pilots), "-o", str(work / "validation.json"))
    validation = json.loads((work / "validation.json").read_text())
    law = validation["best"] or "transfer"
    log(f"validate: {validation['verdict']}")
    results["validated_law"] = recommend(pilots, law, "validated")
    # 3. the loop: next (its default proposer) -> train -> append -> run (default)
    next_csv = work / "next.csv"
    next_out, _ = cli(
        "next", str(pilots), "--budget", str(n), "--runs", str(args.runs), *available,
        "-o", str(next_csv),
    )  # fmt: skip
    proposed = read_rows(next_csv)
    amounts = [[int(float(r[f"n:{d}"])) for d in DOMAINS] for r in proposed]
    losses = train(amounts, [0])[:, 0]
    for r, y in zip(proposed, losses):
        r.update({f"loss:{d}": f"{v:.6f}" for d, v in zip(DOMAINS, y)})
    grown = work / "pilots_plus_next.csv"
    write_rows(rows + proposed, grown)
    results["loop"] = recommend(grown, None, "loop")
    results["loop_transfer"] = recommend(grown, "transfer", "loop_transfer")
    results["loop"]["next_runs"] = [
        {"amounts": a, "loss": y.tolist()} for a, y in zip(amounts, losses)
    ]

    pilot_cost = float(np.sum(grid_res["pilots"]["amounts"]) / n)
    grid_runs = len(grid) * len(cfg.seeds)
    loop_cost = pilot_cost + len(amounts)
    noise = grid_res["seed_noise_pct"]
    target = max(0.25, noise)
    summary = {
        "budget": n,
        "seed_noise_pct": noise,
        "target_regret_pct": target,
        "reproduction_diff_pct": repro,
        "validation": validation,
        "validate_table": val_out,
        "next_table": next_out,
        "pilot_cost_runs": pilot_cost,
        "loop_cost_runs": loop_cost,
        "grid_cost_runs": grid_runs,
        "loop_cost_fraction_of_grid": loop_cost / grid_runs,
        "grid_best_weights": grid_res["grid"]["weights"][grid_res["grid"]["best_index"]],
        "uniform_regret_pct": grid_res["uniform_regret_pct"],
        "uniform_gap_pct": grid_res["uniform_gap_pct"],
        "oracle_gap_pct": grid_res["oracle_gap_pct"],
        "jaxmix": jaxmix_api.version(),
        **results,
        "paper_only_extrapolation_warning": any(
            "extrapolat" in w for w in results["paper_only"]["warnings"]
        ),
        "default_target_met": bool(
            results["default"]["regret_pct"] <= target
            and results["default"]["gap_pct"] <= grid_res["oracle_gap_pct"] + 0.66
        ),
        "loop_target_met": bool(
            results["loop"]["regret_pct"] <= target
            and results["loop"]["gap_pct"] <= grid_res["oracle_gap_pct"] + 0.66
        ),
        "wall_time_s": time.time() - t0,
    }
    (args.out / "sft_loop.json").write_text(json.dumps(summary, indent=1))
    (args.out / "sft_loop.md").write_text(markdown(summary))
    log(f"loop regret {results['loop']['regret_pct']:.3f}% (target <= {target:.3f}%)")
    return 0


def markdown(s: dict) -> str:
    """The results as a Markdown table."""
    k = len(s["loop"]["next_runs"])
    rows = [
        ("paper-only (transfer law, 13 pilots)", s["paper_only"], s["pilot_cost_runs"]),
        (f"default `jaxmix run` ({s['default']['action']}, 13 pilots)", s["default"],
         s["pilot_cost_runs"]),
        (f"validated law ({s['validated_law']['law']}, 13 pilots)", s["validated_law"],
         s["pilot_cost_runs"]),
        (f"loop: + {k} runs from `jaxmix next`, `jaxmix run` ({s['loop']['action']})",
         s["loop"], s["loop_cost_runs"]),
        (f"loop: + {k} runs, transfer law", s["loop_transfer"], s["loop_cost_runs"]),
        ("uniform", {"weights": [1 / 3] * 3, "regret_pct": s["uniform_regret_pct"],
                     "gap_pct": s["uniform_gap_pct"]}, 1.0),
    ]  # fmt: skip
    lines = [
        f"Budget {s['budget']} examples; grid best weights {s['grid_best_weights']}; "
        f"seed noise {s['seed_noise_pct']:.3f}%; target regret <= {s['target_regret_pct']:.3f}%; "
        f"uniform mixture regret {s['uniform_regret_pct']:.3f}%; the grid's best mixture has "
        f"gap {s['oracle_gap_pct']:.2f}%. Retraining a stored grid run "
        f"reproduced it to {s['reproduction_diff_pct']:.4f}%.",
        "",
        "| protocol | weights (code, arith, prose) | regret | gap | cost (budget runs) |",
        "|---|---|---|---|---|",
    ]
    for name, r, cost in rows:
        w = ", ".join(f"{x:.3f}" for x in r["weights"])
        lines.append(
            f"| {name} | {w} | {r['regret_pct']:.3f}% | {r['gap_pct']:.2f}% | {cost:.2f} "
            f"({100 * cost / s['grid_cost_runs']:.0f}% of the grid's {s['grid_cost_runs']}) |"
        )
    lines += [
        "",
        f"Paper-only protocol's extrapolation warning fired: "
        f"{s['paper_only_extrapolation_warning']}.",
        "",
        "```",
        s["validate_table"].strip(),
        "```",
        "",
        "```",
        s["next_table"].strip(),
        "```",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
