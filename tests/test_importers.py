import csv
import json

import numpy as np
import pytest
from helpers import synthetic_table

import jaxmix
from jaxmix.cli.main import main
from jaxmix.io.importers import best_eval_losses, import_trainer_state, import_wandb


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def truth():
    """A pilot table with per-domain losses whose numbers the logs below will carry."""
    return synthetic_table(noise=1e-3, seed=3)


def _manifest(tmp_path, table, name="manifest.csv"):
    path = tmp_path / name
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run"] + [f"n:{d}" for d in table.domains])
        for r, run in enumerate(table.runs):
            w.writerow([run] + [repr(float(a)) for a in table.amounts[r]])
    return path


def _trainer_runs(tmp_path, table, rng):
    """One folder per run: a checkpoint with part of the history and the final state; eval
    losses at several steps, the best one the table's loss; other keys mixed in."""
    root = tmp_path / "runs"
    for r, run in enumerate(table.runs):
        history = []
        for step, extra in ((100, 0.3), (200, 0.0), (300, 0.05)):  # best at step 200
            entry = {"step": step, "epoch": step / 100, "eval_runtime": 1.5}
            for d in table.domains:
                entry[f"eval_{d}_loss"] = float(table.losses[d][r]) + extra
            history.append(entry)
            history.append({"step": step, "loss": 3.0 * rng.uniform(), "learning_rate": 1e-5})
        final = root / run
        ckpt = final / "checkpoint-200"
        ckpt.mkdir(parents=True)
        (ckpt / "trainer_state.json").write_text(json.dumps({"log_history": history[:2]}))
        (final / "trainer_state.json").write_text(
            json.dumps({"global_step": 300, "log_history": history}, indent=2)
        )
    return root


def test_trainer_state_round_trip(tmp_path, truth, capsys):
    root = _trainer_runs(tmp_path, truth, np.random.default_rng(0))
    manifest = _manifest(tmp_path, truth)
    out = tmp_path / "pilots.csv"
    code, text, err = run(
        capsys, "import", "trainer-state", root, "--manifest", manifest, "-o", out
    )
    assert code == 0, err
    assert "wrote 13 pilot runs" in text
    back = jaxmix.read_pilots(out)
    assert back.domains == truth.domains and back.runs == truth.runs
    np.testing.assert_allclose(back.amounts, truth.amounts, rtol=1e-15)
    assert set(back.losses) == set(truth.domains)
    for d in truth.domains:
        np.testing.assert_allclose(back.losses[d], truth.losses[d], rtol=1e-15)
    assert jaxmix.fit(back, law="transfer").method == "joint"  # ready to fit as is


def test_trainer_state_partial_logs_and_total(tmp_path):
    root = tmp_path / "runs"
    for run, hist in {
        "r1": [{"eval_loss": 2.5}, {"eval_loss": 2.4, "eval_a_loss": 1.0}],
        "r2": [{"eval_loss": 2.6, "eval_b_loss": 3.0}, {"eval_b_loss": 2.9}],
    }.items():
        (root / run).mkdir(parents=True)
        (root / run / "trainer_state.json").write_text(json.dumps({"log_history": hist}))
    manifest = tmp_path / "m.csv"
    manifest.write_text("run,n:a,n:b\nr1,10,20\nr2,20,10\n")
    t = import_trainer_state(root, manifest)
    assert t.losses["total"].tolist() == [2.4, 2.6]
    assert t.losses["a"][0] == 1.0 and np.isnan(t.losses["a"][1])
    assert np.isnan(t.losses["b"][0]) and t.losses["b"][1] == 2.9


def test_trainer_state_without_final_state_uses_the_latest_checkpoint(tmp_path):
    root = tmp_path / "runs"
    for step, loss in ((100, 2.0), (300, 1.5), (200, 1.8)):
        ckpt = root / "r1" / f"checkpoint-{step}"
        ckpt.mkdir(parents=True)
        state = {"global_step": step, "log_history": [{"eval_a_loss": loss, "eval_b_loss": 3}]}
        (ckpt / "trainer_state.json").write_text(json.dumps(state))
    (root / "r2").mkdir()
    (root / "r2" / "trainer_state.json").write_text(
        json.dumps({"log_history": [{"eval_a_loss": 1.0, "eval_b_loss": 2.0}]})
    )
    manifest = tmp_path / "m.csv"
    manifest.write_text("run,n:a,n:b\nr1,10,20\nr2,20,10\n")
    t = import_trainer_state(root, manifest)
    assert t.losses["a"].tolist() == [1.5, 1.0] and t.losses["b"].tolist() == [3.0, 2.0]


def test_best_eval_losses_takes_the_minimum(tmp_path):
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps({"log_history": [{"eval_x_loss": 2.0}, {"eval_x_loss": 1.5}, {}]}))
    assert best_eval_losses(p) == {"x": 1.5}


def _wandb_export(tmp_path, table, rename=None, extra_rows=()):
    path = tmp_path / "wandb_export.csv"
    cols = ["Name", "State", "Runtime"] + [f"eval/{d}_loss" for d in table.domains]
    cols += ["train/loss", "learning_rate"]
    if rename:
        cols = [rename.get(c, c) for c in cols]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in reversed(range(len(table.runs))):  # order differs from the manifest
            w.writerow(
                [table.runs[r], "finished", "812"]
                + [repr(float(table.losses[d][r])) for d in table.domains]
                + ["1.23", "2e-05"]
            )
        w.writerow(["unrelated-run", "crashed", "3", "", "", "", "", ""])
        for row in extra_rows:
            w.writerow(row)
    return path


def test_wandb_round_trip(tmp_path, truth, capsys):
    export = _wandb_export(tmp_path, truth)
    manifest = _manifest(tmp_path, truth)
    out = tmp_path / "pilots.json"
    code, _, err = run(capsys, "import", "wandb", export, "--manifest", manifest, "-o", out)
    assert code == 0, err
    back = jaxmix.read_pilots(out)
    assert back.runs == truth.runs
    np.testing.assert_allclose(back.amounts, truth.amounts, rtol=1e-15)
    for d in truth.domains:
        np.testing.assert_allclose(back.losses[d], truth.losses[d], rtol=1e-15)


def test_wandb_explicit_columns(tmp_path, truth):
    rename = {f"eval/{d}_loss": f"val {d}" for d in truth.domains} | {"Name": "run name"}
    export = _wandb_export(tmp_path, truth, rename=rename)
    manifest = _manifest(tmp_path, truth)
    with pytest.raises(jaxmix.InputError, match="no run-name column 'Name'"):
        import_wandb(export, manifest)
    with pytest.raises(jaxmix.InputError, match="--loss-column domain=COLUMN"):
        import_wandb(export, manifest, run_column="run name")
    cols = {d: f"val {d}" for d in truth.domains}
    back = import_wandb(export, manifest, run_column="run name", columns=cols)
    for d in truth.domains:
        np.testing.assert_allclose(back.losses[d], truth.losses[d], rtol=1e-15)


def _expect_error(capsys, argv, *fragments, output=None):
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    assert err.startswith("jaxmix: error: ") and err.count("\n") == 1, err
    for f in fragments:
        assert f in err, (f, err)
    if output is not None:
        assert not output.exists()


def test_import_errors_name_file_row_column(tmp_path, truth, capsys):
    out = tmp_path / "out.csv"
    manifest = _manifest(tmp_path, truth)
    root = _trainer_runs(tmp_path, truth, np.random.default_rng(1))
    ts = ["import", "trainer-state", root, "--manifest"]
    # a manifest run with no folder
    bad = tmp_path / "m_extra.csv"
    bad.write_text(manifest.read_text() + "ghost,1,1,1\n")
    _expect_error(capsys, [*ts, bad, "-o", out], "ghost", "no folder", output=out)
    # a duplicated manifest run
    bad.write_text(manifest.read_text() + "r0,1,1,1\n")
    _expect_error(capsys, [*ts, bad, "-o", out], "m_extra.csv:15", "duplicate run id 'r0'")
    # a bad amount in the manifest: the manifest's row and column
    lines = manifest.read_text().splitlines()
    lines[3] = lines[3].split(",")[0] + ",abc,1,1"
    bad.write_text("\n".join(lines) + "\n")
    _expect_error(capsys, [*ts, bad, "-o", out], "m_extra.csv:4", "'n:a'", "not a number")
    # an unknown manifest column
    bad.write_text("run,n:a,n:b,size\nr0,1,1,3\n")
    _expect_error(capsys, [*ts, bad, "-o", out], "'size'", "manifest columns")
    # broken JSON and a non-numeric loss in a trainer_state.json
    state = root / "r4" / "trainer_state.json"
    good = state.read_text()
    state.write_text(good[:-40])
    _expect_error(capsys, [*ts, manifest, "-o", out], "r4/trainer_state.json", "invalid JSON")
    data = json.loads(good)
    data["log_history"][0]["eval_b_loss"] = "oops"
    state.write_text(json.dumps(data))
    _expect_error(capsys, [*ts, manifest, "-o", out], "log_history[0].eval_b_loss", "'oops'")
    state.write_text(json.dumps({"log_history": [{"eval_a_loss": -1.0}]}))
    _expect_error(capsys, [*ts, manifest, "-o", out], "loss must be a finite number > 0")
    state.write_text(json.dumps({"best_metric": 1.0}))
    _expect_error(capsys, [*ts, manifest, "-o", out], "no 'log_history'")
    _expect_error(
        capsys,
        ["import", "trainer-state", tmp_path / "nope", "--manifest", manifest, "-o", out],
        "not a folder",
    )


def test_wandb_errors(tmp_path, truth, capsys):
    out = tmp_path / "out.csv"
    manifest = _manifest(tmp_path, truth)
    wb = ["import", "wandb"]
    dup = _wandb_export(
        tmp_path, truth, extra_rows=[["r3", "finished", "1", "2", "2", "2", "", ""]]
    )
    _expect_error(
        capsys,
        [*wb, dup, "--manifest", manifest, "-o", out],
        "wandb_export.csv:16",
        "'Name'",
        "run 'r3' appears twice",
        output=out,
    )
    bad = _wandb_export(tmp_path, truth)
    text = bad.read_text().replace(repr(float(truth.losses["b"][5])), "n/a")
    bad.write_text(text)
    _expect_error(
        capsys,
        [*wb, bad, "--manifest", manifest, "-o", out],
        "'eval/b_loss'",
        "'n/a' is not a number",
    )
    missing = tmp_path / "m2.csv"
    missing.write_text(manifest.read_text() + "r99,1,1,1\n")
    good = _wandb_export(tmp_path, truth)
    _expect_error(capsys, [*wb, good, "--manifest", missing, "-o", out], "'r99' is not in the W&B")
    _expect_error(
        capsys,
        [*wb, bad, "--manifest", manifest, "--loss-column", "a=zzz", "-o", out],
        "--loss-column a=zzz: no such column",
    )
    semi = tmp_path / "semi.csv"
    semi.write_text("Name;eval/a_loss\nr0;1\n")
    _expect_error(capsys, [*wb, semi, "--manifest", manifest, "-o", out], "delimiter")
