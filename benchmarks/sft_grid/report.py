"""Scores of the recommended mixtures against the grid, and the JSON/Markdown report.

All losses are seed-averaged per-domain best validation losses. For a mixture
with losses l [K] and the grid's losses G [M, K]:
  gap_pct    = mean_d (l_d - min_m G[m, d]) / min_m G[m, d] * 100   (the paper's metric)
  regret_pct = (mean_d l_d - min_m mean_d G[m, d]) / min_m mean_d G[m, d] * 100
"""

import numpy as np


def gap_pct(loss: np.ndarray, grid: np.ndarray) -> float:
    best = grid.min(0)
    return float(np.mean((loss - best) / best) * 100)


def regret_pct(loss: np.ndarray, grid: np.ndarray) -> float:
    best = grid.mean(1).min()
    return float((loss.mean() - best) / best * 100)


def seed_noise_pct(runs: np.ndarray) -> float:
    """Mean relative spread (max - min) / mean between seeds. runs: [M, S, K]."""
    return float(np.mean((runs.max(1) - runs.min(1)) / runs.mean(1)) * 100)


def seed_noise_avg_pct(runs: np.ndarray) -> float:
    """The same on the domain-average loss (the regret's noise floor). runs: [M, S, K]."""
    avg = runs.mean(2)
    return float(np.mean((avg.max(1) - avg.min(1)) / avg.mean(1)) * 100)


def seed_se_avg_pct(runs: np.ndarray) -> float:
    """Standard error of the seed-averaged domain-average loss, relative, mean over mixtures
    (the noise of the numbers the grid is ranked by). runs: [M, S, K], S >= 2."""
    avg = runs.mean(2)
    se = avg.std(1, ddof=1) / np.sqrt(avg.shape[1])
    return float(np.mean(se / avg.mean(1)) * 100)


def law_error_pct(pred: np.ndarray, obs: np.ndarray) -> float:
    """Mean relative error |pred - obs| / obs, in %. pred, obs: [M, K]."""
    return float(np.mean(np.abs(pred - obs) / obs) * 100)


def rank_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two [M] vectors (no ties expected)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def law_diagnostics(pred: np.ndarray, obs: np.ndarray, weights: np.ndarray, domains) -> dict:
    """How a law predicts the grid. pred, obs: [G, K]; weights: [G, K]."""
    rel = (pred - obs) / obs
    best = int(np.argmin(pred.mean(1)))
    return {
        "bias_pct_by_domain": dict(zip(domains, (rel.mean(0) * 100).tolist())),
        "abs_error_pct_by_domain": dict(zip(domains, (np.abs(rel).mean(0) * 100).tolist())),
        "rank_corr_of_mean_loss": rank_corr(pred.mean(1), obs.mean(1)),
        "predicted_best_grid_weights": weights[best].tolist(),
        "predicted_best_grid_regret_pct": regret_pct(obs[best], obs),
    }


NAMED_ROWS = ("default", "swarm_default", "recommended", "reference", "uniform")


def _fmt_w(w) -> str:
    return "/".join(f"{x:.3f}" for x in w)


def markdown(res: dict) -> str:
    """A Markdown report: summary numbers and one row per trained mixture."""
    doms = res["domains"]
    lines = [
        "# SFT grid benchmark",
        "",
        f"K = {len(doms)} domains ({', '.join(doms)}), base n = {res['config']['base_n']} "
        f"examples per domain, target budget N = {res['budget']} examples, "
        f"{len(res['grid']['weights'])} grid mixtures x {len(res['seeds'])} seeds. "
        "Loss: best validation cross-entropy per response byte (nats), seed-averaged.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key in (
        "recommended_regret_pct",
        "recommended_gap_pct",
        "oracle_gap_pct",
        "reference_regret_pct",
        "reference_gap_pct",
        "uniform_regret_pct",
        "uniform_gap_pct",
        "default_regret_pct",
        "default_gap_pct",
        "default_action",
        "swarm_default_regret_pct",
        "swarm_default_gap_pct",
        "swarm_default_action",
        "seed_noise_pct",
        "seed_noise_avg_pct",
        "seed_se_avg_pct",
        "law_error_grid_pct",
        "reference_law_error_grid_pct",
        "target_met",
        "default_target_met",
        "ranking_target_met",
        "wall_time_s",
    ):
        v = res[key]
        lines.append(f"| {key} | {v:.3f} |" if isinstance(v, float) else f"| {key} | {v} |")
    lines += [
        "",
        "| mixture | weights ("
        + "/".join(doms)
        + ") | "
        + " | ".join(doms)
        + " | mean | gap % | regret % | law (joint) mean |",
        "|---|---|" + "---|" * (len(doms) + 4),
    ]
    rows = [(n, res[n]["weights"], res[n]) for n in NAMED_ROWS]
    rows += [
        (f"grid {i}", w, g)
        for i, (w, g) in enumerate(zip(res["grid"]["weights"], res["grid"]["runs"]))
    ]
    for name, w, r in rows:
        loss = np.array(r["loss"])
        mark = " (best)" if name == f"grid {res['grid']['best_index']}" else ""
        lines.append(
            f"| {name}{mark} | {_fmt_w(w)} | "
            + " | ".join(f"{x:.4f}" for x in loss)
            + f" | {loss.mean():.4f} | {r['gap_pct']:.3f} | {r['regret_pct']:.3f} | "
            f"{np.mean(r['predicted_joint']):.4f} |"
        )
    return "\n".join(lines) + "\n"
