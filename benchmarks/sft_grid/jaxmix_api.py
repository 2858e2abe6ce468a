"""The benchmark's only contact with jaxmix: its command line, and the law's formula.

Every call runs `python -m jaxmix ...` in a subprocess, exactly as a user would.
"""

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, tries: int = 4, wait_s: float = 60.0) -> tuple[str, str]:
    """Run the jaxmix CLI as a user would: ``(stdout, stderr)``; a failure is retried (the
    package may be mid-edit in a checkout)."""
    for attempt in range(tries):
        proc = subprocess.run(
            [sys.executable, "-m", "jaxmix", *args], cwd=REPO, capture_output=True, text=True
        )
        if proc.returncode == 0:
            return proc.stdout, proc.stderr
        if attempt + 1 < tries:
            print(
                f"jaxmix {args[0]} failed, retrying in {wait_s:.0f}s: {proc.stderr.strip()[-300:]}",
                flush=True,
            )
            time.sleep(wait_s)
    raise RuntimeError(f"jaxmix {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")


def _cli(*args: str) -> str:
    return cli(*args)[0]


def version() -> dict:
    """The jaxmix source the benchmark ran against: git commit, and local edits in jaxmix/."""

    def git(*a):
        r = subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    status = git("status", "--porcelain", "--", "jaxmix", ":!jaxmix/examples/sft_pilots.csv")
    return {
        "commit": git("rev-parse", "HEAD"),
        "local_edits": bool(status) if status is not None else None,
    }


def plan(domains, base: int, multipliers: str, path: Path) -> list[dict]:
    """`jaxmix plan`; returns the planned rows (run id and amounts)."""
    _cli(
        "plan",
        "--domains",
        ",".join(domains),
        "--base",
        str(base),
        "--multipliers",
        multipliers,
        "-o",
        str(path),
    )
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fit(pilots: Path, method: str, path: Path) -> dict:
    """`jaxmix fit --method METHOD --law transfer` (the paper's law); returns the fit JSON."""
    _cli("fit", str(pilots), "--method", method, "--law", "transfer", "-o", str(path))
    return json.loads(path.read_text())


def optimize(fit_path: Path, budget: int, available: dict, path: Path) -> dict:
    """`jaxmix optimize --budget N --available d=m ...`; returns the mixture JSON."""
    caps = [a for d, m in available.items() for a in ("--available", f"{d}={m}")]
    _cli("optimize", str(fit_path), "--budget", str(budget), *caps, "-o", str(path))
    return json.loads(path.read_text())


def run(pilots: Path, budget: int, available: dict, path: Path) -> dict:
    """`jaxmix run` with its defaults (every law combined, then the decision against the
    safe mixture); returns the mixture JSON (``weights`` is what the decision trains)."""
    caps = [a for d, m in available.items() for a in ("--available", f"{d}={m}")]
    _cli("-q", "run", str(pilots), "--budget", str(budget), *caps, "-o", str(path))
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
