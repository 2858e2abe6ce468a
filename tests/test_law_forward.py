"""Each law defines one forward function, ``loss(row, amounts, i)``; the loss of a run, of a
mixture at a budget and of one domain over many runs derive from it. These check that the
three forms agree: a derivation that drops a term, or a law marked separable whose loss
depends on more than its own amount and the others' total, makes them fail."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmix.laws.registry import BUILTIN_LAWS


def _random_params(law, k, seed):
    """A start of the law's own grid, every unconstrained leaf moved at random."""
    rng = np.random.default_rng(seed)
    amounts = jnp.asarray(rng.uniform(0.3, 3.0, (8, k)))
    losses = jnp.asarray(rng.uniform(1.0, 3.0, (8, k)))
    grid = law.init_grid(amounts, losses, jnp.ones((8, k)))
    start = jax.tree.map(lambda x: x[0], grid)
    leaves, tree = jax.tree.flatten(start)
    moved = [x + 0.3 * jnp.asarray(rng.standard_normal(x.shape)) for x in leaves]
    return jax.tree.unflatten(tree, moved)


@pytest.mark.parametrize("law", BUILTIN_LAWS, ids=lambda law: law.name)
@pytest.mark.parametrize("k", [2, 4])
def test_amounts_weights_and_domain_forms_agree(law, k):
    params = _random_params(law, k, seed=k)
    rng = np.random.default_rng(10 + k)
    runs = jnp.asarray(rng.uniform(0.1, 5.0, (6, k)))
    by_run = jax.vmap(lambda a: law.predict_amounts(params, a))(runs)  # [R, K]
    by_domain = jnp.stack(
        [law.predict_domain(jax.tree.map(lambda x, i=i: x[i], params), runs, i) for i in range(k)],
        axis=1,
    )
    np.testing.assert_allclose(by_domain, by_run, rtol=1e-10)
    budget = 7.0
    weights = runs / runs.sum(axis=1, keepdims=True)
    at_mixture = jax.vmap(lambda w: law.predict_weights(params, w, budget))(weights)
    at_amounts = jax.vmap(lambda w: law.predict_amounts(params, w * budget))(weights)
    np.testing.assert_allclose(at_mixture, at_amounts, rtol=1e-10)
    assert np.all(np.isfinite(by_run))
