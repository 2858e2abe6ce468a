"""float32 against float64: recommended weights from the same pilots in both precisions.

Run: ``python benchmarks/precision.py``. Prints a Markdown table: for each noise level, the
largest weight difference over noisy synthetic 1+4K tables (K = 3, budget 10x the pilots),
and the shipped example at its default budget; for the default fit (the combination and
its decision) and for the transfer law alone.
"""

from __future__ import annotations

import jax
import numpy as np

import jaxmix

jax.config.update("jax_enable_x64", True)


def _table(rng, noise, seed):
    true = {
        d: dict(
            C=float(rng.uniform(0.5, 2.0)),
            k=float(rng.uniform(0.05, 1.0)),
            alpha=float(rng.uniform(0.2, 0.8)),
            beta=float(rng.uniform(0.1, 0.6)),
            E=float(rng.uniform(0.5, 1.5)),
        )
        for d in ("a", "b", "c")
    }
    fit = jaxmix.from_params(true)
    amounts = np.asarray(jaxmix.plan(list(true), 1.0).amounts)
    y = np.asarray(jaxmix.predict(fit, amounts))
    y = y * (1 + noise * np.random.default_rng(seed).standard_normal(y.shape))
    return jaxmix.PilotTable(
        domains=tuple(true),
        runs=tuple(f"r{i}" for i in range(len(amounts))),
        amounts=amounts,
        losses={d: y[:, i] for i, d in enumerate(true)},
    )


def difference(table, budget, law) -> float:
    """Largest |w64 - w32| of the recommended weights [K]."""
    out = []
    for x64 in (True, False):
        with jax.enable_x64(x64):
            out.append(np.asarray(jaxmix.optimize(jaxmix.fit(table, law=law), budget).weights))
    return float(np.max(np.abs(out[0] - out[1])))


def main(tables: int = 10) -> None:
    laws = (None, "transfer")
    print("| pilots | tables | default fit | transfer law |")
    print("| --- | --- | --- | --- |")
    for noise in (0.005, 0.01, 0.03):
        rng = np.random.default_rng(0)
        rows = [_table(rng, noise, t) for t in range(tables)]
        worst = [max(difference(t, 10.0 * 3, law) for t in rows) for law in laws]
        print(f"| synthetic, {noise:.1%} noise | {tables} | {worst[0]:.1e} | {worst[1]:.1e} |")
    table = jaxmix.read_pilots(jaxmix.example_pilots())
    worst = [difference(table, 720.0, law) for law in laws]
    print(f"| shipped example, budget 720 | 1 | {worst[0]:.1e} | {worst[1]:.1e} |")


if __name__ == "__main__":
    main()
