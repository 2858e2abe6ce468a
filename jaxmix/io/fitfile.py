"""Fit files: a :class:`FitResult` as JSON (natural parameters per domain, diagnostics,
warnings), decoded with full validation, written atomically."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from jaxmix.fitting.result import FitResult, from_params
from jaxmix.io.atomic import write_atomic
from jaxmix.io.jsonfile import all_str, clean, read_json
from jaxmix.laws.base import row_names
from jaxmix.laws.registry import available_laws, get_law
from jaxmix.status import InputError
from jaxmix.version import __version__


def _law_fields(fit: FitResult) -> dict:
    """``law`` and ``params`` of a fit file; a combination of laws is written as law
    ``"ensemble"`` with ``members`` (law and weight) and each domain's parameters per member."""
    if "(" not in fit.law:
        return {"law": fit.law, "params": fit.natural()}
    from jaxmix.fitting.combined import members_of

    members = members_of(fit)
    nats = {law: f.natural() for law, _, f in members}
    return {
        "law": "ensemble",
        "members": [{"law": law, "weight": a} for law, a, _ in members],
        "params": {d: {law: nats[law][d] for law in nats} for d in fit.domains},
    }


FIT_KEYS = frozenset(
    "law members params domains method target jaxmix_version status objective "
    "converged_share at_bound pilot_amount_range residuals diagnostics warnings".split()
)  # what write_fit writes; any other key in a fit file is an error (a typo)


def fit_to_dict(fit: FitResult) -> dict:
    out = {
        **_law_fields(fit),
        "domains": list(fit.domains),
        "method": fit.method,
        "target": fit.target,
        "jaxmix_version": __version__,
    }
    if fit.status is not None:
        out["status"] = dict(zip(fit.domains, np.asarray(fit.status).tolist()))
        out["objective"] = dict(zip(fit.domains, np.asarray(fit.objective).tolist()))
        out["converged_share"] = fit.converged_share()
    if fit.at_bound is not None:
        out["at_bound"] = fit.at_bound
    if fit.amount_range is not None:
        out["pilot_amount_range"] = {
            d: list(r) for d, r in zip(fit.domains, np.asarray(fit.amount_range))
        }
    if fit.residuals is not None:
        res = np.asarray(fit.residuals)
        out["residuals"] = {
            "max_abs_relative": dict(zip(fit.domains, np.nanmax(np.abs(res), axis=0))),
            "rms_relative": dict(zip(fit.domains, np.sqrt(np.nanmean(res**2, axis=0)))),
        }
    if fit.diagnostics:
        out["diagnostics"] = fit.diagnostics
    out["warnings"] = list(fit.warnings)
    return clean(out)


def write_fit(fit: FitResult, path) -> None:
    """Write a fit file (the public ``law``/``domains``/``params`` format) atomically."""
    write_atomic(path, json.dumps(fit_to_dict(fit), indent=1) + "\n")


def fit_from_dict(data, path=None) -> FitResult:
    """Validate a fit file's content and build a :class:`FitResult` (method ``"given"`` when
    written by hand). Each error names the file and the JSON key."""
    if not isinstance(data, dict):
        raise InputError("a fit file must be a JSON object", path)
    for key in data:
        if key not in FIT_KEYS:
            raise InputError(
                f"unknown key (a typo? a fit file has {', '.join(sorted(FIT_KEYS))})",
                path, None, key,
            )
    law = data.get("law", "transfer")
    if law == "ensemble":
        return _ensemble_from_dict(data, path)
    if law not in available_laws():
        raise InputError(
            f"unknown law {law!r} (known: {', '.join(available_laws())})", path, None, "law"
        )
    spec = get_law(law)
    params = data.get("params")
    if not isinstance(params, dict) or not params:
        raise InputError("missing or empty 'params' object", path, None, "params")
    domains = _domains(data, params, path)
    values = _natural_values(spec, params, domains, path)
    fit = _with_pilot_info(from_params(values, law=law, domains=domains), data, domains)
    diagnostics = _diagnostics(data.get("diagnostics"), law, domains, path)
    warnings = data.get("warnings")
    warnings = tuple(warnings) if all_str(warnings) else ()
    return fit._replace(
        method=data.get("method", "given"),
        target=data.get("target"),
        diagnostics=diagnostics,
        warnings=warnings,
    )


def _domains(data, params, path):
    """The checked ``domains`` list (default: the keys of ``params``)."""
    domains = data.get("domains", list(params))
    if (
        not isinstance(domains, list)
        or len(domains) < 2
        or not all(isinstance(d, str) and d for d in domains)
    ):
        raise InputError("'domains' must list at least 2 domain names", path, None, "domains")
    if len(set(domains)) != len(domains):
        raise InputError("'domains' repeats a name", path, None, "domains")
    for d in domains:
        if d not in params:
            raise InputError(f"no parameters for domain {d!r}", path, None, f"params.{d}")
    for d in params:
        if d not in domains:
            raise InputError(f"domain {d!r} is not in 'domains'", path, None, f"params.{d}")
    return domains


def _natural_values(spec, params, domains, path):
    """``{domain: {name: float}}`` natural parameters, checked against the law."""
    values = {}
    for i, d in enumerate(domains):
        if not isinstance(params[d], dict):
            raise InputError("expected an object of parameters", path, None, f"params.{d}")
        row = {}
        names = row_names(spec, domains, i)
        for name in params[d]:
            if name not in names:
                raise InputError(
                    f"unknown parameter of the {spec.name} law (a typo? its parameters: "
                    f"{', '.join(names)})", path, None, f"params.{d}.{name}",
                )
        for name in names:
            v = params[d].get(name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InputError(
                    f"{name} must be a finite number, got {v!r}", path, None, f"params.{d}.{name}"
                )
            row[name] = float(v)
        why = spec.check_natural(row)
        if why:
            raise InputError(why, path, None, f"params.{d}")
        values[d] = row
    return values


def _with_pilot_info(fit, data, domains):
    """The fit with the pilots' amount range and at-bound flags, where the file has them."""
    rng = data.get("pilot_amount_range")
    if isinstance(rng, dict) and all(d in rng for d in domains):
        try:
            fit = fit._replace(amount_range=np.asarray([rng[d] for d in domains], dtype=float))
        except (TypeError, ValueError):
            pass
    bounds = data.get("at_bound")
    if isinstance(bounds, dict) and all(isinstance(bounds.get(d), dict) for d in domains):
        fit = fit._replace(at_bound={d: dict(bounds[d]) for d in domains})
    return fit


def _diagnostics(diag, law, domains, path) -> dict | None:
    """The ``diagnostics`` of a fit file written by ``jaxmix fit``, kept so that a later
    ``optimize`` says what ``run`` says (the hold-out refit's sensitivity warning, the
    bootstrap's unidentified directions). Parts that do not check out are left out."""
    if not isinstance(diag, dict):
        return None
    out = dict(diag)
    held = out.get("holdout_params")
    if held is not None:
        try:
            held_law = "transfer" if law.startswith("ensemble(") else law  # see holdout_variant
            fit_from_dict({"law": held_law, "domains": list(domains), "params": held}, path)
        except InputError:
            out.pop("holdout_params")
    ident = out.get("identifiability")
    if ident is not None:
        try:
            for d in domains:
                for direction in ident.get(d, {}).get("directions", []):
                    assert isinstance(direction["kind"], str)
                    assert all(
                        isinstance(v, (int, float)) and math.isfinite(v)
                        for v in direction["vector"].values()
                    )
        except (AssertionError, AttributeError, KeyError, TypeError):
            out.pop("identifiability")
    return out


def _ensemble_from_dict(data, path) -> FitResult:
    """A combination of laws: ``members`` [{law, weight}], ``params`` {domain: {law: row}}."""
    from jaxmix.fitting.combined import from_members

    members = data.get("members")
    if not isinstance(members, list) or not members:
        raise InputError("a combination needs a 'members' list", path, None, "members")
    params = data.get("params")
    if not isinstance(params, dict) or not params:
        raise InputError("missing or empty 'params' object", path, None, "params")
    domains = data.get("domains", list(params))
    out = {}
    for j, m in enumerate(members):
        law, w = (m.get("law"), m.get("weight")) if isinstance(m, dict) else (None, None)
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0:
            raise InputError("weight must be a number >= 0", path, None, f"members[{j}].weight")
        if law == "ensemble" or law in out:
            raise InputError(f"bad member law {law!r}", path, None, f"members[{j}].law")
        rows = {
            d: (params[d].get(law) if isinstance(params[d], dict) else None) for d in params
        }
        sub = fit_from_dict({"law": law, "domains": domains, "params": rows}, path)
        out[law] = (float(w), sub.natural())
    if not sum(w for w, _ in out.values()) > 0:
        raise InputError("member weights sum to zero", path, None, "members")
    diag = data.get("diagnostics") if isinstance(data.get("diagnostics"), dict) else None
    fit = from_members(out, domains, diag)
    rng = data.get("pilot_amount_range")
    if isinstance(rng, dict) and all(d in rng for d in domains):
        try:
            fit = fit._replace(amount_range=np.asarray([rng[d] for d in domains], dtype=float))
        except (TypeError, ValueError):
            pass
    return fit._replace(method=data.get("method", "given"), target=data.get("target"))


def read_fit(path) -> FitResult:
    """Read and validate a fit file.

    >>> import json, pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "fit.json"
    >>> row = dict(C=1, k=0.2, alpha=0.5, beta=0.05, E=1)
    >>> _ = p.write_text(json.dumps({"law": "transfer", "params": {"a": row, "b": row}}))
    >>> read_fit(p).domains
    ('a', 'b')
    """
    return fit_from_dict(read_json(path, "fit"), Path(path))
