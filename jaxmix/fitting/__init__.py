"""Pilots -> FitResult: checks, the joint and reference fits, stacking, the default fit."""
