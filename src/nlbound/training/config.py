"""TrainConfig (what is trained: its key() names the run) and RunOptions (how, not changing the result)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from nlbound._validate import check_choice, check_in_range, check_integer

__all__ = ["TrainConfig", "RunOptions", "DATASETS", "DTYPES", "PRECISIONS", "DEFAULT_GAMMAS"]

DATASETS = ("mnist", "fashion", "synthetic")
DTYPES = ("float32", "float64")
PRECISIONS = (16, 32, 64)
DEFAULT_GAMMAS = (1e-6, 1e-4, 1e-2)


@dataclass(frozen=True)
class TrainConfig:
    """One training run of eq. 4. Fields follow docs/ARCHITECTURE.md; validated on construction.

    times: recording times (empty: 0, 25 log-spaced and 25 evenly spaced times up to t_end, plus
    t*_0.5). p: precision of the proxies' free parameters (see nlbound.training.run, "p-bit proxies").
    """

    dataset: str = "mnist"
    size: int = 7
    depth: int = 2
    width: int = 64
    eps: float = 0.01
    beta: float = 1e-3
    rank_one: bool = False
    init_seed: int = 0
    data_seed: int = 0
    integrator: str = "adaptive"
    lr: float = 1e-3
    rtol: float = 1e-4  # >= 10x closer to the flow than GD lr 1e-3 at t* for eps 0.01 and 0.5 (BENCHMARKS.md)
    atol: float = 1e-12
    dtype: str = "float32"
    t_end: float = 30.0
    times: tuple = ()
    gammas: tuple = DEFAULT_GAMMAS
    p: int = 32

    def __post_init__(self) -> None:
        from nlbound.training.integrators import INTEGRATORS

        check_choice("dataset", self.dataset, DATASETS)
        check_integer("size", self.size, 1)
        check_integer("depth", self.depth, 2)
        check_integer("width", self.width, 1)
        check_in_range("eps", self.eps, 0, 1)
        check_in_range("beta", self.beta, 0, lo_open=True)
        check_integer("init_seed", self.init_seed, 0)
        check_integer("data_seed", self.data_seed, 0)
        check_choice("integrator", self.integrator, INTEGRATORS)
        check_in_range("lr", self.lr, 0, lo_open=True)
        check_in_range("rtol", self.rtol, 0, lo_open=True)
        check_in_range("atol", self.atol, 0, lo_open=True)
        check_choice("dtype", self.dtype, DTYPES)
        check_in_range("t_end", self.t_end, 0, lo_open=True)
        check_choice("p", self.p, PRECISIONS)
        times = tuple(float(t) for t in self.times)
        gammas = tuple(float(g) for g in self.gammas)
        if times:
            check_in_range("times", times, 0, self.t_end)
        if not gammas:
            raise ValueError("gammas == (), must hold at least one margin threshold")
        check_in_range("gammas", gammas, 0, lo_open=True)
        for name, value in [("size", int(self.size)), ("depth", int(self.depth)), ("width", int(self.width)),
                            ("init_seed", int(self.init_seed)), ("data_seed", int(self.data_seed)),
                            ("eps", float(self.eps)), ("beta", float(self.beta)), ("lr", float(self.lr)),
                            ("rtol", float(self.rtol)), ("atol", float(self.atol)),
                            ("t_end", float(self.t_end)), ("p", int(self.p)),
                            ("rank_one", bool(self.rank_one)), ("times", times), ("gammas", gammas)]:
            object.__setattr__(self, name, value)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["times"], d["gammas"] = list(self.times), list(self.gammas)
        return d

    def key(self) -> str:
        """Stable sha256 hex digest of every field (floats by repr, so exact)."""
        payload = json.dumps({k: (repr(v) if isinstance(v, float) else
                                  [repr(e) for e in v] if isinstance(v, list) else v)
                              for k, v in self.as_dict().items()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class RunOptions:
    """How a run is executed; never changes its result. out_dir None: runs/<config key[:12]>."""

    out_dir: str | Path | None = None
    progress: bool = False
    device: str = "cpu"
    threads: int | None = 1  # 1 thread per process: measured fastest here, and results never depend on it
    data_dir: str | Path | None = None
    cache_dir: str | Path | None = None

    def __post_init__(self) -> None:
        check_choice("device", self.device, ("cpu",))
        if self.threads is not None:
            check_integer("threads", self.threads, 1)
