import jax
import jax.numpy as jnp
import numpy as np
from jax.test_util import check_grads

import jaxmix
from jaxmix.laws.transfer import TRANSFER, unscale


def numpy_transfer(nat, amounts):
    """Independent numpy implementation of SPEC section 1."""
    amounts = np.asarray(amounts, float)
    out = np.empty(amounts.shape)
    for i, d in enumerate(nat):
        p = nat[d]
        other = amounts.sum(-1) - amounts[..., i]
        eff = amounts[..., i] + p["k"] * other ** p["alpha"]
        out[..., i] = p["C"] * eff ** (-p["beta"]) + p["E"]
    return out


def test_predict_matches_formula():
    rng = np.random.default_rng(0)
    nat = {
        f"d{i}": dict(
            C=rng.uniform(0.5, 2),
            k=rng.uniform(0.01, 1),
            alpha=rng.uniform(0, 1),
            beta=rng.uniform(0.02, 0.6),
            E=rng.uniform(0.5, 2),
        )
        for i in range(4)
    }
    fit = jaxmix.from_params(nat)
    amounts = rng.uniform(0.1, 10, size=(7, 4))
    np.testing.assert_allclose(
        jaxmix.predict(fit, amounts), numpy_transfer(nat, amounts), rtol=1e-12
    )


def test_weights_form_equals_amounts_form_on_simplex():
    fit = jaxmix.from_params({d: dict(C=1, k=0.3, alpha=0.6, beta=0.2, E=1) for d in "abc"})
    w = jnp.array([0.2, 0.3, 0.5])
    law = jaxmix.get_law("transfer")
    np.testing.assert_allclose(
        TRANSFER.predict_weights(fit.params, w, 7.0),
        law.predict_amounts(fit.params, 7.0 * w),
        rtol=1e-12,
    )
    rows = jax.tree.map(lambda x: x[1], fit.params)
    np.testing.assert_allclose(
        TRANSFER.predict_domain(rows, 7.0 * w[None], 1)[0],
        law.predict_amounts(fit.params, 7.0 * w)[1],
        rtol=1e-12,
    )


def test_gradients_match_finite_differences():
    fit = jaxmix.from_params({d: dict(C=1, k=0.3, alpha=0.6, beta=0.2, E=1) for d in "abc"})
    f = lambda p, w: jnp.sum(TRANSFER.predict_weights(p, w, 5.0))  # noqa: E731
    check_grads(f, (fit.params, jnp.array([0.2, 0.3, 0.5])), order=2, modes=("fwd", "rev"))


def test_unscale_changes_unit_not_predictions():
    fit = jaxmix.from_params({d: dict(C=1.3, k=0.3, alpha=0.6, beta=0.2, E=1) for d in "abc"})
    s = 1e6
    raw = fit._replace(params=unscale(fit.params, jnp.log(s)))
    a = np.array([[0.5, 1.0, 2.0]])
    np.testing.assert_allclose(jaxmix.predict(raw, a * s), jaxmix.predict(fit, a), rtol=1e-10)


def test_convex_in_own_weight():
    rng = np.random.default_rng(1)
    fit = jaxmix.from_params(
        {
            f"d{i}": dict(
                C=rng.uniform(0.5, 2),
                k=rng.uniform(0.01, 1),
                alpha=rng.uniform(0, 1),
                beta=rng.uniform(0.02, 0.6),
                E=1.0,
            )
            for i in range(3)
        }
    )
    w = jnp.linspace(0.01, 0.99, 50)
    second = jax.vmap(
        jax.grad(
            jax.grad(lambda x: jnp.sum(TRANSFER.predict_weights(fit.params, jnp.full(3, x), 10.0)))
        )
    )(w)
    assert np.all(np.asarray(second) > 0)


def test_registry():
    assert "transfer" in jaxmix.available_laws()
    try:
        jaxmix.get_law("nope")
    except ValueError as err:
        assert "unknown law" in str(err)
    else:
        raise AssertionError("unknown law accepted")
