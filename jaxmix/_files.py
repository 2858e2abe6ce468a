"""Fit and mixture JSON files: encode, decode with full validation, write atomically."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from jaxmix import __version__
from jaxmix._atomic import write_atomic
from jaxmix._fitresult import FitResult, from_params
from jaxmix._laws import available_laws, get_law, row_names
from jaxmix._optimize import Mixture
from jaxmix._status import InputError


def _clean(x):
    """JSON-safe copy: numpy scalars/arrays to Python, non-finite floats to None."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _law_fields(fit: FitResult) -> dict:
    """``law`` and ``params`` of a fit file; a combination of laws is written as law
    ``"ensemble"`` with ``members`` (law and weight) and each domain's parameters per member."""
    if "(" not in fit.law:
        return {"law": fit.law, "params": fit.natural()}
    from jaxmix._decide import members_of

    members = members_of(fit)
    nats = {law: f.natural() for law, _, f in members}
    return {
        "law": "ensemble",
        "members": [{"law": law, "weight": a} for law, a, _ in members],
        "params": {d: {law: nats[law][d] for law in nats} for d in fit.domains},
    }


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
    return _clean(out)


def write_fit(fit: FitResult, path) -> None:
    """Write a fit file (the public ``law``/``domains``/``params`` format) atomically."""
    write_atomic(path, json.dumps(fit_to_dict(fit), indent=1) + "\n")


def fit_from_dict(data, path=None) -> FitResult:
    """Validate a fit file's content and build a :class:`FitResult` (method ``"given"`` when
    written by hand). Each error names the file and the JSON key."""
    if not isinstance(data, dict):
        raise InputError("a fit file must be a JSON object", path)
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
    values = {}
    for i, d in enumerate(domains):
        if not isinstance(params[d], dict):
            raise InputError("expected an object of parameters", path, None, f"params.{d}")
        row = {}
        for name in row_names(spec, domains, i):
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
    fit = from_params(values, law=law, domains=domains)
    rng = data.get("pilot_amount_range")
    if isinstance(rng, dict) and all(d in rng for d in domains):
        try:
            fit = fit._replace(amount_range=np.asarray([rng[d] for d in domains], dtype=float))
        except (TypeError, ValueError):
            pass
    bounds = data.get("at_bound")
    if isinstance(bounds, dict) and all(isinstance(bounds.get(d), dict) for d in domains):
        fit = fit._replace(at_bound={d: dict(bounds[d]) for d in domains})
    diagnostics = _diagnostics(data.get("diagnostics"), law, domains, path)
    warnings = data.get("warnings")
    warnings = tuple(warnings) if _all_str(warnings) else ()
    return fit._replace(
        method=data.get("method", "given"),
        target=data.get("target"),
        diagnostics=diagnostics,
        warnings=warnings,
    )


def _all_str(x) -> bool:
    return isinstance(x, list) and all(isinstance(v, str) for v in x)


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
    from jaxmix._decide import from_members

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
    return fit_from_dict(_json_file(path, "fit"), Path(path))


def mixture_to_dict(m: Mixture) -> dict:
    per = lambda a: dict(zip(m.domains, np.asarray(a).tolist()))  # noqa: E731
    out = {
        "budget": m.budget,
        "weights": per(m.weights),
        "amounts": per(m.amounts),
        "predicted_loss": per(m.predicted),
        "objective": m.objective,
        "importance": per(m.importance),
        "bounds": {"min": per(m.lower), "max": per(m.upper)},
        "binding": {d: b for d, b in zip(m.domains, m.binding) if b},
        "uniform": {
            "weights": per(np.full(len(m.domains), 1 / len(m.domains))),
            "predicted_loss": per(m.uniform_predicted),
            "objective": m.uniform_objective,
        },
        "certificate": m.certificate,
        "restart_status": np.asarray(m.restart_status).tolist(),
        "warnings": list(m.warnings),
        "jaxmix_version": __version__,
    }
    if m.constraints:
        out["constraints"] = m.constraints
    if m.decision is not None:
        out["decision"] = m.decision
    return _clean(out)


def mixture_json(m: Mixture, extra: dict | None = None) -> str:
    """The text of a mixture file; ``extra`` keys are merged in."""
    data = mixture_to_dict(m)
    data.update(_clean(extra or {}))
    return json.dumps(data, indent=1) + "\n"


def write_mixture(m: Mixture, path, extra: dict | None = None) -> None:
    """Write a mixture file atomically; ``extra`` keys are merged in."""
    write_atomic(path, mixture_json(m, extra))


def sweep_to_dict(domains, header: dict, res) -> str:
    """JSON text of a batched study: one record per problem."""
    per = lambda row: dict(zip(domains, np.asarray(row).tolist()))  # noqa: E731
    rows = [
        {
            "weights": per(res.weights[i]),
            "predicted_loss": per(res.predicted[i]),
            "objective": float(res.objective[i]),
            "gap": float(res.gap[i]),
        }
        for i in range(len(res.objective))
    ]
    data = _clean(
        {**header, "domains": list(domains), "results": rows, "jaxmix_version": __version__}
    )
    return json.dumps(data, indent=1) + "\n"


def _json_file(path, what: str):
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path) from None
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.start})", path) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            f"invalid JSON ({what} file): {err.msg} (column {err.colno})", path, err.lineno
        ) from None


def mixture_from_dict(data, path=None) -> Mixture:
    """A :class:`Mixture` from a mixture file's content (``weights`` and ``budget`` are
    required; the other fields are read where present, NaN or defaults otherwise)."""
    from jaxmix._export import read_mixture as _validated

    domains, weights, budget = _validated(data, path)
    k = len(domains)

    def per(key, default, sub=None):
        src = data.get(key)
        if sub is not None:
            src = src.get(sub) if isinstance(src, dict) else None
        out = np.full(k, float(default))
        if isinstance(src, dict):
            for i, d in enumerate(domains):
                v = src.get(d)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    out[i] = float(v)
        return out

    predicted = per("predicted_loss", np.nan)
    importance = per("importance", 1.0)
    uniform = data.get("uniform") if isinstance(data.get("uniform"), dict) else {}
    uniform_pred = per("uniform", np.nan, "predicted_loss")
    binding = data.get("binding") if isinstance(data.get("binding"), dict) else {}
    number = lambda v: float(v) if isinstance(v, (int, float)) else float("nan")  # noqa: E731
    return Mixture(
        domains=tuple(domains),
        budget=budget,
        weights=weights,
        amounts=weights * budget,
        predicted=predicted,
        objective=number(data.get("objective")),
        importance=importance,
        lower=per("bounds", 0.0, "min"),
        upper=per("bounds", 1.0, "max"),
        binding=tuple(str(binding.get(d, "")) for d in domains),
        uniform_predicted=uniform_pred,
        uniform_objective=number(uniform.get("objective")),
        certificate=data.get("certificate") if isinstance(data.get("certificate"), dict) else None,
        restart_status=np.asarray(data.get("restart_status") or [], dtype=np.int32)
        if _all_int(data.get("restart_status"))
        else np.zeros(0, np.int32),
        warnings=tuple(data["warnings"]) if _all_str(data.get("warnings")) else (),
        constraints=data.get("constraints") if isinstance(data.get("constraints"), dict) else None,
    )


def _all_int(x) -> bool:
    return isinstance(x, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in x)


def read_mixture(path) -> Mixture:
    """Read and validate a mixture file (from ``jaxmix optimize``/``run``, or by hand with
    ``weights`` and ``budget``) as a :class:`Mixture`.

    >>> import json, pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "mix.json"
    >>> _ = p.write_text(json.dumps({"budget": 100, "weights": {"a": 0.25, "b": 0.75}}))
    >>> m = read_mixture(p)
    >>> m.domains, m.amounts.tolist()
    (('a', 'b'), [25.0, 75.0])
    """
    return mixture_from_dict(_json_file(path, "mixture"), path)


def export_mixture(mixture, to: str, available=None, path=None) -> str:
    """A mixture (a :class:`Mixture` or the path of a mixture file) in the format ``to``
    of a fine-tuning framework: ``"counts"``, ``"hf"``, ``"llama-factory"`` or
    ``"open-instruct"`` (what ``jaxmix export`` writes). ``available`` (``{domain:
    amount}``) adds epochs to ``counts``. Writes ``path`` atomically when given; returns
    the text.

    >>> from jaxmix import from_params, optimize
    >>> fit = from_params({d: dict(C=1, k=0.3, alpha=0.5, beta=0.3, E=1) for d in "ab"})
    >>> print(export_mixture(optimize(fit, 10.0), "llama-factory"), end="")
    dataset: a,b
    mix_strategy: interleave_under
    interleave_probs: 0.500000,0.500000
    """
    from jaxmix._export import FORMATS, export_text

    if not isinstance(mixture, Mixture):
        mixture = read_mixture(mixture)
    if to not in FORMATS:
        raise InputError(f"unknown export format {to!r} (choose from {', '.join(FORMATS)})")
    domains = list(mixture.domains)
    for d in available or {}:
        if d not in domains:
            raise InputError(f"--available: unknown domain {d!r} (domains: {', '.join(domains)})")
    text = export_text(to, domains, np.asarray(mixture.weights, float), mixture.budget, available)
    if path is not None:
        write_atomic(path, text)
    return text
