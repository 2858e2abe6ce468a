"""JSON helpers of the fit and mixture files: plain JSON values from arrays and tuples, a
file read with one-line errors, and type checks of decoded lists."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from jaxmix.status import InputError


def clean(x):
    """JSON-safe copy: numpy scalars/arrays to Python, non-finite floats to None."""
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return clean(x.tolist())
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def all_str(x) -> bool:
    return isinstance(x, list) and all(isinstance(v, str) for v in x)


def read_json(path, what: str):
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


def all_int(x) -> bool:
    return isinstance(x, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in x)
