"""Real SFT curves (Lin et al. 2024): extrapolate fine-tuning loss to more examples.

Per (model, data set): fit on 200 ... 409,600 examples (12 sizes; the zero-shot point is left
out, since the plain power law has no value at D = 0), predict 819,200 and 1,638,400.

- ``power law``: L = C D^-beta + E, the plain SFT scaling term (jaxmix's law for one domain
  without transfer).
- ``rectified (Lin et al.)``: L = B / (D_l + D)^beta + E, the peer method.
- ``jaxmix transfer, pre = 1``: jaxmix's ``transfer`` law with two domains, the SFT data
  ``sft`` (amount D) and a constant "pretraining" domain ``pre`` of amount 1 in every run,
  with only ``loss:sft`` observed. Its effective data D + k 1^alpha = D + D_l is exactly the
  rectified law, fitted by jaxmix's machinery (Huber on log residuals, grid of starts, damped
  Newton); all 90 curves in one vmapped call of ``jaxmix.joint_fit_arrays``, with jaxmix's
  default Huber delta 1e-3 and with delta 1 (least squares, the peers' loss).

Selection (Lin et al.'s use case): among the 30 models of a data set, pick the one with the
lowest predicted loss at 1,638,400 examples; regret is its observed loss above the best.
"""

from __future__ import annotations

import numpy as np

from .common import (
    amplitudes,
    fit_curve,
    jaxmix_law_batched,
    regret_pct,
    rel_error,
    spearman,
    timed,
)
from .data import load_sft

DATASETS = ("flan", "gigaword", "wmt19")
TRAIN_MAX = 409_600
TEST = (819_200, 1_638_400)
SCALE = 1e4  # examples per unit inside the curve fits (conditioning only)
BETAS = (0.03, 0.1, 0.3, 0.8)
OFFSETS = (0.01, 0.1, 1.0, 10.0)  # D_l starts, in units of SCALE examples


def _power(x):
    def model(theta):
        log_c, log_b, log_e = theta
        return np.exp(log_c - np.exp(log_b) * np.log(x)) + np.exp(log_e)

    return model


def _rectified(x):
    def model(theta):
        log_b, log_dl, log_beta, log_e = theta
        return np.exp(log_b - np.exp(log_beta) * np.log(np.exp(log_dl) + x)) + np.exp(log_e)

    return model


def fit_power(d, y):
    x = d / SCALE
    starts = []
    for beta in BETAS:
        c, e = amplitudes(x**-beta, y)
        starts.append([np.log(c), np.log(beta), np.log(e)])
    lower = [-50, np.log(1e-4), -20]
    upper = [50, np.log(10.0), np.log(y.min())]
    theta, _ = fit_curve(_power(x), y, starts, lower, upper)
    return lambda dn: _power(np.asarray(dn) / SCALE)(theta)


def fit_rectified(d, y):
    x = d / SCALE
    starts = []
    for beta in BETAS:
        for dl in OFFSETS:
            c, e = amplitudes((dl + x) ** -beta, y)
            starts.append([np.log(c), np.log(dl), np.log(beta), np.log(e)])
    lower = [-50, np.log(1e-8), np.log(1e-4), -20]
    upper = [50, np.log(1e6), np.log(10.0), np.log(y.min())]
    theta, _ = fit_curve(_rectified(x), y, starts, lower, upper)
    return lambda dn: _rectified(np.asarray(dn) / SCALE)(theta)


METHODS = {
    "power law C D^-b + E": fit_power,
    "rectified B/(D_l+D)^b + E (Lin et al.)": fit_rectified,
}
JAXMIX = {  # name -> Huber delta of the joint fit
    "jaxmix transfer, (sft, pre=1) = rectified": 1e-3,  # jaxmix's default
    "jaxmix transfer, (sft, pre=1), Huber delta=1": 1.0,  # = least squares on log loss
}


def run(root, quick: bool = False, log=print) -> list[dict]:
    datasets = DATASETS[:1] if quick else DATASETS
    curves = {name: load_sft(root, name) for name in datasets}
    sizes = curves[datasets[0]].sizes
    train = (sizes > 0) & (sizes <= TRAIN_MAX)
    test = np.isin(sizes, TEST)
    d_train, d_test = sizes[train].astype(float), sizes[test].astype(float)
    preds = {name: {} for name in datasets}
    seconds = {name: {} for name in datasets}
    warm_seconds = {name: {} for name in datasets}
    for name, c in curves.items():
        assert np.array_equal(c.sizes, sizes)
        for method, fit in METHODS.items():
            out, secs = [], 0.0
            for m in range(len(c.models)):
                predict, s = timed(fit, d_train, c.losses[m, train])
                out.append(predict(d_test))
                secs += s
            preds[name][method] = np.array(out)
            seconds[name][method] = secs
        log(f"sft {name}: peers fitted")
    # jaxmix: every curve of every data set in one vmapped call.
    all_losses = np.concatenate([curves[n].losses[:, train] for n in datasets])  # [B, S]
    amounts = np.stack([d_train, np.ones_like(d_train)], axis=1)  # [S, 2]: (sft, pre)
    y = np.stack([all_losses, np.full_like(all_losses, np.nan)], axis=2)  # [B, S, 2]
    test_amounts = np.stack([d_test, np.ones_like(d_test)], axis=1)
    notes = {}
    for method, delta in list(JAXMIX.items())[: 1 if quick else None]:
        (predict, status), secs = timed(jaxmix_law_batched, "transfer", amounts, y, delta)
        _, warm = timed(jaxmix_law_batched, "transfer", amounts, y, delta)
        jp = predict(test_amounts)[:, :, 0]  # [B, T]
        failed = status[:, 0] != 0
        log(f"sft {method}: {len(all_losses)} curves in {secs:.1f} s, {failed.sum()} capped")
        start, capped = 0, []
        for name in datasets:
            n = len(curves[name].models)
            preds[name][method] = jp[start : start + n]
            seconds[name][method] = secs / len(datasets)
            warm_seconds[name][method] = warm / len(datasets)
            capped.append(f"{name} {int(failed[start : start + n].sum())}/{n}")
            start += n
        for name in datasets:
            notes[name, method] = [
                f"all {len(all_losses)} curves in one vmapped call, time split evenly, first "
                f"call compiles; fits stopped at the step cap: {', '.join(capped)}"
            ]
    rows = []
    for name in datasets:
        obs = curves[name].losses[:, test]  # [M, T]
        for method, pred in preds[name].items():
            rows.append(
                {
                    "dataset": "rectified_sft_scaling",
                    "split": f"{name}: <=409,600 -> 819,200 and 1,638,400 examples (30 models)",
                    "method": method,
                    "mean_rel_error": rel_error(pred, obs),
                    "mean_rel_error_by_size": {
                        str(int(s)): rel_error(pred[:, t], obs[:, t]) for t, s in enumerate(d_test)
                    },
                    "spearman": spearman(pred[:, -1], obs[:, -1]),
                    "regret_pct": regret_pct(pred[:, -1], obs[:, -1]),
                    "objective": "loss at 1,638,400 examples; select the model",
                    "fit_seconds": seconds[name][method],
                    "fit_seconds_warm": warm_seconds[name].get(method),
                    "notes": notes.get(
                        (name, method), ["30 scipy least-squares fits per data set"]
                    ),
                }
            )
    return rows
