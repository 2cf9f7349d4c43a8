"""Bias-free L-layer leaky-ReLU networks (eqs. 2-3) and their initialisation."""
