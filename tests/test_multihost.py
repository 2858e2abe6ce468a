"""Multi-host: a bootstrap sharded over two local CPU processes (``jax.distributed`` with gloo
collectives, coordinator on 127.0.0.1) equals the same bootstrap in one process."""

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

WORKER = textwrap.dedent("""
    import sys
    import numpy as np
    import jax
    port, pid, nproc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    out, fit_path = sys.argv[4], sys.argv[5]
    jax.config.update("jax_enable_x64", True)
    if nproc > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=nproc, process_id=pid,
                                   initialization_timeout=60)
        assert jax.process_count() == nproc and jax.device_count() == nproc
    from helpers import synthetic_table
    from jaxmix.io.fitfile import read_fit
    from jaxmix.study.bootstrap import replicates
    table = synthetic_table(scales=(0.25, 1.0, 4.0), noise=3e-3, seed=1)
    fit = read_fit(fit_path)  # the full fit is the test's: the processes shard the refits
    rep = replicates(table, 30.0, 6, seed=0, chunk=4, restarts=2, fit=fit)  # 2 chunks, 1 padded
    leaves = [np.asarray(x) for x in jax.tree.leaves(rep.params)]
    np.savez(f"{out}-{pid}.npz", weights=rep.weights, *leaves)
""")


def _one_process(fit_path) -> dict:
    """The worker's bootstrap, run in this process (one device), keyed as its npz file."""
    from helpers import synthetic_table

    from jaxmix.io.fitfile import read_fit
    from jaxmix.study.bootstrap import replicates

    table = synthetic_table(scales=(0.25, 1.0, 4.0), noise=3e-3, seed=1)
    rep = replicates(table, 30.0, 6, seed=0, chunk=4, restarts=2, fit=read_fit(fit_path))
    leaves = [np.asarray(x) for x in jax.tree.leaves(rep.params)]
    return {"weights": np.asarray(rep.weights)} | {f"arr_{i}": x for i, x in enumerate(leaves)}


def _fit_file(tmp_path) -> str:
    """The full transfer-law fit, written once for every process (a fit file round-trips
    its float64 parameters exactly)."""
    from helpers import synthetic_table

    import jaxmix

    table = synthetic_table(scales=(0.25, 1.0, 4.0), noise=3e-3, seed=1)
    path = tmp_path / "fit.json"
    jaxmix.write_fit(jaxmix.fit(table, law="transfer"), path)
    return str(path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bootstrap_sharded_over_two_processes_equals_one_process(tmp_path):
    if "jax_cpu_collectives_implementation" not in jax.config.values or not hasattr(
        jax.distributed, "initialize"
    ):
        pytest.skip("this JAX has no multi-process CPU collectives (jax.distributed + gloo)")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    tests = str(Path(__file__).parent)
    root = str(Path(__file__).parent.parent)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([tests, root, os.environ.get("PYTHONPATH", "")]),
        JAXMIX_NO_CACHE="1",
        JAX_PLATFORMS="cpu",
        # one CPU device per process (the suite's compile flags are kept)
        XLA_FLAGS=" ".join(f for f in os.environ.get("XLA_FLAGS", "").split()
                           if "device_count" not in f),
    )
    env.pop("JAX_COMPILATION_CACHE_DIR", None)  # each process compiles its own program
    port, out = str(_free_port()), str(tmp_path / "out")
    fit_path = _fit_file(tmp_path)
    runs = [(port, str(i), "2", out, fit_path) for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for args in runs
    ]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]
    single = _one_process(fit_path)  # the same bootstrap here, on this process's one device
    for pid in range(2):
        multi = np.load(f"{out}-{pid}.npz")
        assert set(multi.files) == set(single)
        for name, value in single.items():
            np.testing.assert_allclose(multi[name], value, rtol=0, atol=1e-7)  # solver tol
    assert np.all(np.isfinite(single["weights"]))
