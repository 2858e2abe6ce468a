"""Report figures as PNG bytes (matplotlib, an optional extra, on the Agg backend).

Every function takes plain numpy data and returns the PNG bytes of one figure; nothing here
fits or optimizes. matplotlib is imported on first use: without it :func:`pyplot` raises an
:class:`InputError` with the install hint (the CLI prints it as one line, exit status 2).
"""

from __future__ import annotations

import io

import numpy as np

from jaxmix.status import InputError

INSTALL_HINT = "plots need matplotlib: pip install 'jaxmix[plot]' (or matplotlib>=3.7)"
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend, or an :class:`InputError` saying how to
    install it."""
    try:
        import matplotlib
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def to_png(fig) -> bytes:
    """PNG bytes of ``fig`` (closed afterwards); no timestamp, so equal input gives equal
    bytes."""
    plt = pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _grid(plt, n: int, width: float = 4.0, height: float = 3.2):
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def compact(x: float) -> str:
    """A tick label of at most a few characters: ``200k``, ``1.5M``, ``3G``, ``0.5``.

    >>> [compact(v) for v in (0.5, 16, 2e5, 1.5e6, 3e9)]
    ['0.5', '16', '200k', '1.5M', '3G']
    """
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _log_x(ax, x) -> None:
    """Log x axis with a few short labels (1, 2, 5 per decade over a short range of ``x``,
    fewer over a long one), none on minor ticks: amounts in tokens otherwise get overlapping
    ``2x10^5 3x10^5 ...`` labels."""
    from matplotlib import ticker

    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    decades = float(np.log10(x.max() / x.min())) if x.size else 1.0
    subs = (1.0, 2.0, 5.0) if decades <= 1.5 else (1.0, 3.0) if decades <= 3 else (1.0,)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=subs, numticks=12))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: compact(v)))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())


def fit_curves(domains, curves, points) -> bytes:
    """Fitted law against pilot losses, one panel per domain.

    Args:
      domains: K names.
      curves: per domain ``(x [G], y [G])``: the law along the domain's own amount with the
        other domains at the base run.
      points: per domain ``(x [R], observed [R], predicted [R], on_curve [R] bool)``: pilot
        runs (observed NaN where not measured); ``on_curve`` marks runs whose other domains
        are at the base run (the curve passes near them), the rest changed another domain.
    """
    plt = pyplot()
    fig, axes = _grid(plt, len(domains))
    for i, (ax, d) in enumerate(zip(axes, domains)):
        gx, gy = curves[i]
        x, obs, pred, on = points[i]
        ok = np.isfinite(obs)
        ax.plot(gx, gy, color=color(i), lw=1.8, label="law, others at base")
        ax.scatter(x[ok & on], obs[ok & on], color=color(i), zorder=3, label="pilot")
        off = ok & ~on
        if off.any():
            ax.scatter(
                x[off],
                obs[off],
                facecolors="none",
                edgecolors="0.35",
                zorder=3,
                label="pilot, another domain changed",
            )
            ax.scatter(  # nudged right so the cross stays visible beside its circle
                x[off] * 1.06,
                pred[off],
                marker="x",
                color="0.35",
                s=18,
                zorder=3,
                label="law at that run",
            )
        _log_x(ax, gx)
        ax.set_title(d)
        ax.set_xlabel(f"n:{d} (pilot units)")
        ax.set_ylabel("validation loss")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("Fitted law vs pilot runs")
    return to_png(fig)


def predicted_vs_observed(domains, observed, predicted) -> bytes:
    """Scatter of ``predicted [R, K]`` against ``observed [R, K]`` (NaN: not fitted)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.6), layout="constrained")
    ok = np.isfinite(observed) & np.isfinite(predicted)
    for i, d in enumerate(domains):
        m = ok[:, i]
        rms = 100 * np.sqrt(np.mean((predicted[m, i] / observed[m, i] - 1) ** 2)) if m.any() else 0
        ax.scatter(observed[m, i], predicted[m, i], color=color(i), label=f"{d} (rms {rms:.2f}%)")
    if ok.any():
        lo, hi = float(np.min(observed[ok])), float(np.max(observed[ok]))
        pad = 0.03 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", lw=1, ls="--")
    ax.set_xlabel("observed loss")
    ax.set_ylabel("predicted loss")
    ax.set_title("Predicted vs observed, every pilot run")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return to_png(fig)


def weights_vs_budget(domains, budgets, weights, budget, pilot_total=None) -> bytes:
    """Optimal ``weights [B, K]`` over ``budgets [B]``; the chosen ``budget`` marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4), layout="constrained")
    for i, d in enumerate(domains):
        ax.plot(budgets, weights[:, i], marker="o", ms=3, color=color(i), label=d)
    ax.axvline(budget, color="0.3", ls="--", lw=1, label=f"budget {compact(budget)}")
    if pilot_total is not None:
        ax.axvline(
            pilot_total, color="0.6", ls=":", lw=1, label=f"base pilot {compact(pilot_total)}"
        )
    _log_x(ax, budgets)
    ax.set_ylim(0, max(0.05, float(np.nanmax(weights)) * 1.1))
    ax.set_xlabel("budget N (pilot units)")
    ax.set_ylabel("optimal weight")
    ax.set_title("Optimal mixture vs budget")
    ax.grid(alpha=0.3)
    # Beside the axes, not on them: with five or more domains a legend inside covers curves.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return to_png(fig)


def bootstrap_intervals(domains, weights, w_interval, predicted, p_interval, level) -> bytes:
    """Recommended ``weights [K]`` and predicted losses ``[K]`` with their ``[K, 2]``
    bootstrap intervals at ``level``."""
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
    x = np.arange(len(domains))
    cs = [color(i) for i in range(len(domains))]
    for ax, val, iv, label in (
        (a1, weights, w_interval, "weight"),
        (a2, predicted, p_interval, "predicted loss"),
    ):
        err = np.stack([val - iv[:, 0], iv[:, 1] - val]).clip(min=0)
        if label == "weight":
            ax.bar(x, val, color=cs, alpha=0.7)
        else:
            ax.scatter(x, val, color=cs, zorder=3)
        ax.errorbar(x, val, yerr=err, fmt="none", ecolor="k", capsize=6, lw=1.2)
        ax.set_xticks(x, domains)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, axis="y")
    a1.set_title(f"Weights, {level:.0%} bootstrap interval")
    a2.set_title(f"Predicted loss, {level:.0%} bootstrap interval")
    return to_png(fig)


def pareto_front(pair, losses_a, losses_b, t, chosen=None, others=()) -> bytes:
    """Loss of ``pair[0]`` against loss of ``pair[1]`` along the importance sweep ``t [P]``;
    ``chosen`` = (loss_a, loss_b) of the recommended mixture; ``others``: the domains that
    stay in the objective at importance 1 (then the curve is a trade-off, not a Pareto front
    of the two losses alone: a mixture that gives the others less can lie below it)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.6), layout="constrained")
    ax.plot(losses_a, losses_b, color="0.4", lw=1, zorder=1)
    sc = ax.scatter(losses_a, losses_b, c=t, cmap="viridis", zorder=2)
    fig.colorbar(sc, ax=ax, label=f"t (importance {pair[0]} = 2t, {pair[1]} = 2(1-t))")
    if chosen is not None:
        ax.scatter(*chosen, marker="*", s=180, color="#d62728", zorder=3, label="recommended")
        ax.legend(fontsize=8)
    ax.set_xlabel(f"predicted loss: {pair[0]}")
    ax.set_ylabel(f"predicted loss: {pair[1]}")
    if others:
        ax.set_title(
            f"Trade-off: {pair[0]} vs {pair[1]}\n{', '.join(others)} kept in the objective at "
            "importance 1\n(a mixture giving them less can lie below the curve)",
            fontsize=9,
        )
    else:
        ax.set_title(f"Pareto front: {pair[0]} vs {pair[1]}")
    ax.grid(alpha=0.3)
    return to_png(fig)
