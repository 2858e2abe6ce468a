"""Many fits and mixtures at once: sweeps, Pareto fronts, bootstrap, validation, next runs."""
