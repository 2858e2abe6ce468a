"""A pilot table from a fixed-budget swarm: Olmix's ``ratios.csv`` and ``metrics.csv``, or
RegMix's mixture and loss CSVs (:func:`import_regmix`).

Olmix writes a swarm as two CSV files joined on the ``run`` column: the **ratios** (one
column per training domain, the share of the run's tokens from it) and the **metrics** (one
column per evaluation task). Both carry bookkeeping columns (an unnamed pandas index,
``name``, ``index``) that are skipped. The swarm trains every run on the same number of
tokens, so each run's amounts are its ratios (renormalized to sum to 1) times ``budget``.
Each metric becomes a ``loss:<metric>`` target (Olmix's metrics are bits per byte: lower is
better), or ``score:<metric>`` with ``kind="score"`` (higher is better).

A ratios run with no metrics row keeps empty target cells; a metrics row whose run is not
in the ratios is an error, as is any cell that is not a number, a negative share, or a run
with every share 0. Errors are :class:`InputError` naming the file, row (CSV line; the
header is line 1) and column.
"""

from __future__ import annotations

import math

from jaxmix.io.importers import _csv, _loss
from jaxmix.io.pilots import PilotTable, build_table, parse_number
from jaxmix.status import InputError

SKIP = ("", "name", "index")  # pandas index and Olmix's bookkeeping columns
KINDS = ("loss", "score")


def _columns(header, path, what: str, key: str, skip) -> list:
    if key not in header:
        raise InputError(f"the {what} need a {key!r} column (the join key)", path, 1)
    cols = [h for h in header if h not in skip and h != key]
    if not cols:
        raise InputError(f"no {what} columns besides {', '.join(repr(s) for s in (key, *skip))}",
                         path, 1)
    return cols


def _runs(records, rows, path, key: str) -> dict:
    """``{run id: index}``, with one-line errors for an empty or repeated id."""
    seen = {}
    for i, (rec, row) in enumerate(zip(records, rows)):
        run = rec[key].strip()
        if not run:
            raise InputError("empty run id", path, row, key)
        if run in seen:
            raise InputError(f"duplicate run id {run!r} (first at row {rows[seen[run]]})", path,
                             row, key)
        seen[run] = i
    return seen


def _metric(text, path, row, column, kind: str) -> float:
    if kind == "loss":
        return _loss(text, path, row, column)
    return parse_number(text, path, row, column, True)


def import_olmix(ratios, metrics, budget: float, kind: str = "loss") -> PilotTable:
    """The pilot table of an Olmix swarm: amounts ``ratio * budget``, one target per metric.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "r.csv").write_text(",run,name,index,web,code\\n0,a,x,0,0.75,0.25\\n"
    ...                              "1,b,y,1,0.5,0.5\\n")
    >>> _ = (d / "m.csv").write_text(",run,name,index,arc:bpb\\n0,b,y,1,1.25\\n0,a,x,0,1.5\\n")
    >>> t = import_olmix(d / "r.csv", d / "m.csv", budget=100)
    >>> t.domains, t.runs, t.amounts.tolist(), t.losses["arc:bpb"].tolist()
    (('web', 'code'), ('a', 'b'), [[75.0, 25.0], [50.0, 50.0]], [1.5, 1.25])
    """
    return import_swarm(ratios, metrics, budget, kind)


def import_swarm(ratios, metrics, budget: float, kind: str = "loss", key: str = "run",
                 skip=SKIP, domain_of=str, metric_of=str, domain_losses: bool = False
                 ) -> PilotTable:
    """The pilot table of a fixed-budget swarm in two CSV files joined on ``key``: the
    ratios' columns (less ``skip``) are the domains, named ``domain_of(column)``; the
    metrics' columns are targets named ``metric_of(column)``. ``domain_losses``: a metric
    named as a domain is that domain's ``loss:<domain>`` (else it is an error: a swapped
    file). Shared by the Olmix and RegMix importers."""
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not (isinstance(budget, (int, float)) and math.isfinite(budget) and budget > 0):
        raise InputError(f"--budget: the swarm's tokens per run must be > 0, got {budget!r}")
    r_head, r_recs, r_rows = _csv(ratios, "the ratios")
    m_head, m_recs, m_rows = _csv(metrics, "the metrics")
    r_cols = _columns(r_head, ratios, "ratios", key, skip)
    m_cols = _columns(m_head, metrics, "metrics", key, skip)
    domains = [domain_of(c) for c in r_cols]
    names = [metric_of(c) for c in m_cols]
    for what, got, path in (("domain", domains, ratios), ("metric", names, metrics)):
        if len(set(got)) != len(got):
            raise InputError(f"two columns give the same {what} name", path, 1)
    clash = set(domains) & set(names)
    if clash and not (domain_losses and kind == "loss"):
        raise InputError(f"{sorted(clash)[0]!r} is both a ratio and a metric column", metrics, 1)
    index = _runs(r_recs, r_rows, ratios, key)
    _runs(m_recs, m_rows, metrics, key)
    shares = []
    for rec, row in zip(r_recs, r_rows):
        w = [parse_number(rec[c], ratios, row, c, False) for c in r_cols]
        for c, x in zip(r_cols, w):
            if x < 0:
                raise InputError(f"a share must be >= 0, got {x:g}", ratios, row, c)
        if not sum(w) > 0:
            raise InputError("every share of this run is 0", ratios, row, r_cols[0])
        shares.append([x / sum(w) for x in w])
    values = [[math.nan] * len(names) for _ in r_recs]
    for rec, row in zip(m_recs, m_rows):
        run = rec[key].strip()
        if run not in index:
            raise InputError(f"run {run!r} is not in the ratios file {ratios}", metrics, row, key)
        values[index[run]] = [_metric(rec[c], metrics, row, c, kind) for c in m_cols]
    header = ["run"] + [f"n:{d}" for d in domains] + [f"{kind}:{n}" for n in names]
    cell = lambda x: "" if math.isnan(x) else repr(float(x))  # noqa: E731
    records = [
        {"run": rec[key].strip(),
         **{f"n:{d}": repr(budget * s) for d, s in zip(domains, w)},
         **{f"{kind}:{n}": cell(v) for n, v in zip(names, vals)}}
        for rec, w, vals in zip(r_recs, shares, values)
    ]
    return build_table(header, records, r_rows, ratios, parse_number)


def _strip(text: str, prefix: str, suffix: str = "") -> str:
    text = text[len(prefix):] if text.startswith(prefix) else text
    return text[: -len(suffix)] if suffix and text.endswith(suffix) else text


def import_regmix(mixtures, losses, budget: float) -> PilotTable:
    """The pilot table of a RegMix sweep: its mixture CSV (``index``, ``train_<domain>``
    shares) and loss CSV (``index``, ``metric/<name>_val_loss``), joined on ``index``; a
    validation set named as a training domain gives ``loss:<domain>``, any other ``loss:<name>``.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "m.csv").write_text("index,train_a,train_b\\n1,0.25,0.75\\n2,0.5,0.5\\n")
    >>> _ = (d / "l.csv").write_text("index,metric/a_val_loss,metric/c_val_loss\\n2,3.0,4.0\\n")
    >>> t = import_regmix(d / "m.csv", d / "l.csv", budget=10)
    >>> t.domains, t.amounts.tolist(), t.losses["a"].tolist()[1], t.losses["c"].tolist()[1]
    (('a', 'b'), [[2.5, 7.5], [5.0, 5.0]], 3.0, 4.0)
    """
    return import_swarm(mixtures, losses, budget, "loss", key="index", skip=("",),
                        domain_of=lambda c: _strip(c, "train_"),
                        metric_of=lambda c: _strip(c, "metric/", "_val_loss"),
                        domain_losses=True)
