"""The padded batched fit: runs of weight zero and copied batch members change nothing, and
pilot tables of nearby sizes share one compiled program."""

import jax
import jax.numpy as jnp
import numpy as np
from helpers import synthetic_table

from jaxmix.fitting.batched import batch_bucket, fit_weighted, pad_runs
from jaxmix.fitting.joint import fit_many
from jaxmix.fitting.result import predict_params


def _predictions(params, amounts):
    return np.asarray(
        jax.vmap(
            lambda p: jax.vmap(lambda a: predict_params(p, a[None], law_name="transfer")[0])(
                jnp.asarray(amounts)
            )
        )(params)
    )


def test_padded_fit_equals_the_unpadded_fit():
    t = synthetic_table(noise=1e-3, seed=2)
    y = t.domain_losses()
    held = np.zeros((3,) + y.shape)  # the full fit and two folds, each without one run
    held[1, 4], held[2, 9] = 1.0, 1.0
    w = np.isfinite(y)[None] * (1.0 - held)
    y3 = np.broadcast_to(y, w.shape)
    a = jnp.asarray(t.amounts)
    ref = fit_many(
        a,
        jnp.asarray(y3),
        jnp.asarray(w),
        jnp.asarray(0.0),
        jnp.asarray(1.0),
        law_name="transfer",
        strategy="screen",
        polish=4,
        diagnose=False,
    )
    got = fit_weighted(t.amounts, y3, w, 0.0, 1.0, law_name="transfer")
    assert len(t.amounts) % 8 != 0 and batch_bucket(3) != 3  # both paddings are exercised
    assert got.status.shape == (3, 3)
    np.testing.assert_array_equal(got.status, np.asarray(ref.status))
    np.testing.assert_allclose(
        _predictions(got.params, t.amounts), _predictions(ref.params, t.amounts), rtol=1e-7
    )


def test_nearby_table_sizes_share_one_compiled_fit():
    t = synthetic_table(noise=1e-3, seed=3)
    y = t.domain_losses()
    fit_weighted(t.amounts, y[None], np.ones((1,) + y.shape), 0.0, 1.0, law_name="transfer")
    before = fit_many._cache_size()
    more = np.vstack([t.amounts, 1.5 * t.amounts[1:2]])  # one run more: 13 -> 14 runs
    y14 = np.vstack([y, y[1:2] * 0.99])
    out = fit_weighted(more, y14[None], np.ones((1,) + y14.shape), 0.0, 1.0, law_name="transfer")
    assert fit_many._cache_size() == before
    assert np.all(np.isfinite(_predictions(out.params, more)))
    a, losses, w = pad_runs(more, y14, np.ones((2,) + y14.shape))
    assert a.shape[0] == 16 and np.all(w[:, 14:] == 0) and np.all(losses[14:] == 1.0)
    assert np.all(a[14:] == more[0])
