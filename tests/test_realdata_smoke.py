"""The public-data benchmark's loaders, metrics and one cheap data set (seconds).

Skips where ../shared/realdata or lightgbm is absent (CI has neither); the full benchmark is
``python -m benchmarks.realdata``.
"""

import math
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"

pytest.importorskip("lightgbm")
pytest.importorskip("scipy")
if not (DATA / "README.md").exists():
    pytest.skip(f"no public data at {DATA}", allow_module_level=True)

from benchmarks.realdata import common, data, repetition  # noqa: E402


def test_loaders_shapes():
    rm = data.load_regmix(DATA)
    assert len(rm.train_domains) == 17 and len(rm.loss_domains) == 13
    assert set(rm.loss_domains) <= set(rm.train_domains)
    sizes = {k: len(v.weights) for k, v in rm.splits.items()}
    assert sizes == {"train-1M": 512, "test-1M": 256, "test-60M": 256, "test-1B": 64}
    domains, runs = data.load_mixinglaws(DATA, "5Mix", (30_000, 30_000))
    assert domains == tuple(data.FIVE_GROUPS)
    assert len(np.unique(runs["70M"].mixture)) == 26
    assert math.isclose(runs["70M"].objective_weights.sum(), 1.0)
    sft = data.load_sft(DATA, "flan")
    assert sft.losses.shape == (30, 15)


def test_metrics():
    obs = np.array([1.0, 2.0, 4.0])
    assert common.rel_error(obs * 1.1, obs) == pytest.approx(0.1)
    assert common.spearman([3.0, 2.0, 1.0], obs) == pytest.approx(-1.0)
    assert common.spearman([1.0, 1.0, 1.0], obs) == 0.0
    assert common.regret_pct([0.5, 0.1, 0.9], obs) == pytest.approx(100.0)


def test_repetition_runs():
    rows = repetition.run(DATA, log=lambda msg: None)
    assert len(rows) == 2 * len(repetition.METHODS)
    for row in rows:
        assert math.isfinite(row["mean_rel_error"]) and row["mean_rel_error"] < 0.5


def test_effective_amounts_match_jaxmix():
    fn, source = repetition._jaxmix_effective()
    if fn is None:
        pytest.skip(source)
    n = np.array([0.5, 1.0, 2.0, 100.0, 9000.0])
    got = np.asarray(fn(n, np.ones_like(n), 15.4))
    np.testing.assert_allclose(got, repetition._effective_local(n, 1.0, 15.4), rtol=1e-12)
