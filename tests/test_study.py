import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import TRUE3, assert_on_simplex, random_law, synthetic_table

import jaxmix
from jaxmix.cli.main import main
from jaxmix.fitting.joint import fit_many
from jaxmix.study.bootstrap import bootstrap
from jaxmix.study.sweeps import pareto, solve_many, sweep_budgets

N_BOOT = 64  # one shape for every bootstrap below: compiled once


def test_budget_sweep_equals_one_by_one():
    fit = jaxmix.from_params(random_law(np.random.default_rng(0), 3))
    budgets = [5.0, 50.0, 500.0, 5000.0]
    res = sweep_budgets(fit, budgets, max_weight={"d0": 0.4})
    for i, n in enumerate(budgets):
        one = jaxmix.optimize(fit, n, max_weight={"d0": 0.4})
        np.testing.assert_allclose(res.weights[i], one.weights, atol=1e-9)
        np.testing.assert_allclose(res.predicted[i], one.predicted, rtol=1e-9)
    assert_on_simplex(res.weights, upper=[0.4, 1, 1])
    assert np.all(np.abs(res.gap) < 1e-9)


def test_sweep_does_not_retrace_for_new_numbers():
    fit = jaxmix.from_params(random_law(np.random.default_rng(1), 3))
    sweep_budgets(fit, [1.0, 2.0, 3.0])
    before = solve_many._cache_size()
    other = jaxmix.from_params(random_law(np.random.default_rng(2), 3))
    sweep_budgets(other, [7.0, 70.0, 700.0], importance={"d1": 3.0}, seed=4)
    assert solve_many._cache_size() == before


def test_pareto_front_trades_one_domain_for_another():
    fit = jaxmix.from_params(random_law(np.random.default_rng(3), 3))
    t, res = pareto(fit, 100.0, ("d0", "d1"), points=7)
    assert_on_simplex(res.weights)
    w0, l0, l1 = res.weights[:, 0], res.predicted[:, 0], res.predicted[:, 1]
    assert np.all(np.diff(w0) >= -1e-9) and np.all(np.diff(l0) <= 1e-9)
    assert np.all(np.diff(l1) >= -1e-9)
    with pytest.raises(jaxmix.InputError, match="unknown domain"):
        pareto(fit, 100.0, ("d0", "zz"))


def _width(study):
    return np.mean([hi - lo for lo, hi in study["weights_interval"].values()])


def test_bootstrap_intervals_shrink_with_pilot_noise_and_do_not_retrace():
    design = (0.25, 1.0, 4.0)
    noisy = synthetic_table(scales=design, noise=3e-3, seed=1)
    quiet = synthetic_table(scales=design, noise=3e-4, seed=1)
    s_noisy, mix, _ = bootstrap(noisy, 30.0, N_BOOT, seed=0, chunk=N_BOOT)
    assert_on_simplex(mix.weights)
    before = fit_many._cache_size()
    s_quiet, _, _ = bootstrap(quiet, 30.0, N_BOOT, seed=1, chunk=N_BOOT)
    assert fit_many._cache_size() == before  # new losses and seed, same shapes: no retrace
    assert _width(s_quiet) < 0.5 * _width(s_noisy)
    for lo, hi in s_quiet["weights_interval"].values():
        assert lo <= hi and 0 <= lo and hi <= 1
    truth = jaxmix.optimize(jaxmix.from_params(TRUE3), 30.0)
    for i, d in enumerate(quiet.domains):
        lo, hi = s_quiet["weights_interval"][d]
        assert lo - 0.02 <= truth.weights[i] <= hi + 0.02
    assert 0.0 <= s_noisy["p_beats_uniform"] <= 1.0
    assert s_quiet["bootstrap"]["finite"] == N_BOOT


def test_cli_sweep_pareto_and_bootstrap(tmp_path, capsys):
    pilots = tmp_path / "p.csv"
    jaxmix.write_pilots(synthetic_table(scales=(0.25, 1.0, 4.0), noise=3e-4, seed=2), pilots)
    fit = tmp_path / "fit.json"
    assert main(["-q", "fit", str(pilots), "-o", str(fit)]) == 0
    out = tmp_path / "sweep.json"
    assert main(["sweep", str(fit), "--budgets", "10,100,1000", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["budget"] == [10.0, 100.0, 1000.0] and len(data["results"]) == 3
    front = tmp_path / "front.json"
    assert (
        main(
            [
                "pareto",
                str(fit),
                "--budget",
                "30",
                "--between",
                "a,b",
                "--points",
                "5",
                "-o",
                str(front),
            ]
        )
        == 0
    )
    assert len(json.loads(front.read_text())["results"]) == 5
    mix = tmp_path / "mix.json"
    code = main(
        [
            "run",
            str(pilots),
            "--budget",
            "30",
            "--bootstrap",
            str(N_BOOT),
            "--seed",
            "3",
            "--baseline",
            "a=0.5",
            "--baseline",
            "b=0.25",
            "--baseline",
            "c=0.25",
            "-o",
            str(mix),
        ]
    )
    assert code == 0
    data = json.loads(mix.read_text())
    assert set(data["weights_interval"]) == {"a", "b", "c"} and "p_beats_baseline" in data
    assert "bootstrap refit" in capsys.readouterr().err
    assert main(["sweep", str(fit), "--budgets", "10,x", "-o", str(out)]) == 2


def test_sharded_equals_unsharded_on_eight_host_devices(tmp_path):
    script = textwrap.dedent("""
        import jax, numpy as np
        jax.config.update("jax_enable_x64", True)
        assert jax.device_count() == 8, jax.devices()
        import jaxmix
        from jaxmix.study.batch import map_batched
        from jaxmix.study.sweeps import solve_many
        import functools
        rng = np.random.default_rng(0)
        fit = jaxmix.from_params({f"d{i}": dict(C=rng.uniform(.5, 2), k=rng.uniform(.05, .5),
            alpha=rng.uniform(.2, .8), beta=rng.uniform(.05, .5), E=1.0) for i in range(3)})
        b = 20
        params = jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), (b, 3)), fit.params)
        batch = (params, np.geomspace(1, 1e4, b), np.ones((b, 3)), np.zeros((b, 3)),
                 np.ones((b, 3)), np.asarray(jax.random.split(jax.random.PRNGKey(0), b)))
        fn = functools.partial(solve_many, law_name="transfer", capped=False, restarts=4)
        sharded = map_batched(lambda x: fn(*x), batch, chunk=16)
        plain = map_batched(lambda x: fn(*x), batch, shard=False)
        np.testing.assert_allclose(sharded.weights, plain.weights, atol=1e-12)
        np.testing.assert_allclose(sharded.exact_weights, plain.exact_weights, atol=1e-12)
        print("OK", sharded.weights.shape)
    """)
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=8"
    env = dict(os.environ, XLA_FLAGS=flags, JAXMIX_NO_CACHE="1")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "OK (20, 3)" in proc.stdout
