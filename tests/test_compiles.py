"""Compile once: a second call with the same shapes (new numbers) traces and compiles
nothing, and a registered law that changes never runs an old program."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxmix
from jaxmix import aot
from jaxmix.compiles import count_compiles
from jaxmix.fitting.result import predict_params
from jaxmix.laws import registry
from jaxmix.laws.transfer import TRANSFER
from jaxmix.study.intervals import recommendation_intervals


@pytest.fixture(scope="module")
def table():
    return jaxmix.read_pilots(jaxmix.example_pilots())


def _nudged(table, factor):
    """The same runs with every loss scaled: same shapes, other numbers."""
    return table._replace(losses={c: v * factor for c, v in table.losses.items()})


@pytest.fixture(scope="module")
def fitted(table):
    return jaxmix.fit(table, law="transfer")


def _second_call_is_free(call):
    call(0)
    with count_compiles() as log:
        call(1)
    assert (log.traces, log.compiles) == (0, 0), log


def test_fit_compiles_once(table):
    _second_call_is_free(lambda i: jaxmix.fit(_nudged(table, 1 + 0.01 * i), law="transfer"))


def test_default_fit_compiles_once(table):
    _second_call_is_free(lambda i: jaxmix.fit(_nudged(table, 1 + 0.01 * i)))


def test_optimize_compiles_once(fitted):
    _second_call_is_free(lambda i: jaxmix.optimize(fitted, 20.0 + i))


def test_bootstrap_compiles_once(table):
    _second_call_is_free(
        lambda i: jaxmix.bootstrap(_nudged(table, 1 + 0.01 * i), 20.0, n=8, seed=i)
    )


def test_recommendation_intervals_compile_once_for_nearby_resample_counts(table):
    """The combined fit's bootstrap (``run --bootstrap``): its member is not refitted, and
    100 and 120 resamples share one program."""
    fit = jaxmix.fit(table)
    mix = jaxmix.optimize(fit, 20.0)
    _second_call_is_free(lambda i: recommendation_intervals(table, fit, mix, 100 + 20 * i))


def test_sweep_budgets_compiles_once(fitted):
    _second_call_is_free(lambda i: jaxmix.sweep_budgets(fitted, [10.0 + i, 20.0, 40.0]))


def test_validate_compiles_once(table):
    _second_call_is_free(
        lambda i: jaxmix.validate(_nudged(table, 1 + 0.01 * i), laws=("transfer",))
    )


def test_propose_compiles_once(table):
    _second_call_is_free(lambda i: jaxmix.propose(table, 20.0, resamples=8, seed=i))


def test_warmup_leaves_nothing_to_compile(table):
    jaxmix.warmup(table, budget=20.0, law="transfer")
    again = jaxmix.warmup(table, budget=30.0, law="transfer")
    assert (again.traces, again.compiles) == (0, 0)


def _doubled(row, amounts, i):
    return 2.0 * TRANSFER.loss(row, amounts, i)


@pytest.fixture
def probe_law():
    yield "probe_law"
    registry._REGISTRY.pop("probe_law", None)
    for name in [n for n in registry._REGISTRY if "probe_law" in n]:
        registry._REGISTRY.pop(name)


def test_a_changed_registered_law_is_traced_again(fitted, probe_law):
    amounts = jnp.asarray(np.random.default_rng(0).uniform(1.0, 5.0, (6, 3)))
    jaxmix.register(TRANSFER._replace(name=probe_law))
    fit = jaxmix.from_params(fitted.natural(), law=probe_law)
    before = np.asarray(jaxmix.predict(fit, amounts))
    jaxmix.register(TRANSFER._replace(name=probe_law, loss=_doubled))
    after = np.asarray(jaxmix.predict(fit, amounts))
    np.testing.assert_allclose(after, 2.0 * before, rtol=1e-12)


def test_a_changed_registered_law_gets_a_new_exported_program(fitted, probe_law, tmp_path):
    pytest.importorskip("flatbuffers")
    amounts = jnp.asarray(np.random.default_rng(1).uniform(1.0, 5.0, (6, 3)))
    previous = aot._DIR
    aot.enable(tmp_path)
    try:
        jaxmix.register(TRANSFER._replace(name=probe_law))
        params = jaxmix.from_params(fitted.natural(), law=probe_law).params
        before = np.asarray(aot.call(predict_params, "probe", params, amounts, law_name=probe_law))
        jaxmix.register(TRANSFER._replace(name=probe_law, loss=_doubled))
        aot.forget()  # as a new process would: only the files remain
        after = np.asarray(aot.call(predict_params, "probe", params, amounts, law_name=probe_law))
        assert len(list(tmp_path.glob("probe-*.jaxexport"))) == 2
    finally:
        aot.enable(previous)
        aot.forget()
    np.testing.assert_allclose(after, 2.0 * before, rtol=1e-12)


def test_every_refit_reports_its_status(table):
    """The bootstrap counts how each refit ended, and the table says when some did not
    converge."""
    from jaxmix.report.text import format_intervals
    from jaxmix.status import Status
    from jaxmix.study.bootstrap import _refit_counts

    study, mix, _ = jaxmix.bootstrap(table, 20.0, n=8)
    assert study["bootstrap"]["refits_converged"] == 8
    assert study["bootstrap"]["refit_status"] == {"SUCCESS": 8 * len(table.domains)}
    status = np.zeros((8, 3), int)
    status[2, 1], status[5, 0], status[5, 2] = Status.MAX_STEPS, Status.STUCK, Status.MAX_STEPS
    counts = _refit_counts(status)
    assert counts == {"refits_converged": 6, "refit_status": {"SUCCESS": 21, "MAX_STEPS": 2,
                                                              "STUCK": 1}}
    study["bootstrap"].update(counts)
    text = format_intervals(study, mix.domains)
    assert "refits: 6 of 8 resamples converged in every domain (2 MAX_STEPS, 1 STUCK)" in text


def test_a_law_that_reads_a_changed_global_gets_a_new_program(fitted, probe_law, tmp_path):
    """A notebook cell's law (no source file) that reads a global: changed and registered
    again, it runs the new value, also through the export cache."""
    pytest.importorskip("flatbuffers")
    amounts = jnp.asarray(np.random.default_rng(2).uniform(1.0, 5.0, (6, 3)))
    cell = {"TRANSFER": TRANSFER, "SCALE": 2.0}
    exec("def loss(row, amounts, i):\n    return SCALE * TRANSFER.loss(row, amounts, i)\n", cell)
    previous = aot._DIR
    aot.enable(tmp_path)
    try:
        law = jaxmix.register(TRANSFER._replace(name=probe_law, loss=cell["loss"]))
        params = jaxmix.from_params(fitted.natural(), law=probe_law).params
        two = np.asarray(aot.call(predict_params, "probe", params, amounts, law_name=probe_law))
        cell["SCALE"] = 3.0
        jaxmix.register(law)  # the same law object, registered again
        three = np.asarray(aot.call(predict_params, "probe", params, amounts, law_name=probe_law))
    finally:
        aot.enable(previous)
        aot.forget()
    np.testing.assert_allclose(three, 1.5 * two, rtol=1e-12)
