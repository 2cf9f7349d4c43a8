"""Integrating the gradient flow of eq. 4: fixed-step GD, adaptive integrators, the linear twin.

The configuration (`TrainConfig`, `RunOptions`) imports without torch; everything else is loaded
on first use (PEP 562), so that `nlbound --help` and config-only users do not pay torch's import.
"""

from importlib import import_module

from nlbound.training.config import DEFAULT_GAMMAS, RunOptions, TrainConfig

_LAZY = {
    "LinearTwinFlow": "flows", "NetFlow": "flows", "end_to_end": "flows",
    "INTEGRATORS": "integrators", "IntegratorStats": "integrators", "get_integrator": "integrators",
    "RunDirError": "rundir", "RunDirLockedError": "rundir", "run_dir": "rundir", "read_trace": "rundir",
    "TrainingDivergedError": "run", "TrainResult": "run", "load_run": "run",
    "recording_times": "run", "t_star_default": "run", "train": "run",
}

__all__ = ["DEFAULT_GAMMAS", "RunOptions", "TrainConfig", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(f"nlbound.training.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nlbound.training' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
