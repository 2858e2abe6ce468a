"""`jaxmix import olmix`: an Olmix swarm (ratios.csv + metrics.csv) becomes a pilot table."""

import numpy as np
import pytest

from jaxmix.cli.main import main
from jaxmix.io.olmix import import_olmix
from jaxmix.io.pilots import read_pilots
from jaxmix.status import InputError

RATIOS = ",run,name,index,web,code,math\n" + "".join(
    f"{i},r{i},swarm-{i},{i},{w},{c},{m}\n"
    for i, (w, c, m) in enumerate([(0.5, 0.25, 0.25), (2, 1, 1), (0.1, 0.0, 0.9)])
)
METRICS = ",run,name,index,arc:bpb,gsm8k:bpb\n" + "".join(
    f"{i},r{j},swarm-{j},{j},{a},{g}\n"
    for i, (j, a, g) in enumerate([(2, 1.5, 0.75), (0, 1.25, 0.5)])
)


def _write(tmp_path, ratios=RATIOS, metrics=METRICS):
    r, m = tmp_path / "ratios.csv", tmp_path / "metrics.csv"
    r.write_text(ratios)
    m.write_text(metrics)
    return r, m


def test_round_trip_joins_on_run_and_scales_the_renormalized_ratios(tmp_path, capsys):
    r, m = _write(tmp_path)
    out = tmp_path / "pilots.csv"
    assert main(["import", "olmix", str(r), str(m), "--budget", "200", "-o", str(out)]) == 0
    assert "wrote 3 pilot runs (loss:arc:bpb, loss:gsm8k:bpb; 2 empty cells)" in (
        capsys.readouterr().out
    )
    t = read_pilots(out)
    assert t.domains == ("web", "code", "math") and t.runs == ("r0", "r1", "r2")
    # r1's shares (2, 1, 1) are renormalized: the same mixture as r0.
    np.testing.assert_allclose(t.amounts, [[100, 50, 50], [100, 50, 50], [20, 0, 180]])
    np.testing.assert_allclose(t.losses["arc:bpb"], [1.25, np.nan, 1.5])
    np.testing.assert_allclose(t.losses["gsm8k:bpb"], [0.5, np.nan, 0.75])


def test_scores_become_score_targets(tmp_path):
    r, m = _write(tmp_path)
    t = import_olmix(r, m, budget=1.0, kind="score")
    assert list(t.targets()) == ["score:arc:bpb", "score:gsm8k:bpb"]
    np.testing.assert_allclose(t.targets()["score:arc:bpb"], [1.25, np.nan, 1.5])


def _bad(tmp_path, ratios=RATIOS, metrics=METRICS, budget=100.0):
    r, m = _write(tmp_path, ratios, metrics)
    with pytest.raises(InputError) as e:
        import_olmix(r, m, budget)
    return str(e.value)


@pytest.mark.parametrize(
    "edit, where, words",
    [
        (lambda r, m: (r.replace(",run,", ",id,", 1), m), "ratios.csv:1", "'run' column"),
        (lambda r, m: (",run,name\n0,a,x\n", m), "ratios.csv:1", "no ratios columns"),
        (lambda r, m: (r, m.replace("arc:bpb", "code", 1)), "metrics.csv:1", "both a ratio"),
        (lambda r, m: (r.replace(",r1,", ",,"), m), "ratios.csv:3", "empty run id"),
        (lambda r, m: (r.replace(",r1,", ",r0,"), m), "ratios.csv:3", "duplicate run id"),
        (lambda r, m: (r.replace("0.25,0.25", "-0.25,0.25"), m), "ratios.csv:2", ">= 0"),
        (lambda r, m: (r.replace("2,1,1", "0,0,0"), m), "ratios.csv:3", "every share"),
        (lambda r, m: (r, m.replace(",r0,", ",r9,")), "metrics.csv:3", "'r9' is not in"),
        (lambda r, m: (r, m.replace("1.25", "abc")), "metrics.csv:3", "arc:bpb"),
        (lambda r, m: (r.replace("0.9", "x"), m), "ratios.csv:4", "math"),
    ],
)
def test_errors_name_file_row_and_column(tmp_path, edit, where, words):
    text = _bad(tmp_path, *edit(RATIOS, METRICS))
    assert where in text and words in text and "\n" not in text


@pytest.mark.parametrize("budget", [0.0, -5.0, float("nan"), float("inf")])
def test_budget_must_be_positive_and_finite(tmp_path, budget):
    assert "--budget" in _bad(tmp_path, budget=budget)


def test_cli_error_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    r, m = _write(tmp_path)
    out = tmp_path / "pilots.csv"
    # ratios and metrics swapped: the metrics' columns are not shares of the same runs
    code = main(["import", "olmix", str(m), str(r), "--budget", "10", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_the_shipped_olmix_swarm_is_a_fixed_budget_table_of_110_targets():
    import jaxmix

    t = read_pilots(jaxmix.example_pilots("olmix"))
    assert len(t.runs) == 64 and len(t.domains) == 22 and len(set(t.runs)) == 64
    np.testing.assert_allclose(t.amounts.sum(axis=1), 1000.0)
    targets = t.targets()
    assert len(targets) == 110 and all(c.startswith("loss:") for c in targets)
    values = np.stack(list(targets.values()))
    assert np.all(np.isfinite(values)) and np.all(values > 0)


def test_regmix_sweep_joins_on_index_and_names_domain_losses(tmp_path, capsys):
    from jaxmix.io.olmix import import_regmix

    mix, loss = tmp_path / "mix.csv", tmp_path / "loss.csv"
    mix.write_text("index,train_web,train_code\n1,0.2,0.8\n2,0.6,0.4\n3,1.0,0.0\n")
    loss.write_text("index,metric/web_val_loss,metric/books_val_loss\n3,2.5,3.5\n1,2.0,3.0\n")
    out = tmp_path / "p.csv"
    assert main(["import", "regmix", str(mix), str(loss), "--budget", "50", "-o", str(out)]) == 0
    assert "wrote 3 pilot runs (loss:web, loss:books; 2 empty cells)" in capsys.readouterr().out
    t = read_pilots(out)
    assert t.domains == ("web", "code") and t.runs == ("1", "2", "3")
    np.testing.assert_allclose(t.amounts, [[10, 40], [30, 20], [50, 0]])
    np.testing.assert_allclose(t.losses["web"], [2.0, np.nan, 2.5])  # the domain's own loss
    np.testing.assert_allclose(t.losses["books"], [3.0, np.nan, 3.5])
    loss.write_text("index,metric/web_val_loss\n9,2.5\n")
    with pytest.raises(InputError, match="loss.csv:2: column 'index': run '9' is not in"):
        import_regmix(mix, loss, 50.0)
    code = main(["import", "regmix", str(loss), str(mix), "--budget", "50", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
