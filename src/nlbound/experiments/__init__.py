"""Declared experiments (Figures 1-9), the cached runner, plotting and the claims table."""
