"""Bias-free L-layer leaky-ReLU networks (eqs. 2-3) and their initialisation."""

from nlbound.networks.mlp import (
    autograd_loss_and_grads,
    forward,
    forward_many,
    frobenius_spectral_ratio,
    init_weights,
    layer_shapes,
    loss_and_grads,
    pack,
    unpack,
)

__all__ = [
    "autograd_loss_and_grads",
    "forward",
    "forward_many",
    "init_weights",
    "layer_shapes",
    "loss_and_grads",
    "pack",
    "frobenius_spectral_ratio",
    "unpack",
]
