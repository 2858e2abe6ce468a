"""RegMix across scale: fit 1M-parameter runs, pick among the 1B mixtures, score by 1B loss.

``python -m benchmarks.regmix_scale [--trials N] [--pilots P] [--out PATH]``

RegMix (``../shared/realdata/regmix``) trained 512 1M-parameter proxies on Dirichlet mixtures
of 17 Pile domains and 64 1B-parameter models on other mixtures, each with 13 validation
losses. Each trial takes ``P`` random 1M runs (trial 0: all 512) as the pilots, fits them
(objective: the sum of the 13 losses, ``--objective 'loss:*'``) and picks one of the 1B
mixtures; its regret is its real 1B objective over the best 1B run's, in percent. The 1M
runs' best mixture was never trained at 1B, so every protocol must pick a 1B candidate:

- ``jaxmix``: the target law's best covered candidate (the decision's choice among the
  candidates when it moves, else the covered candidate with the largest predicted gain);
- ``jaxmix, any candidate``: the law's best candidate, covered or not;
- ``LightGBM``: RegMix's regressor of the objective on the mixture;
- ``random pick``: the mean regret over the candidates.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from benchmarks.realdata.common import lgbm_fit

ROOT = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "regmix"
PROTOCOLS = ("jaxmix", "jaxmix, any candidate", "LightGBM", "random pick")


def _read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    cols = [c for c in rows[0] if c != "index"]
    return [r["index"] for r in rows], cols, np.array([[float(r[c]) for c in cols]
                                                       for r in rows])


def load(scale: str, split: str):
    """``(domains, weights [R, K], losses [R, T])`` of one split, joined on ``index``."""
    idx_w, doms, w = _read(ROOT / f"{split}_mixture_{scale}.csv")
    idx_y, _, y = _read(ROOT / f"{split}_pile_loss_{scale}.csv")
    at = {i: j for j, i in enumerate(idx_w)}
    keep = [at[i] for i in idx_y]
    w = w[keep]
    return [d.removeprefix("train_") for d in doms], w / w.sum(axis=1, keepdims=True), y


def _jaxmix(domains, w_p, y_p, w_c):
    from jaxmix.fitting.targets import fit_targets
    from jaxmix.objective import parse_objective
    from jaxmix.optimization.targets import choose
    from jaxmix.table import PilotTable

    names = [f"t{j}" for j in range(y_p.shape[1])]
    table = PilotTable(tuple(domains), tuple(f"r{i}" for i in range(len(w_p))), w_p,
                       {n: y_p[:, j] for j, n in enumerate(names)})
    fit = fit_targets(table, parse_objective("loss:*", table.targets()))
    c = choose(fit, candidates=w_c)
    covered_best = int(np.argmax(np.where(c.covered, c.gain, -np.inf)))
    return (c.index if c.index >= 0 else covered_best), int(np.argmax(c.gain))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--pilots", type=int, default=128)
    ap.add_argument("--out", default="benchmarks/results/regmix_scale")
    args = ap.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)  # the CLI's default precision
    domains, w1m, y1m = load("1m", "train")
    _, w1b, y1b = load("1B", "test")
    f1b = y1b.sum(axis=1)
    best = f1b.min()
    regret = lambda j: 100 * (f1b[j] - best) / best  # noqa: E731
    out = {p: [] for p in PROTOCOLS}
    for t in range(args.trials):
        rows = (np.arange(len(w1m)) if t == 0 else
                np.random.default_rng(t).permutation(len(w1m))[:args.pilots])
        pick, any_pick = _jaxmix(domains, w1m[rows], y1m[rows], w1b)
        out["jaxmix"].append(regret(pick))
        out["jaxmix, any candidate"].append(regret(any_pick))
        lgbm = lgbm_fit(w1m[rows], y1m[rows].sum(axis=1, keepdims=True))
        out["LightGBM"].append(regret(int(np.argmin(lgbm(w1b)[:, 0]))))
        out["random pick"].append(float(np.mean([regret(j) for j in range(len(f1b))])))
        print(t, {p: round(v[-1], 3) for p, v in out.items()}, flush=True)
    lines = ["| protocol | all 512 pilots % | mean over trials % | worst % |", "|---|---|---|---|"]
    for p in PROTOCOLS:
        r = np.asarray(out[p])
        lines.append(f"| {p} | {r[0]:.3f} | {r.mean():.3f} | {r.max():.3f} |")
    head = (f"# RegMix across scale: 1M pilots, 1B picks\n\n`python -m benchmarks.regmix_scale "
            f"--trials {args.trials} --pilots {args.pilots}`: trial 0 all 512 1M runs, the "
            f"others {args.pilots} random ones; {len(f1b)} 1B candidates; objective the sum "
            "of the 13 validation losses.\n\n")
    Path(args.out + ".md").write_text(head + "\n".join(lines) + "\n")
    Path(args.out + ".json").write_text(json.dumps(out, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
