"""Caches and compiles: the export cache serializes every law's programs (one trace per new
shape, none in a later process), its key names the platform, and the fitted model's
predictor does not recompile for each new number of rows."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import RANDOM_LAWS

import jaxmix
from jaxmix import aot
from jaxmix.fitting.result import predict_params

DOMAINS = ("a", "b", "c")


@pytest.fixture
def cache(tmp_path):
    pytest.importorskip("flatbuffers")
    previous = aot._DIR
    aot.enable(tmp_path)
    aot._LOADED.clear()
    yield tmp_path
    aot.enable(previous)
    aot._LOADED.clear()


def _losses_and_params(params, amounts, *, law_name):
    """A small program whose inputs and outputs hold the law's parameter NamedTuple."""
    law = jaxmix.get_law(law_name)
    return jax.vmap(law.predict_amounts, in_axes=(None, 0))(params, amounts), params


@pytest.mark.parametrize("law_name", sorted(RANDOM_LAWS))
def test_every_law_is_exported_once_and_reloaded_without_tracing(cache, law_name):
    traces = []

    def counted(*args, **static):
        traces.append(1)  # runs once per trace (or per plain call on a fallback)
        return _losses_and_params(*args, **static)

    fit = jaxmix.from_params(RANDOM_LAWS[law_name](np.random.default_rng(0), DOMAINS), law_name)
    amounts = jnp.asarray(np.random.default_rng(1).uniform(0.5, 5.0, (7, 3)))
    want = _losses_and_params(fit.params, amounts, law_name=law_name)
    got = aot.call(counted, "probe", fit.params, amounts, law_name=law_name)
    assert len(traces) == 1, "traced twice: the export failed and fell back"
    assert len(list(cache.glob("probe-*.jaxexport"))) == 1
    aot._LOADED.clear()  # as in a new process: the program is read back, not traced
    again = aot.call(counted, "probe", fit.params, amounts, law_name=law_name)
    assert len(traces) == 1
    for a, b, c in zip(jax.tree.leaves(want), jax.tree.leaves(got), jax.tree.leaves(again)):
        np.testing.assert_allclose(b, a, rtol=1e-14)
        np.testing.assert_allclose(c, a, rtol=1e-14)
    assert type(got[1]) is type(fit.params)


def test_cache_key_names_platform_and_jax_version(monkeypatch):
    args = (jnp.ones(3),)
    key = aot._key("f", args, {})
    monkeypatch.setattr(jax, "default_backend", lambda: "tpu")
    assert aot._key("f", args, {}) != key
    monkeypatch.undo()
    monkeypatch.setattr(jax, "__version__", "0.0.0")
    assert aot._key("f", args, {}) != key


def test_predict_does_not_recompile_for_each_number_of_rows():
    fit = jaxmix.from_params(RANDOM_LAWS["transfer"](np.random.default_rng(3), DOMAINS))
    rng = np.random.default_rng(4)
    jaxmix.predict(fit, rng.uniform(0.5, 5.0, (3, 3)))
    before = predict_params._cache_size()
    for rows in (1, 2, 5, 7, 8):
        amounts = rng.uniform(0.5, 5.0, (rows, 3))
        got = jaxmix.predict(fit, amounts)
        law = jaxmix.get_law("transfer")
        one = [np.asarray(law.predict_amounts(fit.params, a)) for a in amounts]
        np.testing.assert_allclose(got, np.stack(one), rtol=1e-13)
    assert predict_params._cache_size() == before
    assert jaxmix.predict(fit, np.ones((2, 4, 3))).shape == (2, 4, 3)  # leading axes kept


def test_predict_is_traced_once_per_bucket():
    import chex

    law = jaxmix.get_law("transfer")
    fit = jaxmix.from_params(RANDOM_LAWS["transfer"](np.random.default_rng(5), DOMAINS))

    @functools.partial(jax.jit, static_argnames="law_name")
    @chex.assert_max_traces(n=1)
    def traced(params, amounts, *, law_name):
        return jax.vmap(law.predict_amounts, in_axes=(None, 0))(params, amounts)

    from jaxmix.fitting import result as _fitresult

    original = _fitresult.predict_params
    _fitresult.predict_params = traced
    try:
        for rows in (1, 3, 6, 8):
            jaxmix.predict(fit, np.ones((rows, 3)))
    finally:
        _fitresult.predict_params = original
        chex.clear_trace_counter()
