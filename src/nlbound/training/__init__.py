"""Integrating the gradient flow of eq. 4: fixed-step GD, adaptive integrators, the linear twin."""
