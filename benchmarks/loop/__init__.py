"""The loop benchmark: regret after R runs of propose-train-refit, against random search and
Bayesian optimization (``python -m benchmarks.loop``)."""
