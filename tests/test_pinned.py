"""Statistics and formulas pinned by independent oracles: a change of one factor, index or
label in them fails here (each was shown to pass the rest of the suite)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmix
from jaxmix.fitting.stacking import combine, cv_masks, proportion_groups
from jaxmix.laws.interference import INTERFERENCE, from_natural
from jaxmix.laws.transfer import TRANSFER
from jaxmix.optimization import decision


def test_the_grouped_jackknife_of_a_mean_is_its_standard_error():
    """Fold values that are leave-one-out means of x: the jackknife standard error of the
    mean is then exactly sd(x) / sqrt(n) (a ``1/n`` in place of ``(n-1)/n`` is 3x off)."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.01, 0.02, size=(10, 2))  # two candidates' per-fold gains
    loo = (x.sum(axis=0) - x) / (len(x) - 1)  # [F, 2]
    f_folds = np.concatenate([np.ones((len(x), 1)), 1.0 - loo], axis=1)  # ref, then two
    f_full = np.concatenate([[1.0], 1.0 - x.mean(axis=0)])
    g, se = decision.gain_stats(f_full, f_folds, 0, [1, 2])
    np.testing.assert_allclose(g, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(se, x.std(axis=0, ddof=1) / np.sqrt(len(x)), rtol=1e-10)


def test_out_of_fold_predictions_come_from_fits_without_the_held_runs():
    """Each run's stacked prediction is that of the law refitted without its fold, checked
    against ``fit_joint`` of the table with those runs removed."""
    rng = np.random.default_rng(3)
    true = {
        d: dict(C=c, k=0.2, alpha=0.5, beta=b, E=1.0)
        for d, c, b in (("a", 1.2, 0.2), ("b", 0.8, 0.35))
    }
    table = jaxmix.plan(list(true), 1.0)
    y = np.asarray(jaxmix.predict(jaxmix.from_params(true), table.amounts))
    y = y * (1 + 0.003 * rng.standard_normal(y.shape))
    table = table._replace(losses={d: y[:, i] for i, d in enumerate(true)})
    comb = combine(table.amounts, y, laws=("transfer",))
    held = cv_masks(proportion_groups(table.amounts))
    for f in (1, len(held) - 1):  # two folds: one perturbation run, another
        keep = ~held[f]
        sub = table._replace(
            runs=tuple(np.asarray(table.runs)[keep]),
            amounts=table.amounts[keep],
            losses={d: v[keep] for d, v in table.losses.items()},
            rows=None,
        )
        refit = jaxmix.fit_joint(sub, law="transfer")
        want = np.asarray(jaxmix.predict(refit, table.amounts[held[f]]))
        np.testing.assert_allclose(comb.oof[0][held[f]], want, rtol=2e-5)
    full = np.asarray(jaxmix.predict(jaxmix.fit_joint(table, law="transfer"), table.amounts))
    assert not np.allclose(comb.oof[0], full, rtol=1e-7)  # in-sample would match this


@pytest.mark.parametrize("index", [-1, 0, 1, 2, 3])
def test_the_action_names_how_far_the_recommendation_goes(index):
    """On the default path (candidates a quarter, half, three quarters and all of the way
    to the optimum): keep the safe mixture, shrink part way, move all the way."""
    safe, optimum = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    candidates = np.stack([safe + t * (optimum - safe) for t in decision.PATH[1:]])
    action = decision._action(index)
    given = decision._action(index, given=True)  # the caller's candidates: never "shrink"
    weights = safe if index < 0 else candidates[index]
    record = {
        "safe": {"weights": dict(zip("abc", safe))},
        "optimum": dict(zip("abc", optimum)),
    }
    fraction = decision.path_fraction(record, tuple("abc"), weights)
    assert action == {-1: "keep", 3: "move"}.get(index, "shrink")
    assert given == ("keep" if index < 0 else "move")
    assert fraction == pytest.approx(decision.PATH[index + 1])


def test_interference_reads_each_domains_own_sources():
    """The interference factor of domain i is exp(sum_j!=i g_ij w_j) over the other
    domains' proportions, next to the transfer law with the same fields."""
    rng = np.random.default_rng(5)
    k = 4
    natural = dict(
        C=rng.uniform(0.5, 2.0, k),
        k=rng.uniform(0.1, 0.5, k),
        alpha=rng.uniform(0.3, 0.7, k),
        beta=rng.uniform(0.1, 0.4, k),
        E=rng.uniform(0.8, 1.5, k),
        g=rng.normal(0.0, 0.5, (k, k - 1)),
    )
    params = from_natural(natural)
    amounts = jnp.asarray(rng.uniform(0.2, 3.0, (6, k)))
    base = TRANSFER.from_natural({n: natural[n] for n in ("C", "k", "alpha", "beta", "E")})
    w = np.asarray(amounts) / np.asarray(amounts).sum(axis=1, keepdims=True)
    for i in range(k):
        row = jax.tree.map(lambda x, i=i: x[i], params)
        got = np.asarray(INTERFERENCE.loss(row, amounts, i))
        plain = np.asarray(TRANSFER.loss(jax.tree.map(lambda x, i=i: x[i], base), amounts, i))
        others = [j for j in range(k) if j != i]
        factor = np.exp(w[:, others] @ natural["g"][i])
        np.testing.assert_allclose(got, plain * factor, rtol=1e-10)
