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
from jaxmix.io.export import read_mixture

CORPUS = Path(__file__).with_name("data") / "malformed"
SFT = jaxmix.read_pilots(jaxmix.example_pilots("sft"))

# file -> (line in the message, fragment); None: the file is fine and reads as the example
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
    assert len(t.domains) == 3 and len(t.runs) == len(SFT.runs)
    np.testing.assert_array_equal(t.amounts, SFT.amounts)
    np.testing.assert_array_equal(t.domain_losses(), SFT.domain_losses())


def test_unicode_domain_names_work_end_to_end(capsys, tmp_path):
    out = tmp_path / "mix.json"
    code, text, err = run(capsys, "run", CORPUS / "unicode_domains.csv", "-o", out)
    assert code == 0, err
    assert "数学" in text and "prosa ✍" in text
    domains, _, _ = read_mixture(json.loads(out.read_text(encoding="utf-8")), out)
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
            64,
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
