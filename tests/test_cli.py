import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from helpers import synthetic_table

import jaxmix
from jaxmix.cli.main import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def pilots(tmp_path):
    """A per-domain pilot CSV drawn from a known law (with a little noise)."""
    path = tmp_path / "pilots.csv"
    jaxmix.write_pilots(synthetic_table(noise=1e-4), path)
    return path


def test_plan_writes_design(capsys, tmp_path):
    out = tmp_path / "plan.csv"
    code, _, _ = run(capsys, "plan", "--domains", "if,math,code", "--base", 660000, "-o", out)
    assert code == 0
    t = jaxmix.read_pilots(out)
    assert len(t.runs) == 13 and set(t.losses) == {"if", "math", "code"}
    assert all(np.isnan(v).all() for v in t.losses.values())
    code, text, _ = run(capsys, "plan", "--domains", "a,b", "--base", 1, "--multipliers", "1/2,2")
    assert code == 0 and text.splitlines()[0] == "run,n:a,n:b,loss:a,loss:b"
    assert len(text.splitlines()) == 6


def test_fit_optimize_run_pipeline(capsys, tmp_path, pilots):
    fit_path, mix_path = tmp_path / "fit.json", tmp_path / "mix.json"
    code, text, _ = run(capsys, "fit", pilots, "-o", fit_path)
    assert code == 0 and "method=joint" in text
    fit = json.loads(fit_path.read_text())
    # The default: every law family, stacked by held-out error (members inside the file).
    assert fit["law"] == "ensemble" and fit["domains"] == ["a", "b", "c"]
    members = [m["law"] for m in fit["members"]]
    assert set(fit["params"]["a"]) == set(members)
    assert sum(m["weight"] for m in fit["members"]) == pytest.approx(1.0)
    code, text, _ = run(
        capsys, "optimize", fit_path, "--budget", 30, "--max-weight", "a=0.3", "-o", mix_path
    )
    assert code == 0 and "uniform" in text
    mix = json.loads(mix_path.read_text())
    assert sum(mix["weights"].values()) == pytest.approx(1.0)
    assert mix["weights"]["a"] <= 0.3 + 1e-9 and mix["binding"] == {"a": "max"}
    assert mix["amounts"]["b"] == pytest.approx(30 * mix["weights"]["b"])
    assert set(mix) >= {"budget", "weights", "amounts", "predicted_loss", "objective"}
    code, text, _ = run(capsys, "run", pilots, "--budget", 30, "-o", tmp_path / "run.json")
    assert code == 0
    run_mix = json.loads((tmp_path / "run.json").read_text())
    assert run_mix["fit"]["method"] == "joint"


def test_run_without_pilots_uses_shipped_example(capsys, tmp_path):
    code, text, err = run(capsys, "run", "--budget", 20, "-o", tmp_path / "m.json")
    assert code == 0
    assert "shipped example" in text and "objective" in text


def test_hand_written_fit_is_accepted(capsys, tmp_path, llama):
    path = tmp_path / "published.json"
    path.write_text(
        json.dumps(
            {
                "law": "transfer",
                "domains": ["if", "math", "code"],
                "params": llama["reference_params"],
            }
        )
    )
    code, _, _ = run(capsys, "optimize", path, "--budget", 200, "-o", tmp_path / "m.json")
    assert code == 0
    mix = json.loads((tmp_path / "m.json").read_text())
    exact = llama["exact_weights_from_params"]["200"]["weights"]
    for d, w in exact.items():
        assert mix["weights"][d] == pytest.approx(w, abs=1e-5)


def _bad_pilots(tmp_path, text, name="bad.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _table_text(**changes):
    t = synthetic_table(noise=1e-4)
    for d, v in changes.items():
        t.losses[d] = v
    return jaxmix.io.pilots.pilots_to_csv(t)


BAD_FIT_INPUTS = {
    "missing n column": ("run,n:a,loss:a\nx,1,2\n", "at least 2 domains"),
    "duplicate column": ("run,n:a,n:b,n:b,loss:a\nx,1,2,2,3\n", "duplicate column"),
    "non-numeric": ("run,n:a,n:b,loss:a,loss:b\nx,1,2,3,abc\n", "not a number"),
    "nan": ("run,n:a,n:b,loss:a,loss:b\nx,1,2,3,nan\n", "not a finite"),
    "negative amount": ("run,n:a,n:b,loss:a,loss:b\nx,1,-2,3,3\n", ">= 0"),
    "all amounts zero": ("run,n:a,n:b,loss:a,loss:b\nx,0,0,3,3\n", "every amount of this run is 0"),
    "fewer runs than parameters": (
        "run,n:a,n:b,loss:a,loss:b\nx,1,2,3,3\ny,2,3,2,2\n",
        "only 2 runs",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FIT_INPUTS))
def test_bad_pilots_exit_2_one_line_no_output(capsys, tmp_path, case):
    text, message = BAD_FIT_INPUTS[case]
    bad = _bad_pilots(tmp_path, text)
    out = tmp_path / "fit.json"
    code, _, err = run(capsys, "fit", bad, "-o", out)
    assert code == 2
    assert err.startswith("jaxmix: error: ") and err.count("\n") == 1
    assert message in err and "bad.csv" in err
    assert not out.exists() and not list(tmp_path.glob(".fit.json*"))


def test_semantic_bad_pilots(capsys, tmp_path):
    t = synthetic_table(noise=1e-4)
    cases = {
        "no data for target": dict(b=np.full(13, np.nan)),
        "all equal": dict(b=np.full(13, 1.5)),
    }
    messages = {"no data for target": "no values to fit", "all equal": "all losses are equal"}
    for name, change in cases.items():
        bad = _bad_pilots(tmp_path, _table_text(**change))
        code, _, err = run(capsys, "fit", bad, "-o", tmp_path / "f.json")
        assert code == 2 and messages[name] in err and "loss:b" in err, name
    fixed = t._replace(amounts=t.amounts.copy())
    fixed.amounts[:, 0] = 1.0
    p = tmp_path / "fixed.csv"
    jaxmix.write_pilots(fixed, p)
    code, _, err = run(capsys, "fit", p, "-o", tmp_path / "f.json")
    assert code == 2 and "never varies" in err and "n:a" in err
    assert not (tmp_path / "f.json").exists()


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--max-weight", "zzz=0.5"], "unknown domain 'zzz'"),
        (["--min-weight", "a=0.7", "--min-weight", "b=0.7"], "cannot be satisfied"),
        (["--importance", "a"], "domain=value"),
        (["--fix", "a=x"], "not a number"),
    ],
)
def test_bad_flags(capsys, tmp_path, llama, flags, message):
    fit = tmp_path / "fit.json"
    fit.write_text(
        json.dumps(
            {"law": "transfer", "params": {d: llama["reference_params"]["if"] for d in "abc"}}
        )
    )
    out = tmp_path / "m.json"
    code, _, err = run(capsys, "optimize", fit, "--budget", 10, *flags, "-o", out)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "content,message",
    [
        (
            {
                "law": "transfer",
                "params": {
                    "a": {"C": 1, "k": 1, "alpha": 0.5, "beta": 0.1},
                    "b": {"C": 1, "k": 1, "alpha": 0.5, "beta": 0.1, "E": 1},
                },
            },
            "E must be a finite number",
        ),
        (
            {
                "law": "transfer",
                "params": {"a": {"C": 1, "k": 1, "alpha": 0.5, "beta": 0.1, "E": 1}},
            },
            "at least 2",
        ),
        (
            {
                "law": "transfer",
                "params": {
                    "a": {"C": 1, "k": 1, "alpha": 1.5, "beta": 0.1, "E": 1},
                    "b": {"C": 1, "k": 1, "alpha": 0.5, "beta": 0.1, "E": 1},
                },
            },
            "alpha must be in [0, 1]",
        ),
        (
            {
                "law": "transfer",
                "params": {
                    "a": {"C": -1, "k": 1, "alpha": 0.5, "beta": 0.1, "E": 1},
                    "b": {"C": 1, "k": 1, "alpha": 0.5, "beta": 0.1, "E": 1},
                },
            },
            "C must be > 0",
        ),
        ({"law": "nope", "params": {}}, "unknown law"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_fit_files(capsys, tmp_path, content, message):
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(content))
    code, _, err = run(capsys, "optimize", path, "--budget", 10, "-o", tmp_path / "m.json")
    assert code == 2 and message in err and "fit.json" in err


def test_missing_file_and_output_folder(capsys, tmp_path, pilots):
    code, _, err = run(capsys, "fit", tmp_path / "none.csv", "-o", tmp_path / "f.json")
    assert code == 2 and "cannot read" in err
    code, _, err = run(capsys, "fit", pilots, "-o", tmp_path / "no" / "f.json")
    assert code == 2 and "does not exist" in err


def test_subprocess_error_has_no_traceback(tmp_path):
    bad = _bad_pilots(tmp_path, "run,n:a,n:b,loss:a\nx,1,2,oops\n")
    env = dict(os.environ, JAXMIX_NO_CACHE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "jaxmix", "fit", str(bad), "-o", str(tmp_path / "f.json")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"jaxmix: error: {bad}:2: column 'loss:a': 'oops' is not a number"
    )
    assert "Traceback" not in proc.stderr and not (tmp_path / "f.json").exists()


def test_float32_cli_agrees_with_float64_and_export_cache_is_exact(tmp_path, pilots):
    """Two float64 runs share a cache (the second skips tracing via jax.export and the
    persistent compilation cache) and must write identical bytes; float32 agrees to 1e-4."""
    env = dict(os.environ, JAXMIX_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("JAXMIX_NO_CACHE", None)
    outputs = {}
    for name, flags in (("first", []), ("cached", []), ("f32", ["--float32"])):
        out = tmp_path / f"{name}.json"
        cmd = [
            sys.executable,
            "-m",
            "jaxmix",
            *flags,
            "-q",
            "run",
            str(pilots),
            "--budget",
            "30",
            "--law",  # one law: the combination's float32 fold fits differ more (~2e-3)
            "transfer",
            "-o",
            str(out),
        ]
        subprocess.run(cmd, check=True, env=env)
        outputs[name] = out.read_bytes()
    assert list((tmp_path / "cache" / "export").glob("*.jaxexport"))
    assert outputs["first"] == outputs["cached"]
    w64 = json.loads(outputs["first"])["weights"]
    w32 = json.loads(outputs["f32"])["weights"]
    for d in w64:
        assert w32[d] == pytest.approx(w64[d], abs=1e-4)


def test_python_api_gives_the_cli_mixture_in_either_precision(tmp_path):
    """A notebook (jaxmix.fit + jaxmix.optimize) gets the CLI's mixture for the same file:
    equal in float64, within the README's 5e-4 in float32 (the library's default precision)."""
    out = tmp_path / "mix.json"
    assert main(["-q", "run", "-o", str(out)]) == 0
    cli = json.loads(out.read_text())
    table = jaxmix.read_pilots(jaxmix.example_pilots())
    m64 = jaxmix.optimize(jaxmix.fit(table), cli["budget"])
    with jax.enable_x64(False):
        m32 = jaxmix.optimize(jaxmix.fit(table), cli["budget"])
    for key in ("weights", "optimum"):  # the recommendation, and the model's optimum
        src = cli if key == "weights" else cli["decision"]
        want = np.array([src[key][d] for d in table.domains])
        got64 = m64.weights if key == "weights" else list(m64.decision[key].values())
        got32 = m32.weights if key == "weights" else list(m32.decision[key].values())
        np.testing.assert_allclose(got64, want, atol=1e-9)
        np.testing.assert_allclose(got32, want, atol=5e-4)
    assert m32.decision["action"] == m64.decision["action"] == cli["decision"]["action"]
