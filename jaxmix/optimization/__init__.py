"""FitResult -> Mixture: the solver, its certificate, the decision on the safe mixture."""
