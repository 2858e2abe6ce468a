"""The benchmark's only contact with jaxmix: its command line, and the law's formula.

Every call runs `python -m jaxmix ...` in a subprocess, exactly as a user would.
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "jaxmix", *args], cwd=REPO, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"jaxmix {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def plan(domains, base: int, multipliers: str, path: Path) -> list[dict]:
    """`jaxmix plan`; returns the planned rows (run id and amounts)."""
    _cli("plan", "--domains", ",".join(domains), "--base", str(base), "--multipliers", multipliers,
         "-o", str(path))
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fit(pilots: Path, method: str, path: Path) -> dict:
    """`jaxmix fit --method METHOD`; returns the fit JSON."""
    _cli("fit", str(pilots), "--method", method, "-o", str(path))
    return json.loads(path.read_text())


def optimize(fit_path: Path, budget: int, available: dict, path: Path) -> dict:
    """`jaxmix optimize --budget N --available d=m ...`; returns the mixture JSON."""
    caps = [a for d, m in available.items() for a in ("--available", f"{d}={m}")]
    _cli("optimize", str(fit_path), "--budget", str(budget), *caps, "-o", str(path))
    return json.loads(path.read_text())


def predict(fit_json: dict, domains, amounts: np.ndarray) -> np.ndarray:
    """Transfer-law losses. amounts: [M, K] (same unit as the fit) -> [M, K].

    L_i = C_i (n_i + k_i (sum_{j != i} n_j)^alpha_i)^(-beta_i) + E_i
    """
    a = np.asarray(amounts, np.float64)
    out = np.empty_like(a)
    for i, d in enumerate(domains):
        p = fit_json["params"][d]
        other = a.sum(1) - a[:, i]
        out[:, i] = p["C"] * (a[:, i] + p["k"] * other ** p["alpha"]) ** (-p["beta"]) + p["E"]
    return out
