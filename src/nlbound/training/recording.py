"""Recorder: every trace.csv column of a run at a recorded time, from one forward pass per net per split.

Cost per recorded time (7x7 MNIST, m = 60,000, width 64): ~1.3 float32 gradient evaluations for a
float32 run, ~2.5 for a float64 run (BENCHMARKS.md, "Recording cost per recorded time"). One blocked
forward pass per split of the two nets f (the trained net) and g1 (the eps-net with the p-bit linear
twin's weights, eq. 25), in the run's dtype (networks.forward_many); then everything else from those
outputs and small matrices: all margin statistics for every gamma at once (metrics.margin_summary:
a mask per gamma for a few, one searchsorted for many); glin = x v and the eq. 25 correction x w
from one (m, d) x (d, 2) product per split; L_X and w from one (2, m) x (m, d) product; weight
norms from the weights and S = X X^T / m (d x d).

Precision. The nets' outputs (f, g1) and the linear proxies' (glin = x v, x w) are computed in the
run's dtype (config.dtype, the dtype of the gradient passes): a float32 run's weights already carry
an error ~rtol >> 1e-7 from its float32 gradients, so float64 outputs would only resolve that error
more finely, at about twice the cost (BENCHMARKS.md). Float64 is kept where a metric needs it: every
sum over the samples is accumulated in float64 from the outputs -- risks are exact counts; losses,
deviations (eq. 1), L_X and the correction w of eq. 25 neither lose digits over 60,000 terms nor
depend on a BLAS's blocking or thread count -- and (Y - f) X~^T, (f - g1) X~^T use the float64
inputs, since L_X = ||(Y - f) X~^T||^2 / 2m cancels by orders of magnitude as the net fits the data.
Float32 outputs leave each output off by ~2^-24 max|f|: deviations are then exact to that absolute
level and L_X to its first-order bound (tests/training/test_recording.py). A float64 run records exactly as the
previous recorder did (the test keeps that recorder and checks every column to 1e-12).

p-bit rounding diagnostic (run.json["p_rounding"], p < 64): how far the rounding of c moved g1, glin
and the g2 correction, measured in float64 on the training set at the final recorded time (the
twins drift apart as they train; at every record it would cost two more float64 passes)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from nlbound._io import atomic_write_columns
from nlbound.evaluation import lemmas as LM
from nlbound.evaluation import metrics as M
from nlbound.evaluation import rounding as RD
from nlbound.networks import forward_many, layer_shapes, unpack
from nlbound.training.flows import end_to_end

__all__ = ["Recorder", "TrainingDivergedError"]

_TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}
SPLITS = ("train", "test")


class TrainingDivergedError(ValueError):
    """Weights or loss became NaN/inf; the trace recorded so far is kept on disk."""

    def __init__(self, t: float, out_dir: Path | None = None):
        self.t, self.out_dir = t, out_dir
        super().__init__(f"training diverged (non-finite weights or loss) at t == {t:g}"
                         + (f"; partial trace kept in {out_dir}" if out_dir else ""))


class Recorder:
    """Evaluates every trace column at a recorded time and keeps trace.csv current on disk
    (rewritten at most every `write_interval` seconds; train() calls write_trace() at the end, on
    divergence and on interrupt)."""

    write_interval = 2.0  # seconds between rewrites of trace.csv while running

    def __init__(self, config, ds, twin, twin_exact, out_dir: Path, S: np.ndarray, basis=None):
        self.cfg, self.out_dir = config, out_dir
        self.twin, self.twin_exact = twin, twin_exact
        self.shapes = layer_shapes(ds.x_train.shape[1], config.width, config.depth)
        self.dtype = _TORCH_DTYPES[config.dtype]
        self.x64 = {"train": np.require(ds.x_train, np.float64, ["C", "W"]),  # writable: torch shares it
                    "test": np.require(ds.x_test, np.float64, ["C", "W"])}
        self.x = {s: torch.from_numpy(v).to(self.dtype) for s, v in self.x64.items()}  # no copy for float64
        self.y = {"train": np.asarray(ds.y_train, dtype=np.float64), "test": np.asarray(ds.y_test, dtype=np.float64)}
        self.S = S  # X~ X~^T / m (the projector on the data's range; I when full rank)
        self.basis = basis  # orthonormal basis of that range where rank < d (p-bit coordinates on it)
        self.columns: dict[str, list] = {}
        self.work: dict = {}  # reusable blocked-forward buffers
        self.rounding: dict[str, float | None] = ({} if twin_exact is None else
                         {"g1_train_max_abs_change": None, "glin_train_max_abs_change": None,
                          "g2_correction_train_max_abs_change": None, "measured_at_t": None})
        self._last_write = -math.inf
        self._dirty = False
        self.last_theta: np.ndarray | None = None  # weights at the latest recorded time
        self.last_tangent: np.ndarray | None = None  # ∂θ/∂τ there (sensitivity runs)

    def _outputs(self, thetas: list, split: str, dtype=None) -> np.ndarray:
        """float64 outputs (K, m_split) of the nets with flat weights thetas, one blocked pass in `dtype`."""
        dtype = self.dtype if dtype is None else dtype
        x = self.x[split] if dtype == self.dtype else torch.from_numpy(self.x64[split]).to(dtype)
        models = [[torch.from_numpy(np.ascontiguousarray(w)).to(dtype) for w in unpack(th, self.shapes)]
                  for th in thetas]
        with torch.no_grad():
            out = forward_many(models, x, self.cfg.eps, work=self.work.setdefault(dtype, {}))
        return out.numpy().astype(np.float64)

    def _model_columns(self, row: dict, f: dict, resid_x: np.ndarray) -> None:
        """Risks, margin risks and continuous margin risks of f (Sec. 4), losses (eq. 4) and L_X (Fig. 7)."""
        y, gammas = self.y, self.cfg.gammas
        summ = {s: M.margin_summary(y[s], f[s], gammas) for s in SPLITS}
        row["train_risk"], row["test_risk"] = summ["train"][0], summ["test"][0]
        row["train_loss"], row["test_loss"] = M.loss(y["train"], f["train"]), M.loss(y["test"], f["test"])
        row["train_loss_X"] = float(resid_x @ resid_x) / (2 * y["train"].shape[0])  # = M.loss_x
        for j, gamma in enumerate(gammas):
            for split in SPLITS:
                row[f"{split}_margin_risk@{gamma:.6g}"] = float(summ[split][1][j])
            for split in SPLITS:
                row[f"{split}_cmr@{gamma:.6g}"] = float(summ[split][2][j])

    def _norm_columns(self, row: dict, theta: np.ndarray) -> None:
        """Spectral and Frobenius norms of W_1..W_L and ||W_1 X~||_F / sqrt(m) = sqrt(tr(W_1 S W_1^T))."""
        ws = unpack(theta, self.shapes)
        for l, w in enumerate(ws, start=1):
            row[f"W{l}_spec"], row[f"W{l}_fro"] = float(np.linalg.norm(w, 2)), float(np.linalg.norm(w))
        row["W1X_fro_over_sqrt_m"] = LM.data_fro(ws[0], gram=self.S)

    def _runtime_columns(self, row: dict, theta: np.ndarray, theta0: np.ndarray) -> None:
        """The measured norms of the run-time variant of Theorem 5.2 (nlbound.theory.runtime;
        docs/PROOFS.md "Run-time (a-posteriori) variant"), with W⁰ the linear twin's weights at the same
        t: twin_W{l}_spec = ‖W_l⁰‖, gap_W{l}_spec = ‖W_l − W_l⁰‖ (spectral), twin_W1X_fro_over_sqrt_m =
        ‖W₁⁰X̃‖_F/√m and gap_W1X_fro_over_sqrt_m = ‖(W₁ − W₁⁰)X̃‖_F/√m."""
        ws, w0 = unpack(theta, self.shapes), unpack(theta0, self.shapes)
        for l, (w, v) in enumerate(zip(ws, w0, strict=True), start=1):
            row[f"twin_W{l}_spec"] = float(np.linalg.norm(v, 2))
            row[f"gap_W{l}_spec"] = float(np.linalg.norm(w - v, 2))
        row["twin_W1X_fro_over_sqrt_m"] = LM.data_fro(w0[0], gram=self.S)
        row["gap_W1X_fro_over_sqrt_m"] = LM.data_fro(ws[0] - w0[0], gram=self.S)

    def _sensitivity_columns(self, row: dict, theta: np.ndarray, tangent: np.ndarray) -> None:
        """Lemma 7.1's measured tangent norms at τ = ε: ‖∂W_l/∂τ‖ (spectral) and ‖∂(W_1X̃)/∂τ‖_F/√m
        (compared with v(t), eq. 10; ‖W_l‖ and ‖W_1X̃‖_F/√m, compared with u(t) and ρu(t), eq. 9,
        are the W{l}_spec and W1X_fro_over_sqrt_m columns)."""
        norms = LM.layer_norms(unpack(theta, self.shapes), unpack(tangent, self.shapes), gram=self.S)
        for l, value in enumerate(norms["dW_spec"], start=1):
            row[f"dW{l}_spec"] = float(value)
        row["dW1X_fro_over_sqrt_m"] = norms["dW1X"]

    def _proxy_columns(self, row: dict, f: dict, g1: dict, v: np.ndarray, w: np.ndarray) -> None:
        """Columns of the proxies g1, g2 = g1 + x w (eq. 25) and glin = x v: deviations from f (eq. 1)
        and continuous margin risks, and glin's risks and training loss."""
        y = self.y
        vw = torch.from_numpy(np.stack([v, w], axis=1)).to(self.dtype)  # glin = x v and the correction x w
        with torch.no_grad():  # (m, d) x (d, 2): 1.5x faster here than (2, d) x (d, m)
            lin = {s: torch.mm(self.x[s], vw).numpy().T.astype(np.float64) for s in SPLITS}
        glin = {s: lin[s][0] for s in SPLITS}
        g2 = {s: g1[s] + lin[s][1] for s in SPLITS}  # = M.g2_outputs(g1[s], x, w)
        summ = {name: {s: M.margin_summary(y[s], g[s], self.cfg.gammas) for s in SPLITS}
                for name, g in (("g1", g1), ("g2", g2), ("glin", glin))}
        row["lin_train_risk"], row["lin_test_risk"] = summ["glin"]["train"][0], summ["glin"]["test"][0]
        row["lin_train_loss"] = M.loss(y["train"], glin["train"])
        for name, g in (("g1", g1), ("g2", g2), ("glin", glin)):
            for split in SPLITS:
                row[f"{name}_{split}_dev"] = M.mean_abs_deviation(f[split], g[split])
            for j, gamma in enumerate(self.cfg.gammas):
                for split in SPLITS:
                    row[f"{name}_{split}_cmr@{gamma:.6g}"] = float(summ[name][split][2][j])

    def _precision_columns(self, row: dict, i: int, theta0: np.ndarray, r: np.ndarray) -> None:
        """The inputs of the p-bit term (theory.precision, docs/PROOFS.md step P) at this time:
        prox_dv = ‖v − ṽ‖, prox_dv_range = ‖Pδv‖, prox_dv_perp = ‖(I−P)δv‖, prox_nlip = N (eq. P2),
        from the exact twin against the p-bit one, and prox_r = ‖w̃' − w̃‖ (the correction's rounding).
        All exactly 0 where nothing is rounded (p = 64: no exact twin is kept)."""
        if self.twin_exact is None:
            consts = {"dv": 0.0, "dv_range": 0.0, "dv_perp": 0.0, "n_lip": 0.0}
        else:
            consts = RD.rounding_constants(unpack(self.twin_exact[i], self.shapes), unpack(theta0, self.shapes),
                                           self.cfg.eps, self.S)
        for k in ("dv", "dv_range", "dv_perp"):
            row[f"prox_{k}"] = consts[k]
        row["prox_nlip"], row["prox_r"] = consts["n_lip"], float(np.linalg.norm(r))

    def _measure_rounding(self, i: int, t: float, theta0: np.ndarray, v: np.ndarray, w: np.ndarray,
                          w_exact: np.ndarray) -> None:
        """run.json["p_rounding"]: max over the training inputs of |g - g_unrounded| for g1, glin and
        the g2 correction, in float64 (Lemma 7.2's p-bit parameters vs the exact ones)."""
        x = self.x64["train"]
        g1, g1_ex = self._outputs([theta0, self.twin_exact[i]], "train", torch.float64)
        v_ex = end_to_end(unpack(self.twin_exact[i], self.shapes)).reshape(-1)
        self.rounding.update(g1_train_max_abs_change=float(np.abs(g1_ex - g1).max()),
                             glin_train_max_abs_change=float(np.abs(x @ (v_ex - v)).max()),
                             g2_correction_train_max_abs_change=float(np.abs(x @ (w - w_exact)).max()),
                             measured_at_t=float(t))

    def record(self, i: int, t: float, theta: np.ndarray, tangent: np.ndarray | None = None) -> None:
        """Append the row of recorded time t (the i-th recording time) for the net's weights theta
        (and, for a sensitivity run, the tangent ∂θ/∂τ: columns after all others)."""
        if not np.all(np.isfinite(theta)):
            raise TrainingDivergedError(t, self.out_dir)
        theta0 = self.twin[i]
        out = {s: self._outputs([theta, theta0], s) for s in SPLITS}
        f = {s: out[s][0] for s in SPLITS}
        if not all(np.all(np.isfinite(f[s])) for s in SPLITS):
            raise TrainingDivergedError(t, self.out_dir)
        g1 = {s: out[s][1] for s in SPLITS}
        y, m = self.y["train"], self.y["train"].shape[0]
        # (Y - f) X~^T for L_X and (f - g1) X~^T for w (eq. 25, X~^+ = X~^T / m) from one product
        resid_x, corr_x = np.stack([y - f["train"], f["train"] - g1["train"]]) @ self.x64["train"]
        w_exact = corr_x / m  # = M.linear_correction(f, g1, x)
        w = M.round_in_basis(w_exact, self.cfg.p, self.basis)
        v = end_to_end(unpack(theta0, self.shapes)).reshape(-1)
        row: dict = {"t": float(t)}
        self._model_columns(row, f, resid_x)
        self._norm_columns(row, theta)
        self._proxy_columns(row, f, g1, v, w)
        self._runtime_columns(row, theta, theta0)
        self._precision_columns(row, i, theta0, w_exact - w)
        if tangent is not None:
            self._sensitivity_columns(row, theta, tangent)
        if self.twin_exact is not None and i == len(self.twin) - 1:
            self._measure_rounding(i, t, theta0, v, w, w_exact)
        for k, val in row.items():
            self.columns.setdefault(k, []).append(val)
        self.last_theta = np.array(theta, dtype=np.float64)
        self.last_tangent = None if tangent is None else np.array(tangent, dtype=np.float64)
        self._dirty = True
        if time.perf_counter() - self._last_write >= self.write_interval:
            self.write_trace()

    def write_trace(self) -> None:
        if self.columns and self._dirty:
            atomic_write_columns(self.out_dir / "trace.csv", self.columns)
            self._dirty = False
        self._last_write = time.perf_counter()

    def trace(self) -> dict:
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.columns.items()}
