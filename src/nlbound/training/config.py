"""TrainConfig (what is trained: its key() names the run) and RunOptions (how, not changing the result)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np

from nlbound._validate import Boolean, Integral, Interval, Options, ParameterError, Real, validate_params
from nlbound.data.dataset import DATASETS
from nlbound.data.npz import PREFIX, DatasetName, canonical_positive, dataset_identity, file_sha256, is_npz, npz_path
from nlbound.data.transform import VALID_SIZES
from nlbound.theory import CONSTRAINTS as THEORY
from nlbound.training.adaptive import STIFFNESS
from nlbound.training.integrators import INTEGRATORS  # the registry owns the names

__all__ = ["TrainConfig", "RunOptions", "DTYPES", "PRECISIONS", "DEFAULT_GAMMAS", "LIMITS", "RTOL_BY_EPS",
           "default_rtol", "train_constraints"]

DTYPES = ("float32", "float64")
PRECISIONS = (16, 32, 64)
DEFAULT_GAMMAS = (1e-6, 1e-4, 1e-2)

# The adaptive integrator's default tolerance per regime (issue 10 item 2): (largest eps, rtol), first
# match. The rule: the loosest rtol of the measured sweep whose outputs at t* stay >= 10x closer to the
# float64 reference flow than the paper's GD (lr 1e-3) -- 7x7 MNIST, beta = 1e-3, `benchmarks/bench_train.py
# --section flow` (BENCHMARKS.md, its tolerance sweeps over 1e-3, 3e-4, 1e-4, 3e-5): at eps = 0.01,
# 1e-3 is 9.5x closer (too loose), 3e-4 is 35x; at eps = 0.5, 3e-4 is 4.4x and 1e-4 is 18x. Only eps =
# 0.01 and 0.5 were measured: eps <= 0.01 takes 3e-4, everything above keeps 1e-4 (the safe side).
RTOL_BY_EPS = ((0.01, 3e-4), (1.0, 1e-4))


def default_rtol(eps: float) -> float:
    """TrainConfig's rtol when none is given: RTOL_BY_EPS's first entry with eps <= its bound."""
    return next(rtol for bound, rtol in RTOL_BY_EPS if eps <= bound)

# Caps on the work a config may ask for, each with its reason. A value past a cap is refused up
# front (ParameterError) rather than run for hours, days or forever (inf, 1e300).
LIMITS = {
    # every forward pass holds an (m, width) float64 block per layer: 60000 x 4096 x 8 B = 2 GB
    "width": 4096,
    # t* grows like beta^-(L-2) (eq. 97): past L = 16 no horizon of interest is reachable
    "depth": 16,
    # the paper's regime is beta <= 1 (Sec. 6 uses beta <= 0.1); the flow's stiffness, hence the
    # adaptive step count, grows like beta^(2(L-1)): beta = 10 is already far outside it
    "beta": 10.0,
    # the longest horizon of the figures is ~1.2e6 (L = 4, 1.5 t*_0.5, figures.HORIZON)
    "t_end": 1e9,
    # gd takes t_end / lr steps, each a full gradient pass
    "gd_steps": 1e8,
    # each recording time costs forward passes over the train and test sets for f, g1, g2, glin
    "times": 10_000,
    "gammas": 100,
    # seeds of numpy's and torch's generators: a 32-bit range every one of them accepts
    "seed": 2**32 - 1,
}


@lru_cache(maxsize=None)
def train_constraints() -> dict:
    """The declarative constraint table of TrainConfig (nlbound._validate), caps from LIMITS."""
    return {
        "dataset": DatasetName(DATASETS),  # or npz:PATH, a researcher's own file (nlbound.data.npz)
        "size": Options(*VALID_SIZES),
        "depth": Interval(Integral, 2, LIMITS["depth"]),
        "width": Interval(Integral, 1, LIMITS["width"]),
        "eps": THEORY["eps"],  # the theory's [0, 1]: eps = 0 is the linear net
        "beta": Interval(Real, 0, LIMITS["beta"], closed="right"),
        "init_seed": Interval(Integral, 0, LIMITS["seed"]),
        "data_seed": Interval(Integral, 0, LIMITS["seed"]),
        "integrator": Options(*INTEGRATORS),
        "lr": Interval(Real, 0, None, closed="neither"),
        # below 1e-12 the float64 rounding of each step (~1e-16 relative) dominates the error estimate
        "rtol": Interval(Real, 1e-12, 1, closed="both"),
        "atol": Interval(Real, 0, 1, closed="right"),
        "dtype": Options(*DTYPES),
        "t_end": Interval(Real, 0, LIMITS["t_end"], closed="right"),
        "p": Options(*PRECISIONS),
        # 0: integrate to t_end; m >= 1: stop at the first recorded t >= m * t2 (training.stopping)
        "stop_phase3": Interval(Real, 0, 100, closed="both"),
        # integrate ∂θ/∂τ at τ = eps alongside θ (training.sensitivity); adaptive integrator only
        "sensitivity": Boolean(),
        # the Rosenbrock method the adaptive integrator switches to once its steps are stability-limited
        "stiffness": Options(*STIFFNESS),
        "gammas": Interval(Real, 0, None, closed="neither"),
        "number of gammas": Interval(Integral, 1, LIMITS["gammas"]),
        "number of times": Interval(Integral, 0, LIMITS["times"]),
    }


@dataclass(frozen=True)
class TrainConfig:
    """One training run of eq. 4. Fields follow docs/ARCHITECTURE.md; validated on construction.

    times: recording times (empty: 0, 25 log-spaced and 25 evenly spaced times up to t_end, plus
    t*_0.5). p: precision of the proxies' free parameters (see nlbound.training.run, "p-bit proxies").
    stop_phase3: 0 integrates to t_end (a cap); m > 0 ends the run at the first recorded t >= m * t2,
    t2 the start of App. B's phase 3 (nlbound.training.stopping); run.json["stopped"] says where.
    sensitivity: also integrate the tangent ∂θ^ε/∂τ (Lemma 7.1) and write its norms to the trace
    (nlbound.training.run, "Sensitivity"); adaptive integrator only. A field of the key only when
    True: as_dict() (hence key() and run.json) omits it when False, so every run cached before the
    field existed keeps its key.
    stiffness: "ignore" (default) or the Rosenbrock method ("ros2", "rodas3") that the adaptive
    integrator switches to once its explicit steps are stability-limited (nlbound.training.stiff; for
    deep nets past convergence, BENCHMARKS.md). Omitted from as_dict at "ignore", like sensitivity.
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
    rtol: float | None = None  # None: default_rtol(eps) (RTOL_BY_EPS, chosen by measurement)
    atol: float = 1e-12
    dtype: str = "float32"
    t_end: float = 30.0
    times: tuple = ()
    gammas: tuple = DEFAULT_GAMMAS
    p: int = 32
    stop_phase3: float = 0.0
    sensitivity: bool = False
    stiffness: str = "ignore"
    positive: tuple = ()  # npz datasets: the labels mapped to +1 (empty: the file's labels are ±1)
    data_sha256: str = ""  # npz datasets: sha256 of the file (computed when empty); the key names it, not the path
    _rtol_auto: ClassVar[bool]  # set per instance by _resolve_rtol (not a field)

    def __post_init__(self) -> None:
        self._resolve_rtol()
        self._resolve_npz()
        times = tuple(float(t) for t in self.times)
        gammas = tuple(float(g) for g in self.gammas)
        names = [n for n in train_constraints() if not n.startswith("number of")]
        validate_params(train_constraints(), {n: getattr(self, n) for n in names} | {
            "gammas": gammas, "number of gammas": len(gammas), "number of times": len(times)}, skip_none=False)
        validate_params({"times": Interval(Real, 0, float(self.t_end))}, {"times": times})
        if not isinstance(self.rank_one, (bool, np.bool_)) and self.rank_one not in (0, 1):
            raise ParameterError("rank_one", self.rank_one, "True or False")
        if self.integrator == "gd":  # at least one step, at most LIMITS["gd_steps"]
            t_end = float(self.t_end)
            validate_params({"lr": Interval(Real, t_end / LIMITS["gd_steps"], t_end)}, {"lr": self.lr})
        if self.sensitivity and self.integrator != "adaptive":
            raise ParameterError("sensitivity", True, f"False with integrator {self.integrator!r} "
                                 "(the tangent is integrated by the adaptive integrator only)")
        if self.stiffness != "ignore" and (self.integrator != "adaptive" or self.sensitivity):
            raise ParameterError("stiffness", self.stiffness, "'ignore' with integrator "
                                 f"{self.integrator!r}" if self.integrator != "adaptive" else
                                 "'ignore' with sensitivity=True (the tangent's flow has no exact "
                                 "Jacobian-vector product)")
        for name, value in [("size", int(self.size)), ("depth", int(self.depth)), ("width", int(self.width)),
                            ("init_seed", int(self.init_seed)), ("data_seed", int(self.data_seed)),
                            ("eps", float(self.eps)), ("beta", float(self.beta)), ("lr", float(self.lr)),
                            ("rtol", float(self.rtol)),  # type: ignore[arg-type]  # resolved above
                            ("atol", float(self.atol)),
                            ("t_end", float(self.t_end)), ("p", int(self.p)),
                            ("stop_phase3", float(self.stop_phase3)),
                            ("rank_one", bool(self.rank_one)), ("sensitivity", bool(self.sensitivity)),
                            ("stiffness", str(self.stiffness)),
                            ("times", times), ("gammas", gammas)]:
            object.__setattr__(self, name, value)

    def _resolve_npz(self) -> None:
        """An npz dataset: canonical positive labels and the file's content hash (read once, unless
        given, e.g. by a run.json: then the data layer checks it when the data are loaded); size keeps
        its default (an npz file's features are used as given). Other datasets: neither field."""
        if not is_npz(self.dataset):
            if self.positive or self.data_sha256:
                name = "positive" if self.positive else "data_sha256"
                raise ParameterError(name, getattr(self, name), f"empty with dataset {self.dataset!r} "
                                     "(it applies to npz:PATH datasets only)")
            return
        if self.size != 7:
            raise ParameterError("size", self.size, f"7 (the default) with dataset {self.dataset!r}: "
                                 "an npz file's features are used as given, without pooling")
        object.__setattr__(self, "dataset", PREFIX + os.path.abspath(npz_path(self.dataset)))  # run.json: from any cwd
        object.__setattr__(self, "positive", canonical_positive(self.positive or None))
        if not self.data_sha256:
            object.__setattr__(self, "data_sha256", file_sha256(self.dataset))

    def _resolve_rtol(self) -> None:
        """rtol None -> default_rtol(eps), stored, so key() and run.json name the number; the config
        remembers that it chose it (not a field: no part of eq, key or as_dict), so that replace()
        chooses again for a new eps. An eps that is not a number in [0, 1] is left to the validation."""
        auto = self.rtol is None
        object.__setattr__(self, "_rtol_auto", auto)
        if auto:
            try:
                eps = float(self.eps)
                rtol = default_rtol(eps) if 0 <= eps <= 1 else RTOL_BY_EPS[-1][1]
            except (TypeError, ValueError):
                rtol = RTOL_BY_EPS[-1][1]
            object.__setattr__(self, "rtol", rtol)

    @classmethod
    def from_dict(cls, info: dict) -> "TrainConfig":
        """The inverse of as_dict (e.g. from a run.json, whose config fields sit at the top level; other
        keys are ignored): a field as_dict omits when at its default (sensitivity, stiffness) may be absent."""
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in info and n not in _OMITTED_AT_DEFAULT]
        if missing:
            raise ValueError(f"run.json lacks the config fields {missing}: not a run directory of nlbound train")
        fields = {n: info[n] for n in names if n in info}
        fields["times"], fields["gammas"] = tuple(fields["times"]), tuple(fields["gammas"])
        if "positive" in fields:
            fields["positive"] = tuple(fields["positive"])
        return cls(**fields)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["times"], d["gammas"], d["positive"] = list(self.times), list(self.gammas), list(self.positive)
        for name, default in _OMITTED_AT_DEFAULT.items():  # keys and run.json of earlier runs unchanged
            if d[name] == default:
                del d[name]
        return d

    def key_fields(self) -> dict:
        """What the key hashes: as_dict(), an npz dataset named by its content (data_sha256, positive)
        instead of its path (dataset "npz"), so a moved or copied file keeps its runs."""
        return {**self.as_dict(), "dataset": dataset_identity(self.dataset)}

    def key(self) -> str:
        """Stable sha256 hex digest of every field of key_fields() (floats by repr, so exact)."""
        payload = json.dumps({k: (repr(v) if isinstance(v, float) else
                                  [repr(e) if isinstance(e, float) else e for e in v] if isinstance(v, list) else v)
                              for k, v in self.key_fields().items()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def replace(self, **changes) -> "TrainConfig":
        """A copy with `changes`; a config whose rtol was defaulted gets the default of its new eps
        (TrainConfig(eps=0.01).replace(eps=0.5).rtol == default_rtol(0.5)), an explicit rtol is kept; a
        new dataset gets its own content hash (and no positive labels unless it is an npz file)."""
        if self._rtol_auto and "rtol" not in changes:
            changes = {**changes, "rtol": None}
        if "dataset" in changes and changes["dataset"] != self.dataset:  # another file: hash it; not npz: no labels
            changes = {"data_sha256": "", **({} if is_npz(changes["dataset"]) else {"positive": ()}), **changes}
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class RunOptions:
    """How a run is executed; never changes its result. out_dir None: run_dir("runs", config) =
    runs/<config key>. progress_file: where train() keeps the current t (JSON, for a supervisor)."""

    out_dir: str | Path | None = None
    progress: bool = False
    device: str = "cpu"
    threads: int | None = 1  # 1 thread per process: measured fastest here, and results never depend on it
    data_dir: str | Path | None = None
    cache_dir: str | Path | None = None
    progress_file: str | Path | None = None

    def __post_init__(self) -> None:
        validate_params(_OPTION_CONSTRAINTS, {"device": self.device, "threads": self.threads})


# fields added after runs were cached: left out of as_dict at these values
_OMITTED_AT_DEFAULT = {"sensitivity": False, "stiffness": "ignore", "positive": [], "data_sha256": ""}
_OPTION_CONSTRAINTS = {"device": Options("cpu"), "threads": Interval(Integral, 1, 1024)}
