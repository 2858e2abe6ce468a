"""The SFT grid benchmark runs end to end in smoke mode and reports finite numbers."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
KEYS = (
    "recommended_regret_pct",
    "recommended_gap_pct",
    "oracle_gap_pct",
    "uniform_gap_pct",
    "uniform_regret_pct",
    "reference_gap_pct",
    "reference_regret_pct",
    "default_regret_pct",
    "swarm_default_regret_pct",
    "seed_noise_pct",
    "seed_se_avg_pct",
    "law_error_grid_pct",
    "wall_time_s",
)


def test_sft_grid_smoke(tmp_path):
    env = dict(os.environ, JAXMIX_SFT_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.sft_grid", "--smoke", "--out", str(tmp_path / "out")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "out" / "sft_grid.json").read_text())
    for key in KEYS:
        assert math.isfinite(res[key]), key
    assert len(res["grid"]["runs"]) == len(res["grid"]["weights"]) >= 3
    assert (tmp_path / "out" / "sft_grid.md").read_text().startswith("# SFT grid benchmark")
    for table, rows in (("sft_pilots.csv", 13), ("sft_swarm.csv", len(res["swarm"]["weights"]))):
        lines = (tmp_path / "out" / table).read_text().splitlines()
        assert lines[0].startswith("run,n:") and "loss:" in lines[0], table
        assert len(lines) == 1 + rows, table
    # every swarm run trains the budget, inside the grid's bounds
    amounts = np.array(res["swarm"]["amounts"])
    assert (amounts.sum(1) == res["budget"]).all()
    grid, swarm = np.array(res["grid"]["weights"]), np.array(res["swarm"]["weights"])
    assert grid.min() - 1e-9 <= swarm.min() and swarm.max() <= grid.max() + 1e-9
    assert res["default_action"] in ("keep", "shrink", "move")
