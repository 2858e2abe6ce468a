"""Data Mixing Laws 2Mix and 5Mix (Ye et al. 2024): predict held-out mixtures.

Per model size, run ids < 900 only. Test: held-out mixtures at step 30,000 (the authors'
fitting step). Two training sets:

- ``@30k``: the training mixtures at step 30,000 only (every run has the same budget, so the
  amounts are proportional to the weights). All methods.
- ``10k-30k``: every checkpoint of the training mixtures from 10,000 to 30,000 steps (the
  authors' step-law range), where the amounts vary independently of the weights. Laws with
  an amount dependence, and regressions with log tokens as a feature; budget-free laws
  (``mixing_law``) are left out.

Splits: 5Mix holds out SLDBench's 6 evaluation mixtures (the same 6 for every size) and
trains on the other 20; 2Mix leaves one of its 5 mixtures out at a time.
Losses: 5Mix coarse domain = valid_weight average of its Pile subdomains; 2Mix Github and
Pile-CC. Selection objective: 5Mix the valid_weight average over all 22 subdomains (the
authors' target), 2Mix the mean of the two losses.
"""

from __future__ import annotations

import numpy as np

from jaxmix import InputError

from .common import regret_pct, rel_error, spearman_cols, timed
from .data import load_mixinglaws
from .methods import Runs, mixture_methods

TEST_STEP = 30_000
STEPS = (10_000, 30_000)
SLD_EVAL = (  # SLDBench's held-out 5Mix mixtures (linhaowei1/SLD, domain_mixture_scaling_law)
    "0.5-0.1875-0.09375-0.125-0.09375",
    "0.25-0.09375-0.03125-0.25-0.375",
    "0.5-0-0.0625-0.0625-0.375",
    "0.5-0-0.0625-0.25-0.1875",
    "0.5-0.09375-0.03125-0-0.375",
    "0.5-0.09375-0.09375-0.125-0.1875",
)


def _folds(name: str, mixtures: np.ndarray) -> list[np.ndarray]:
    """Held-out mixture labels of each fold."""
    labels = np.unique(mixtures)
    if name == "5Mix":
        assert set(SLD_EVAL) <= set(labels)
        return [np.array(SLD_EVAL)]
    return [np.array([m]) for m in labels]


def _runs(r, rows, domains) -> Runs:
    return Runs(r.weights[rows] * r.tokens[rows, None], r.losses[rows], tuple(domains))


def evaluate_size(name: str, domains, r, mode: str, methods: dict) -> dict:
    """``{method: metrics}`` for one model size and training mode ("fixed" or "ckpt")."""
    at_test = r.step == TEST_STEP
    out = {}
    for method, fit in methods.items():
        preds, obs, secs, notes = [], [], 0.0, set()
        for held in _folds(name, r.mixture):
            out_fold = np.isin(r.mixture, held)
            train = ~out_fold & (at_test if mode == "fixed" else True)
            test = out_fold & at_test
            try:
                (predict, info), s = timed(fit, _runs(r, np.where(train)[0], domains))
                pred = predict(_runs(r, np.where(test)[0], domains))
                if info.get("failed_domains"):
                    notes.add("step cap reached")
            except (InputError, ValueError) as err:
                s, pred = 0.0, np.full(r.losses[test].shape, np.nan)
                notes.add(f"n/a: {str(err).splitlines()[0][:120]}")
            secs += s
            preds.append(pred)
            obs.append(r.losses[test])
        pred, ob = np.concatenate(preds), np.concatenate(obs)
        ow = r.objective_weights
        na = any(n.startswith("n/a") for n in notes)
        out[method] = {
            "mean_rel_error": None if na else rel_error(pred, ob),
            "spearman": None if na else spearman_cols(pred, ob),
            "regret_pct": None if na else regret_pct(pred @ ow, ob @ ow),
            "fit_seconds": secs,
            "test_runs": int(len(ob)),
            "notes": sorted(notes),
        }
    return out


def run(root, quick: bool = False, log=print) -> list[dict]:
    rows = []
    for name in ("5Mix",) if quick else ("2Mix", "5Mix"):
        domains, by_size = load_mixinglaws(root, name, STEPS)
        # 5Mix 1B has only 4 mixtures, none at 30k steps: sizes with >= 5 mixtures at 30k.
        sizes = [
            s
            for s in sorted(by_size, key=lambda s: float(s[:-1]) * (1000 if s[-1] == "B" else 1))
            if len(np.unique(by_size[s].mixture[by_size[s].step == TEST_STEP])) >= 5
        ]
        if quick:
            sizes = sizes[:1]
        for mode in ("fixed",) if quick else ("fixed", "ckpt"):
            methods = mixture_methods(varying_budget=mode == "ckpt")
            per_size = {}
            for size in sizes:
                per_size[size] = evaluate_size(name, domains, by_size[size], mode, methods)
                log(f"mixinglaws {name} {size} {mode}: done")
            split = "20 -> 6 SLDBench mixtures" if name == "5Mix" else "leave one of 5 mixtures out"
            split += ", train @30k" if mode == "fixed" else ", train 10k-30k ckpts"
            for method in methods:
                res = [per_size[s][method] for s in sizes]

                def mean(key, res=res):
                    vals = [x[key] for x in res]
                    return None if None in vals else float(np.mean(vals))

                rows.append(
                    {
                        "dataset": f"mixinglaws {name}",
                        "split": f"{split}, test @30k ({', '.join(sizes)})",
                        "method": method,
                        "mean_rel_error": mean("mean_rel_error"),
                        "spearman": mean("spearman"),
                        "regret_pct": mean("regret_pct"),
                        "objective": (
                            "valid_weight average of 22 Pile domains"
                            if name == "5Mix"
                            else "mean of Github and Pile-CC loss"
                        ),
                        "fit_seconds": float(sum(x["fit_seconds"] for x in res)),
                        "by_size": per_size_view(per_size, method),
                        "notes": sorted({n for x in res for n in x["notes"]}),
                        "domains": list(domains),
                    }
                )
    return rows


def per_size_view(per_size: dict, method: str) -> dict:
    return {size: per_size[size][method] for size in per_size}
