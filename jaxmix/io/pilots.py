"""Pilot table files: read, validate and write (CSV or JSON records).

Every check on user data happens here, before anything is traced, and fails with an
:class:`InputError` naming the file, the row (CSV line; header is line 1) and the column.
"""

from __future__ import annotations

import csv
import io
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from jaxmix.io.atomic import write_atomic
from jaxmix.status import InputError

# PilotTable and the paper's design live in jaxmix.table; their names stay importable here.
from jaxmix.table import DEFAULT_MULTIPLIERS as DEFAULT_MULTIPLIERS
from jaxmix.table import PilotTable as PilotTable
from jaxmix.table import plan as plan
from jaxmix.table import whole_amounts as whole_amounts

MAX_AMOUNT = 1e30  # larger amounts overflow the laws' powers in floating point


def parse_number(text: str, path, row, column, allow_empty: bool):
    text = text.strip()
    if text == "":
        if allow_empty:
            return math.nan
        raise InputError("empty cell; an amount is required", path, row, column)
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{text!r} is not a number", path, row, column) from None
    if not math.isfinite(value):
        raise InputError(f"{text!r} is not a finite number", path, row, column)
    return value


def _json_number(value, path, row, column, allow_empty: bool):
    if value is None or value == "":
        return parse_number("", path, row, column, allow_empty)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(f"{value!r} is not a number", path, row, column)
    return parse_number(str(value), path, row, column, allow_empty)


def _check_header(header: list, path) -> None:
    seen = set()
    for name in header:
        if not name:
            raise InputError("empty column name (a trailing ',' in the header?)", path, 1)
        if name in seen:
            raise InputError("duplicate column", path, 1, name)
        seen.add(name)
        if name in ("run", "seed"):
            continue
        if name.startswith(("n:", "loss:", "score:")):
            if not name.split(":", 1)[1].strip():
                raise InputError("column name has no domain after ':'", path, 1, name)
            continue
        raise InputError(
            "unknown column (expected run, seed, n:<domain>, loss:<name>, score:<name>)",
            path, 1, name,
        )
    domains = [h[2:] for h in header if h.startswith("n:")]
    if len(domains) < 2:
        raise InputError(
            f"needs n:<domain> columns for at least 2 domains, found {len(domains)}", path, 1
        )
    if not any(h.startswith(("loss:", "score:")) for h in header):
        raise InputError("no loss:<name> or score:<name> column", path, 1)
    losses = {h[5:] for h in header if h.startswith("loss:")}
    for h in header:
        if h.startswith("score:") and h[6:] in losses:
            raise InputError(
                f"{h[6:]!r} is both a loss and a score: name one of them differently",
                path, 1, h,
            )


def build_table(header: list, records: list, rows: list, path, parse) -> PilotTable:
    """Shared core of the CSV and JSON readers; ``records`` are dicts of raw cells."""
    _check_header(header, path)
    if not records:
        raise InputError("no pilot runs (the table has a header but no rows)", path)
    domains = tuple(h[2:] for h in header if h.startswith("n:"))
    loss_names = [h[5:] for h in header if h.startswith("loss:")]
    amounts = np.zeros((len(records), len(domains)))
    losses = {name: np.full(len(records), np.nan) for name in loss_names}
    score_names = [h[6:] for h in header if h.startswith("score:")]
    scores = {name: np.full(len(records), np.nan) for name in score_names}
    runs, seeds = [], []
    for r, (rec, row) in enumerate(zip(records, rows)):
        for j, d in enumerate(domains):
            value = parse(rec.get(f"n:{d}"), path, row, f"n:{d}", False)
            if value < 0:
                raise InputError(f"amount must be >= 0, got {value:g}", path, row, f"n:{d}")
            if value > MAX_AMOUNT:
                raise InputError(
                    f"amount {value:g} is too large to compute with (over {MAX_AMOUNT:g}); "
                    "write the amounts in a larger unit (e.g. millions of tokens)",
                    path, row, f"n:{d}",
                )
            amounts[r, j] = value
        if not amounts[r].sum() > 0:
            raise InputError("every amount of this run is 0", path, row, f"n:{domains[0]}")
        for name in loss_names:
            value = parse(rec.get(f"loss:{name}"), path, row, f"loss:{name}", True)
            if value <= 0:
                raise InputError(f"loss must be > 0, got {value:g}", path, row, f"loss:{name}")
            losses[name][r] = value
        for name in score_names:
            scores[name][r] = parse(rec.get(f"score:{name}"), path, row, f"score:{name}", True)
        run = rec.get("run")
        run = str(run).strip() if run not in (None, "") else f"run{r + 1}"
        runs.append(run)
        if "seed" in header:
            seed = rec.get("seed")
            try:
                seeds.append(int(str(seed).strip()) if seed not in (None, "") else 0)
            except ValueError:
                raise InputError(f"{seed!r} is not an integer seed", path, row, "seed") from None
    seen = {}
    for r, run in enumerate(runs):
        if run in seen:
            raise InputError(
                f"duplicate run id {run!r} (first at row {rows[seen[run]]})", path, rows[r], "run"
            )
        seen[run] = r
    return PilotTable(
        domains=domains,
        runs=tuple(runs),
        amounts=amounts,
        losses=losses,
        seeds=np.asarray(seeds, dtype=np.int64) if "seed" in header else None,
        path=None if path is None else str(path),
        rows=tuple(rows),
        scores=scores,
    )


def parse_pilots_csv(text: str, path=None) -> PilotTable:
    """Parse pilot CSV text (see :func:`read_pilots`)."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise InputError("empty file", path)
    reader = csv.reader(io.StringIO(text))
    records, rows = [], []
    try:
        header = [h.strip() for h in next(reader)]
        if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
            raise InputError("the header has one column: use ',' as the delimiter", path, 1)
        for cells in reader:
            row = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise InputError(f"has {len(cells)} cells, the header has {len(header)}", path, row)
            records.append(dict(zip(header, cells)))
            rows.append(row)
    except csv.Error as err:
        raise InputError(f"not a CSV table ({err})", path, max(reader.line_num, 1)) from None
    return build_table(header, records, rows, path, parse_number)


def parse_pilots_json(data, path=None) -> PilotTable:
    """Pilot table from a JSON list of records with the CSV's column names as keys."""
    if isinstance(data, dict) and "pilots" in data:
        data = data["pilots"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputError("expected a JSON list of run records (objects)", path)
    header = []
    for rec in data:
        header += [k for k in rec if k not in header]
    return build_table(header, data, list(range(1, len(data) + 1)), path, _json_number)


def decode_text(raw: bytes, path=None) -> str:
    """UTF-8 (with or without a BOM), or UTF-16 with its BOM; else an :class:`InputError`
    naming the line of the first byte that is not UTF-8."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as err:
            raise InputError(f"not valid UTF-16 text (byte {err.start})", path) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(
            f"not UTF-8 text (byte {err.start}); save the file as UTF-8", path, line
        ) from None


def read_pilots(path) -> PilotTable:
    """Read and validate a pilot table (CSV, or JSON list of records).

    Columns: ``run`` (optional id), ``n:<domain>`` (amount, >= 0; 0 leaves the domain out),
    ``loss:<name>`` (measured loss, > 0, empty when not measured), ``score:<name>`` (measured
    score, higher is better, any finite number or empty), ``seed`` (optional replicate).

    >>> from jaxmix import example_pilots
    >>> t = read_pilots(example_pilots("llama32_3b"))
    >>> t.domains, t.amounts.shape
    (('if', 'math', 'code'), (13, 3))
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path) from None
    text = decode_text(raw, path)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"invalid JSON: {err.msg}", path, err.lineno) from None
        return parse_pilots_json(data, path)
    return parse_pilots_csv(text, path)


def _format_amount(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))  # exact round trip


def pilots_to_csv(table: PilotTable) -> str:
    """CSV text of a table; missing losses are empty cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    targets = table.targets()
    cols = ["run"] + [f"n:{d}" for d in table.domains] + list(targets)
    if table.seeds is not None:
        cols.append("seed")
    writer.writerow(cols)
    for r, run in enumerate(table.runs):
        row = [run] + [_format_amount(a) for a in table.amounts[r]]
        row += ["" if math.isnan(v[r]) else repr(float(v[r])) for v in targets.values()]
        if table.seeds is not None:
            row.append(str(int(table.seeds[r])))
        writer.writerow(row)
    return out.getvalue()


def write_pilots(table: PilotTable, path) -> None:
    """Write a table atomically as CSV, or as a JSON list when ``path`` ends in ``.json``."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        records = []
        for r, run in enumerate(table.runs):
            rec = {"run": run}
            rec.update({f"n:{d}": float(a) for d, a in zip(table.domains, table.amounts[r])})
            rec.update(
                {
                    name: None if math.isnan(v[r]) else float(v[r])
                    for name, v in table.targets().items()
                }
            )
            if table.seeds is not None:
                rec["seed"] = int(table.seeds[r])
            records.append(rec)
        write_atomic(path, json.dumps(records, indent=1) + "\n")
    else:
        write_atomic(path, pilots_to_csv(table))


def parse_multipliers(text: str) -> tuple:
    """``"1/3,1/2,2,3"`` -> fractions; each must be positive and not 1."""
    out = []
    for part in text.split(","):
        try:
            m = Fraction(part.strip())
        except (ValueError, ZeroDivisionError):
            raise InputError(f"multiplier {part.strip()!r} is not a number or fraction") from None
        if m <= 0 or m == 1:
            raise InputError(f"multiplier {part.strip()} must be > 0 and != 1")
        out.append(m)
    if len(set(out)) != len(out):
        raise InputError("multipliers repeat a value")
    return tuple(out)
