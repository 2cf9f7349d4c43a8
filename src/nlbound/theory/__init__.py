"""Closed-form side of the paper: Theorem 5.2, the training time t*_alpha, the beta -> 0 limits."""
