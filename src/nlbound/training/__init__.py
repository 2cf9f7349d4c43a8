"""Integrating the gradient flow of eq. 4: fixed-step GD, adaptive integrators, the linear twin."""

from nlbound.training.config import DEFAULT_GAMMAS, RunOptions, TrainConfig
from nlbound.training.flows import LinearTwinFlow, NetFlow, end_to_end
from nlbound.training.integrators import INTEGRATORS, IntegratorStats, get_integrator
from nlbound.training.parallel import train_many
from nlbound.training.run import (
    TrainingDivergedError,
    TrainResult,
    load_run,
    recording_times,
    t_star_default,
    train,
)

__all__ = [
    "DEFAULT_GAMMAS",
    "INTEGRATORS",
    "IntegratorStats",
    "LinearTwinFlow",
    "NetFlow",
    "RunOptions",
    "TrainConfig",
    "TrainResult",
    "TrainingDivergedError",
    "end_to_end",
    "get_integrator",
    "load_run",
    "recording_times",
    "t_star_default",
    "train",
    "train_many",
]
