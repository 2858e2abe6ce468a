"""A corpus of malformed pilot files: each gives one clear line and exit status 2 from the
CLI (or works, where it should); inputs are never modified; same seed, same output bytes."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import synthetic_table

import jaxmix
from jaxmix.cli.main import main
from jaxmix.io.export import mixture_weights

CORPUS = Path(__file__).with_name("data") / "malformed"
# the well-formed table the corpus was made from (an earlier SFT grid's pilots)
SOURCE = jaxmix.read_pilots(CORPUS.with_name("sft_pilots_flat.csv"))

# file -> (line in the message, fragment); None: the file is fine and reads as SOURCE
EXPECTED = {
    "binary.csv": (2, "not UTF-8 text (byte 128); save the file as UTF-8"),
    "bom.csv": None,
    "crlf_blank_lines.csv": None,
    "duplicate_runs.csv": (15, "duplicate run id 'codex2' (first at row 5)"),
    "empty.csv": (None, "empty file"),
    "header_only.csv": (None, "no pilot runs"),
    "huge_value.csv": (4, "'1e400' is not a finite number"),
    "latin1.csv": (1, "not UTF-8 text (byte 24)"),
    "missing_cell.csv": (9, "has 6 cells, the header has 7"),
    "not_records.json": (None, "expected a JSON list of run records"),
    "nul_bytes.csv": (5, "is not a number"),
    "semicolon.csv": (1, "use ',' as the delimiter"),
    "tab.tsv": (1, "use ',' as the delimiter"),
    "text_in_number.csv": (9, "'ninety-six' is not a number"),
    "trailing_comma.csv": (1, "empty column name"),
    "truncated.csv": (6, "has 5 cells, the header has 7"),
    "truncated.json": (1, "invalid JSON"),
    "unicode_domains.csv": None,
    "utf16.csv": None,
    "whitespace_only.csv": (None, "empty file"),
}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_corpus_is_complete():
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(k for k, v in EXPECTED.items() if v is not None))
def test_malformed_file_one_line_exit_2(capsys, tmp_path, name):
    line, fragment = EXPECTED[name]
    src = tmp_path / name
    shutil.copyfile(CORPUS / name, src)
    before = src.read_bytes()
    out = tmp_path / "fit.json"
    code, text, err = run(capsys, "fit", src, "-o", out)
    assert code == 2 and text == ""
    assert err.startswith("jaxmix: error: ") and err.count("\n") == 1, err
    where = f"{src}:{line}: " if line is not None else f"{src}: "
    assert where in err and fragment in err, err
    assert not out.exists() and not list(tmp_path.glob(".fit.json*"))
    assert src.read_bytes() == before


@pytest.mark.parametrize("name", sorted(k for k, v in EXPECTED.items() if v is None))
def test_files_that_should_read(name):
    t = jaxmix.read_pilots(CORPUS / name)
    assert len(t.domains) == 3 and len(t.runs) == len(SOURCE.runs)
    np.testing.assert_array_equal(t.amounts, SOURCE.amounts)
    np.testing.assert_array_equal(t.domain_losses(), SOURCE.domain_losses())


def test_unicode_domain_names_work_end_to_end(capsys, tmp_path):
    out = tmp_path / "mix.json"
    code, text, err = run(capsys, "run", CORPUS / "unicode_domains.csv", "-o", out)
    assert code == 0, err
    assert "数学" in text and "prosa ✍" in text
    domains, _, _ = mixture_weights(json.loads(out.read_text(encoding="utf-8")), out)
    assert tuple(domains) == ("código", "数学", "prosa ✍")
    code, text, err = run(capsys, "export", out, "--to", "hf")
    assert code == 0 and json.loads(text)["datasets"] == ["código", "数学", "prosa ✍"]


def test_field_over_the_csv_limit(capsys, tmp_path):
    good = Path(jaxmix.example_pilots("sft")).read_text()
    bad = tmp_path / "big.csv"
    bad.write_text(good.replace("codex2", "codex2" + "x" * 200_000))
    code, _, err = run(capsys, "fit", bad, "-o", tmp_path / "f.json")
    assert code == 2 and err.count("\n") == 1
    assert f"{bad}:5: not a CSV table (field larger than field limit" in err


def _digest(paths):
    return {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in paths}


def test_inputs_untouched_and_same_seed_same_bytes(capsys, tmp_path):
    pilots = tmp_path / "pilots.csv"
    jaxmix.write_pilots(synthetic_table(scales=(0.25, 1.0, 4.0), noise=1e-3, seed=5), pilots)
    pilots.chmod(0o444)  # a read-only input must be enough
    outputs = []
    for i in range(2):
        before = _digest([pilots])
        mix, fit = tmp_path / f"mix{i}.json", tmp_path / f"fit{i}.json"
        code, _, err = run(
            capsys,
            "run",
            pilots,
            "--budget",
            30,
            "--bootstrap",
            8,
            "--seed",
            7,
            "--law",  # the seeded path (bootstrap resamples) of any law; one law keeps it quick
            "transfer",
            "-o",
            mix,
            "--fit-output",
            fit,
        )
        assert code == 0, err
        assert _digest([pilots]) == before
        outputs.append((mix.read_bytes(), fit.read_bytes()))
    assert outputs[0] == outputs[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["pilots.csv", "mix0.json", "fit0.json", "mix1.json", "fit1.json"]
    )  # no temporary files left behind


# --- hardening, round two: inputs that used to give a traceback or a silent wrong answer ---


def _fit_file(tmp_path, table=None):
    """A transfer-law fit file of ``table`` (default: synthetic pilots, amounts near 1)."""
    path = tmp_path / "fit.json"
    fit = jaxmix.fit(table if table is not None else synthetic_table(noise=1e-3), law="transfer")
    jaxmix.write_fit(fit, path)
    return path


def test_output_that_is_a_folder_is_one_line(capsys, tmp_path):
    fit = _fit_file(tmp_path)
    for argv in (
        ("optimize", fit, "--budget", 10, "-o", tmp_path),
        ("run", "--law", "transfer", "-o", tmp_path),
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2 and err.count("\n") == 1, err
        assert "is a folder" in err
    with pytest.raises(jaxmix.InputError, match="is a folder"):
        jaxmix.export_mixture(
            jaxmix.optimize(jaxmix.read_fit(fit), 10.0), "hf", path=tmp_path, examples=1000
        )


def test_budget_in_another_unit_warns_with_both_numbers():
    table = synthetic_table(noise=1e-3, base=4e6)  # pilots in tokens
    fit = jaxmix.fit(table, law="transfer")
    total = table.amounts.sum(axis=1)
    for budget in (40.0, 4e3, 1e12):
        (w,) = [x for x in jaxmix.optimize(fit, budget).warnings if "another unit" in x]
        assert f"{budget:.4g}" in w
    assert not any("another unit" in x for x in jaxmix.optimize(fit, 5 * total[0]).warnings)


def test_amounts_too_large_to_compute_with_are_an_error(capsys, tmp_path):
    src = jaxmix.example_pilots("sft")
    lines = Path(src).read_text().splitlines()
    cells = lines[3].split(",")
    cells[1] = "1e296"
    lines[3] = ",".join(cells)
    path = tmp_path / "huge.csv"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run(capsys, "run", path, "--law", "transfer", "-o", tmp_path / "m.json")
    assert code == 2 and err.count("\n") == 1
    assert f"{path}:4: column 'n:code'" in err and "too large" in err
    assert not (tmp_path / "m.json").exists()


def test_non_finite_predictions_are_an_error_not_a_decision():
    fit = jaxmix.from_params(
        {d: dict(C=1e308, k=0.3, alpha=0.5, beta=0.5, E=1.0) for d in ("a", "b", "c")}
    )
    with pytest.raises(jaxmix.InputError, match="not finite"):
        jaxmix.optimize(fit, 1e-12)


def test_runs_without_losses_are_left_out_with_one_warning(capsys, tmp_path):
    src = Path(jaxmix.example_pilots("sft")).read_text()
    path = tmp_path / "pilots.csv"
    path.write_text(src + "nx1,100,20,24,,,\nnx2,10,50,84,,,\n")
    out, ref = tmp_path / "with.json", tmp_path / "without.json"
    code, _, err = run(capsys, "run", path, "--law", "transfer", "-o", out)
    assert code == 0, err
    (line,) = [x for x in err.splitlines() if "without any loss" in x]
    assert "'nx1' (row 15)" in line and "'nx2' (row 16)" in line
    run(capsys, "run", "--law", "transfer", "-o", ref)
    a, b = json.loads(out.read_text()), json.loads(ref.read_text())
    for d in a["weights"]:
        assert a["weights"][d] == pytest.approx(b["weights"][d], abs=1e-9)


def test_a_perplexity_column_is_named():
    from jaxmix.fitting.checks import pilot_warnings

    table = jaxmix.read_pilots(jaxmix.example_pilots("sft"))
    losses = dict(table.losses)
    losses["code"] = np.exp(losses["code"])  # ~10 against ~2 for the others
    (w,) = [x for x in pilot_warnings(table._replace(losses=losses)) if "perplexit" in x]
    assert "'loss:code'" in w
    assert pilot_warnings(table) == []


def test_study_flags_fail_before_the_fit(capsys, tmp_path, monkeypatch):
    import jaxmix.fitting.api

    def no_fit(*a, **kw):
        raise AssertionError("the fit ran before the flags were checked")

    monkeypatch.setattr(jaxmix.fitting.api, "fit", no_fit)
    for flags in (("--bootstrap", -3), ("--bootstrap", 1), ("--level", 1.5), ("--restarts", 0)):
        for cmd in ("run", "report"):
            argv = (cmd, *flags) + (("-o", tmp_path / "r") if cmd == "report" else ())
            code, _, err = run(capsys, *argv)
            assert code == 2 and err.count("\n") == 1, (cmd, flags, err)
            assert flags[0] in err


def test_report_with_other_domains_than_the_fit_says_only_that(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    fit = _fit_file(tmp_path)  # domains a, b, c
    code, _, err = run(
        capsys, "report", jaxmix.example_pilots("sft"), "--fit", fit, "-o", tmp_path / "r"
    )
    assert code == 2 and err.count("\n") == 1, err
    assert "differ from the fit's" in err


def test_report_mixture_is_validated_and_shown_as_given(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    fit = _fit_file(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"budget": 10, "weights": {"a": 0.5, "b": 0.4, "c": 0.3}}))
    code, _, err = run(capsys, "report", "--fit", fit, "--mixture", bad, "-o", tmp_path / "r")
    assert code == 2 and "sum to 1.2" in err and err.count("\n") == 1
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"budget": 10, "weights": {"a": 0.6, "b": 0.3, "c": 0.1}}))
    code, _, err = run(
        capsys, "report", "--fit", fit, "--mixture", good, "--bootstrap", 0, "-o", tmp_path / "r"
    )
    assert code == 0, err
    page = (tmp_path / "r" / "index.html").read_text()
    for w in ("0.6000", "0.3000", "0.1000"):
        assert w in page
