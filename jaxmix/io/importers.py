"""Pilot tables from the logs people already have: Hugging Face Trainer runs and W&B exports.

Both importers take the amounts of each run from a small **manifest** CSV (``run`` and one
``n:<domain>`` column per domain, optionally ``seed``: the pilot table without losses) and
the losses from the logs:

- :func:`import_trainer_state`: a folder with one sub-folder per run (named as in the
  manifest) holding a ``trainer_state.json`` (the run folder's own, written at the end of
  training, else the checkpoint's with the largest ``global_step``). The loss of each
  ``eval_<name>_loss`` key is its **minimum** over ``log_history`` (the best checkpoint) and
  becomes ``loss:<name>``; a plain ``eval_loss`` becomes ``loss:total``.
- :func:`import_wandb`: a W&B runs-table CSV export (one row per run, summary values). The
  run is matched by the ``Name`` column (``run_column``); a column ``eval/<name>_loss`` or
  ``eval_<name>_loss`` becomes ``loss:<name>`` (``eval/loss`` or ``eval_loss``:
  ``loss:total``), or map columns yourself with ``columns={name: column}``, which replaces
  the rule.

Errors are :class:`InputError` naming the file, row (CSV line; header is line 1) and column.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np

from jaxmix.io.pilots import PilotTable, build_table, parse_number
from jaxmix.status import InputError

EVAL_KEY = re.compile(r"^eval[_/](.+)_loss$")
TOTAL_KEYS = ("eval_loss", "eval/loss")


def _text(path, what: str) -> str:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {what}: {err.strerror}", path) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.start})", path) from None


def _csv(path, what: str) -> tuple[list, list, list]:
    """(header, records as dicts, line numbers) of a comma-separated file."""
    text = _text(path, what)
    if not text.strip():
        raise InputError("empty file", path)
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader)]
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        raise InputError("the header has one column: use ',' as the delimiter", path, 1)
    seen = set()
    for h in header:
        if h in seen:
            raise InputError("duplicate column", path, 1, h)
        seen.add(h)
    records, rows = [], []
    for cells in reader:
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise InputError(
                f"has {len(cells)} cells, the header has {len(header)}", path, reader.line_num
            )
        records.append(dict(zip(header, cells)))
        rows.append(reader.line_num)
    if not records:
        raise InputError("no rows (the file has a header only)", path)
    return header, records, rows


def read_manifest(path) -> tuple[list, list, list, list]:
    """(header, records, rows, run ids) of a manifest: ``run``, ``n:<domain>``..., ``seed``."""
    header, records, rows = _csv(path, "the manifest")
    if "run" not in header:
        raise InputError("the manifest needs a 'run' column", path, 1)
    for h in header:
        if h not in ("run", "seed") and not h.startswith("n:"):
            raise InputError("manifest columns are run, n:<domain> and seed", path, 1, h)
    runs = []
    for rec, row in zip(records, rows):
        run = rec["run"].strip()
        if not run:
            raise InputError("empty run id", path, row, "run")
        if run in runs:
            first = rows[runs.index(run)]
            raise InputError(f"duplicate run id {run!r} (first at row {first})", path, row, "run")
        runs.append(run)
    return header, records, rows, runs


def _table(manifest, header, records, rows, losses: dict) -> PilotTable:
    """The pilot table: the manifest's amounts (checked by the pilot reader's rules, errors
    naming the manifest) and ``losses {name: [R]}`` already checked against their source."""
    if not losses:
        raise InputError("no eval losses found for any run of the manifest", manifest)
    names = sorted(losses)
    full = header + [f"loss:{n}" for n in names]
    cell = lambda x: "" if math.isnan(x) else repr(float(x))  # noqa: E731
    recs = [
        {**rec, **{f"loss:{n}": cell(losses[n][r]) for n in names}} for r, rec in enumerate(records)
    ]
    return build_table(full, recs, rows, manifest, parse_number)


def _loss(value, path, row, column) -> float:
    """A finite positive loss from a JSON number or a CSV cell; NaN when empty."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "nan")):
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(f"{value!r} is not a number", path, row, column)
    try:
        x = float(value)
    except ValueError:
        raise InputError(f"{value!r} is not a number", path, row, column) from None
    if not math.isfinite(x) or x <= 0:
        raise InputError(f"loss must be a finite number > 0, got {value!r}", path, row, column)
    return x


def _state_file(folder: Path, run: str) -> Path:
    """The run folder's own ``trainer_state.json`` (the final state), else the one of the
    checkpoint with the largest ``global_step``."""
    run_dir = folder / run
    if not run_dir.is_dir():
        raise InputError(f"no folder for run {run!r} of the manifest", run_dir)
    if (run_dir / "trainer_state.json").is_file():
        return run_dir / "trainer_state.json"
    files = sorted(run_dir.rglob("trainer_state.json"))
    if not files:
        raise InputError("no trainer_state.json in this run's folder", run_dir)
    return max(files, key=lambda f: _global_step(f))


def _global_step(path: Path) -> float:
    data = _load(path)
    step = data.get("global_step") if isinstance(data, dict) else None
    return float(step) if isinstance(step, (int, float)) else -1.0


def _load(path: Path):
    try:
        return json.loads(_text(path, "trainer_state.json"))
    except json.JSONDecodeError as err:
        raise InputError(
            f"invalid JSON: {err.msg} (column {err.colno})", path, err.lineno
        ) from None


def _history(path: Path) -> list:
    data = _load(path)
    history = data.get("log_history") if isinstance(data, dict) else None
    if not isinstance(history, list):
        raise InputError("no 'log_history' list (not a Trainer state file)", path)
    return history


def best_eval_losses(path) -> dict:
    """``{name: min loss}`` over a ``trainer_state.json``'s ``log_history``: the keys
    ``eval_<name>_loss`` give ``name``, ``eval_loss`` gives ``total``."""
    path = Path(path)
    out = {}
    for i, entry in enumerate(_history(path)):
        if not isinstance(entry, dict):
            continue
        for key, value in entry.items():
            m = EVAL_KEY.match(key)
            name = "total" if key in TOTAL_KEYS else (m.group(1) if m else None)
            if name is None:
                continue
            x = _loss(value, path, None, f"log_history[{i}].{key}")
            if not math.isnan(x):
                out[name] = min(out.get(name, math.inf), x)
    return out


def import_trainer_state(folder, manifest) -> PilotTable:
    """Pilot table from Hugging Face Trainer runs (see the module docstring).

    >>> import json, pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for run, (a, b) in {"r1": (1.2, 2.0), "r2": (1.1, 2.2)}.items():
    ...     (root / run).mkdir()
    ...     hist = [{"eval_a_loss": a + 0.1, "step": 1}, {"eval_a_loss": a, "eval_b_loss": b}]
    ...     _ = (root / run / "trainer_state.json").write_text(json.dumps({"log_history": hist}))
    >>> _ = (root / "m.csv").write_text("run,n:a,n:b\\nr1,10,10\\nr2,20,10\\n")
    >>> t = import_trainer_state(root, root / "m.csv")
    >>> t.runs, t.losses["a"].tolist(), t.losses["b"].tolist()
    (('r1', 'r2'), [1.2, 1.1], [2.0, 2.2])
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder of Trainer runs", folder)
    header, records, rows, runs = read_manifest(manifest)
    losses = {}
    for r, run in enumerate(runs):
        for name, x in best_eval_losses(_state_file(folder, run)).items():
            losses.setdefault(name, np.full(len(runs), np.nan))[r] = x
    return _table(manifest, header, records, rows, losses)


def wandb_columns(header) -> dict:
    """``{loss name: column}`` by the documented rule (``eval/<name>_loss``,
    ``eval_<name>_loss``; ``eval/loss``, ``eval_loss`` -> ``total``)."""
    out = {}
    for h in header:
        m = EVAL_KEY.match(h)
        name = "total" if h in TOTAL_KEYS else (m.group(1) if m else None)
        if name is not None:
            if name in out:
                raise InputError(
                    f"columns {out[name]!r} and {h!r} both give loss:{name}; "
                    "choose one with --loss-column"
                )
            out[name] = h
    return out


def import_wandb(export, manifest, run_column: str = "Name", columns=None) -> PilotTable:
    """Pilot table from a W&B runs-table CSV export (see the module docstring).

    Args:
      export: the CSV file W&B's runs table exports (one row per run).
      manifest: the manifest CSV of amounts.
      run_column: the export's column of run names, matched to the manifest's ``run``.
      columns: ``{loss name: export column}``; default :func:`wandb_columns`.
    """
    header, records, rows = _csv(export, "the W&B export")
    if run_column not in header:
        raise InputError(f"no run-name column {run_column!r} (set it with --run-column)", export, 1)
    if columns:
        for name, col in columns.items():
            if col not in header:
                raise InputError(f"--loss-column {name}={col}: no such column", export, 1, col)
    else:
        try:
            columns = wandb_columns(header)
        except InputError as err:
            raise InputError(err.message, export, 1) from None
        if not columns:
            raise InputError(
                "no eval/<domain>_loss or eval_<domain>_loss column; map columns with "
                "--loss-column domain=COLUMN",
                export,
                1,
            )
    by_name = {}
    for rec, row in zip(records, rows):
        name = rec[run_column].strip()
        if name in by_name:
            raise InputError(
                f"run {name!r} appears twice (first at row {by_name[name][1]})",
                export,
                row,
                run_column,
            )
        by_name[name] = (rec, row)
    m_header, m_records, m_rows, runs = read_manifest(manifest)
    losses = {name: np.full(len(runs), np.nan) for name in columns}
    for r, run in enumerate(runs):
        if run not in by_name:
            raise InputError(f"manifest run {run!r} is not in the W&B export", export)
        rec, row = by_name[run]
        for name, col in columns.items():
            losses[name][r] = _loss(rec[col], export, row, col)
    return _table(manifest, m_header, m_records, m_rows, losses)
