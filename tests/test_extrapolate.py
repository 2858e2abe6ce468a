import numpy as np
from helpers import synthetic_table

import jaxmix


def test_law_data_passes_both_checks():
    fit = jaxmix.fit(synthetic_table(noise=1e-4, seed=2), check_extrapolation=True, law="transfer")
    ext = fit.diagnostics["extrapolation"]
    assert set(ext) == {"a", "b", "c"}
    for d in ext:
        assert ext[d]["extrapolation_error"] < 2e-3
    assert not [w for w in fit.warnings if "largest pilots" in w or "falls faster" in w]
    for d, s in fit.diagnostics["steepening"].items():
        assert abs(s["slope_measured"] - s["slope_fitted"]) < 0.01, d


def test_domain_bending_beyond_the_law_is_flagged():
    t = synthetic_table(noise=1e-4, seed=2)
    y = t.losses["b"].copy()
    b = t.amounts[:, 1]
    big = (b == b.max()) | (b == np.sort(np.unique(b))[-2])
    y[big] *= np.where(b[big] == b.max(), 0.93, 0.97)  # falls faster beyond the middle
    fit = jaxmix.fit(
        t._replace(losses={**t.losses, "b": y}), check_extrapolation=True, law="transfer"
    )
    assert any(w.startswith("b: fitted without its largest pilots") for w in fit.warnings)
    assert not any(w.startswith(("a:", "c:")) and "largest pilots" in w for w in fit.warnings)
    steep = fit.diagnostics["steepening"]["b"]
    assert steep["slope_measured"] < steep["slope_fitted"] - 0.02  # falls faster than the law


def test_check_is_off_by_default_in_the_library():
    fit = jaxmix.fit(synthetic_table(noise=1e-4, seed=2), law="transfer")
    assert fit.diagnostics["extrapolation"] == {}
