"""Fit files of a target objective (``jaxmix fit --objective``): the target law of every
target, its fold fits and the runs it was fitted on, so that ``predict``, ``optimize`` and
``next`` answer from the file exactly as ``run`` does from the table.

The file is JSON with ``law`` ``"laws per target"`` (how :func:`is_target_fit` tells it
from a per-domain fit file; files of jaxmix before the effective-data law say
``"mixing_law per target"`` and are read as mixing laws), ``domains``, ``objective_spec``,
per target its family (``law``: ``mixing_law`` or ``effective_data``), its natural
parameters (``floor``, ``log_scale``, ``theta`` per domain, ``alpha``, ``gamma``,
``log_weight`` per domain), ``ridge``, ``cv_rmse`` and ``status``; the ``folds`` (held-out
run indices, each target's parameters and status); the
``runs`` (ids, ``[R, K]`` shares, ``[R, T]`` target values, null where missing); ``budget``,
``diff_rmse`` and ``objective_rmse``. Reading checks every field: a one-line
:class:`InputError` names the file and the key.
"""

from __future__ import annotations

import json
import math

import numpy as np

from jaxmix.fitting.targets import TargetFit
from jaxmix.io.atomic import write_atomic
from jaxmix.io.jsonfile import all_str, clean
from jaxmix.laws.targets import LAWS, TargetParams
from jaxmix.objective import parse_objective
from jaxmix.status import InputError
from jaxmix.version import __version__

TARGET_LAW = "laws per target"
OLD_TARGET_LAW = "mixing_law per target"  # files with mixing laws only (read as such)
KEYS = frozenset(
    "law domains objective_spec targets folds runs budget diff_rmse objective_rmse "
    "jaxmix_version warnings".split()
)


def is_target_fit(data) -> bool:
    """Whether decoded JSON ``data`` is a target fit file."""
    return isinstance(data, dict) and data.get("law") in (TARGET_LAW, OLD_TARGET_LAW)


def target_fit_to_dict(fit: TargetFit, runs, warnings=()) -> dict:
    """JSON-ready dict of ``fit``; ``runs``: the ids of its ``R`` runs."""
    cols, doms = fit.objective.columns, fit.domains
    p = fit.params

    def per_target(params, i, by_name: bool):
        named = (lambda v: dict(zip(doms, v))) if by_name else (lambda v: v)  # noqa: E731
        return {"floor": params.floor[i], "log_scale": params.log_scale[i],
                "theta": named(params.theta[i]), "alpha": params.alpha[i],
                "gamma": params.gamma[i], "log_weight": named(params.log_weight[i])}

    targets = {
        c: {"law": LAWS[int(fit.law[t])], **per_target(p, t, True), "ridge": fit.ridge[t],
            "cv_rmse": fit.cv_rmse[t], "status": int(fit.status[t])}
        for t, c in enumerate(cols)
    }
    fp = fit.fold_params
    folds = [
        {"held": np.flatnonzero(fit.held[f]).tolist(),
         "status": dict(zip(cols, np.asarray(fit.fold_status[f]).tolist())),
         "params": {c: per_target(fp, (f, t), False) for t, c in enumerate(cols)}}
        for f in range(fit.held.shape[0])
    ]
    return clean({
        "law": TARGET_LAW, "domains": list(doms), "objective_spec": fit.objective.spec(),
        "targets": targets, "folds": folds,
        "runs": {"ids": list(runs), "weights": fit.weights, "values": fit.values},
        "budget": fit.budget, "diff_rmse": fit.diff_rmse, "objective_rmse": fit.objective_rmse,
        "jaxmix_version": __version__, "warnings": list(warnings),
    })


def write_target_fit(fit: TargetFit, runs, path, warnings=()) -> None:
    """Write the target fit file atomically."""
    write_atomic(path, json.dumps(target_fit_to_dict(fit, runs, warnings), indent=1) + "\n")


def _number(x, path, key, ok=lambda v: True, allow_none=False) -> float:
    if x is None and allow_none:
        return math.nan
    number = isinstance(x, (int, float)) and not isinstance(x, bool)
    if not (number and math.isfinite(x) and ok(x)):
        what = "a finite number" + (" or null" if allow_none else "")
        raise InputError(f"expected {what}, got {x!r}", path, None, key)
    return float(x)


def _matrix(x, rows: int, cols: int, path, key, allow_none=False) -> np.ndarray:
    if not (isinstance(x, list) and len(x) == rows
            and all(isinstance(r, list) and len(r) == cols for r in x)):
        raise InputError(f"expected {rows} lists of {cols} numbers", path, None, key)
    out = [[_number(v, path, f"{key}[{i}][{j}]", allow_none=allow_none)
            for j, v in enumerate(r)] for i, r in enumerate(x)]
    return np.array(out, float).reshape(rows, cols)


def _per_domain(entry, name, domains, path, key, by_name: bool, default: float):
    """``[K]`` a per-domain field (by name or as a list); ``default`` when absent."""
    v = entry.get(name)
    if v is None and name != "theta":
        return np.full(len(domains), default)
    if by_name:
        if not isinstance(v, dict) or set(v) != set(domains):
            raise InputError(f"{name} needs one number per domain", path, None, f"{key}.{name}")
        return np.array([_number(v[d], path, f"{key}.{name}.{d}") for d in domains])
    return _matrix([v], 1, len(domains), path, f"{key}.{name}")[0]


def _params(entry, domains, path, key, theta_by_name: bool):
    """``(floor, log_scale, theta, alpha, gamma, log_weight)`` of one target; the
    effective-data fields default to the mixing law's (alpha 0)."""
    if not isinstance(entry, dict):
        raise InputError("expected an object with floor, log_scale and theta", path, None, key)
    floor = _number(entry.get("floor"), path, f"{key}.floor")
    scale = _number(entry.get("log_scale"), path, f"{key}.log_scale")
    th = _per_domain(entry, "theta", domains, path, key, theta_by_name, 0.0)
    alpha = (0.0 if entry.get("alpha") is None
             else _number(entry["alpha"], path, f"{key}.alpha", lambda v: v >= 0))
    gamma = (1.0 if entry.get("gamma") is None
             else _number(entry["gamma"], path, f"{key}.gamma", lambda v: 0 < v <= 1))
    lw = _per_domain(entry, "log_weight", domains, path, key, theta_by_name, 0.0)
    return floor, scale, th, alpha, gamma, lw


def _law_index(entry, path, key) -> int:
    name = entry.get("law", "mixing_law") if isinstance(entry, dict) else None
    if name not in LAWS:
        raise InputError(f"law must be one of {', '.join(LAWS)}", path, None, f"{key}.law")
    return LAWS.index(name)


def target_fit_from_dict(data, path=None) -> tuple:
    """``(TargetFit, run ids)`` from a target fit file's decoded JSON, every field checked."""
    if not is_target_fit(data):
        raise InputError(f"not a target fit file (law must be {TARGET_LAW!r})", path, None,
                         "law")
    for key in data:
        if key not in KEYS:
            raise InputError(f"unknown key (a typo? a target fit file has "
                             f"{', '.join(sorted(KEYS))})", path, None, key)
    domains = data.get("domains")
    if not (all_str(domains) and len(domains) >= 2 and len(set(domains)) == len(domains)):
        raise InputError("'domains' must list at least 2 distinct names", path, None, "domains")
    targets = data.get("targets")
    if not isinstance(targets, dict) or not targets:
        raise InputError("missing or empty 'targets' object", path, None, "targets")
    spec = data.get("objective_spec")
    if not isinstance(spec, str):
        raise InputError("expected the objective as text", path, None, "objective_spec")
    try:
        objective = parse_objective(spec, {c: None for c in targets})
    except InputError as err:
        raise InputError(err.message, path, None, "objective_spec") from None
    if set(objective.columns) != set(targets):
        raise InputError("the objective and 'targets' name different columns", path, None,
                         "objective_spec")
    cols = objective.columns
    full = [_params(targets[c], domains, path, f"targets.{c}", True) for c in cols]
    extra = {
        name: np.array([_number(targets[c].get(name), path, f"targets.{c}.{name}",
                                lambda v: v >= 0) for c in cols])
        for name in ("ridge", "cv_rmse", "status")
    }
    runs = data.get("runs")
    if not isinstance(runs, dict) or not all_str(runs.get("ids")) or not runs["ids"]:
        raise InputError("expected an object with the run ids, weights and values", path, None,
                         "runs")
    ids = runs["ids"]
    n, k, t = len(ids), len(domains), len(cols)
    weights = _matrix(runs.get("weights"), n, k, path, "runs.weights")
    values = _matrix(runs.get("values"), n, t, path, "runs.values", allow_none=True)
    if np.any(weights < 0) or np.any(np.abs(weights.sum(axis=1) - 1) > 1e-6):
        raise InputError("every run's shares must be >= 0 and sum to 1", path, None,
                         "runs.weights")
    folds = data.get("folds")
    if not isinstance(folds, list) or len(folds) < 2:
        raise InputError("expected a list of at least 2 folds", path, None, "folds")
    held = np.zeros((len(folds), n), bool)
    fold_params, fold_status = [], []
    for f, fold in enumerate(folds):
        key = f"folds[{f}]"
        rows = fold.get("held") if isinstance(fold, dict) else None
        if not (isinstance(rows, list) and rows
                and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n
                        for i in rows)):
            raise InputError(f"expected run indices in 0..{n - 1}", path, None, f"{key}.held")
        held[f, rows] = True
        params, status = fold.get("params"), fold.get("status")
        if not isinstance(params, dict) or set(params) != set(cols):
            raise InputError("expected the parameters of every target", path, None,
                             f"{key}.params")
        if not isinstance(status, dict) or set(status) != set(cols):
            raise InputError("expected the status of every target", path, None, f"{key}.status")
        fold_params.append([_params(params[c], domains, path, f"{key}.params.{c}", False)
                            for c in cols])
        fold_status.append([_number(status[c], path, f"{key}.status.{c}") for c in cols])
    stack = lambda ps, i: np.array([[p[i] for p in row] for row in ps])  # noqa: E731
    fit = TargetFit(
        domains=tuple(domains), objective=objective,
        params=TargetParams(*(stack([full], i)[0] for i in range(6))),
        fold_params=TargetParams(*(stack(fold_params, i) for i in range(6))),
        held=held, ridge=extra["ridge"], cv_rmse=extra["cv_rmse"],
        law=np.array([_law_index(targets[c], path, f"targets.{c}") for c in cols]),
        status=extra["status"].astype(np.int32), fold_status=np.array(fold_status, np.int32),
        weights=weights, values=values,
        budget=_number(data.get("budget"), path, "budget", lambda v: v > 0),
        diff_rmse=_number(data.get("diff_rmse"), path, "diff_rmse", allow_none=True),
        objective_rmse=_number(data.get("objective_rmse"), path, "objective_rmse",
                               allow_none=True),
    )
    return fit, tuple(ids)
