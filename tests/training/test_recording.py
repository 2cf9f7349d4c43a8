"""The recorder (training/recording.py) against the previous implementation, kept here (not in src/).

A float64 run must record every trace column as the previous recorder did, to 1e-12; a float32 run
evaluates the nets in float32 (recording.py, "Precision") and must agree to float32 rounding."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from nlbound.evaluation import metrics as M
from nlbound.networks import forward_many, layer_shapes, unpack
from nlbound.training import RunOptions, TrainConfig
from nlbound.training import run as run_module
from nlbound.training.flows import NetFlow, end_to_end
from nlbound.training.integrators import get_integrator, method_for_eps
from nlbound.training.recording import Recorder
from toy_data import toy_dataset

torch.set_num_threads(1)
DS = toy_dataset(m=400, d=6, m_test=200, seed=0)


def old_margin_summary(y, yhat, gammas):
    """metrics.margin_summary before the recorder rewrite (one band mask, a pass per gamma)."""
    z = np.multiply(y, yhat)
    m = z.shape[0]
    gammas = np.asarray(gammas, dtype=np.float64)
    neg = int(np.count_nonzero(z < 0))
    band = z[(z >= 0) & (z < gammas.max())]
    mr, cmr = np.empty(gammas.size), np.empty(gammas.size)
    for j, g in enumerate(gammas):
        b = band[band < g]
        mr[j] = (neg + b.size) / m
        cmr[j] = (neg + float(np.sum(1.0 - b / g))) / m
    return neg / m, mr, cmr


class OldRecorder:
    """training/run.py's _Recorder before it moved to training/recording.py (trace columns only)."""

    def __init__(self, config, ds, twin, twin_exact, out_dir: Path, info: dict):
        self.cfg, self.out_dir, self.info = config, out_dir, info
        self.twin, self.twin_exact = twin, twin_exact
        self.shapes = layer_shapes(ds.x_train.shape[1], config.width, config.depth)
        self.x_np = {"train": np.require(ds.x_train, np.float64, ["C", "W"]),
                     "test": np.require(ds.x_test, np.float64, ["C", "W"])}
        self.x = {k: torch.from_numpy(v) for k, v in self.x_np.items()}
        self.y = {"train": np.asarray(ds.y_train, dtype=np.float64), "test": np.asarray(ds.y_test, dtype=np.float64)}
        self.S = info.pop("_S")
        self.columns: dict[str, list] = {}
        self.work: dict = {}
        self.rounding = {"g1_train_max_abs_change": 0.0, "glin_train_max_abs_change": 0.0,
                         "g2_correction_train_max_abs_change": 0.0}

    def _outputs(self, thetas: list, split: str) -> np.ndarray:
        models = [[torch.from_numpy(np.ascontiguousarray(w)) for w in unpack(th, self.shapes)] for th in thetas]
        with torch.no_grad():
            return forward_many(models, self.x[split], self.cfg.eps, work=self.work).numpy()

    def _model_columns(self, row: dict, f: dict) -> None:
        y, gammas = self.y, self.cfg.gammas
        summ = {s: old_margin_summary(y[s], f[s], gammas) for s in ("train", "test")}
        row["train_risk"], row["test_risk"] = summ["train"][0], summ["test"][0]
        row["train_loss"], row["test_loss"] = M.loss(y["train"], f["train"]), M.loss(y["test"], f["test"])
        row["train_loss_X"] = M.loss_x(y["train"], f["train"], self.x_np["train"])
        for j, gamma in enumerate(gammas):
            for split in ("train", "test"):
                row[f"{split}_margin_risk@{gamma:.6g}"] = float(summ[split][1][j])
            for split in ("train", "test"):
                row[f"{split}_cmr@{gamma:.6g}"] = float(summ[split][2][j])

    def _norm_columns(self, row: dict, theta: np.ndarray) -> None:
        ws = unpack(theta, self.shapes)
        for l, w in enumerate(ws, start=1):
            row[f"W{l}_spec"], row[f"W{l}_fro"] = float(np.linalg.norm(w, 2)), float(np.linalg.norm(w))
        w1 = ws[0]
        row["W1X_fro_over_sqrt_m"] = float(math.sqrt(max(np.einsum("ij,jk,ik->", w1, self.S, w1), 0.0)))

    def _proxy_columns(self, row: dict, f: dict, g1: dict, i: int, g1_ex_train) -> None:
        p, y, xs = self.cfg.p, self.y, self.x_np
        theta0 = self.twin[i]
        v = end_to_end(unpack(theta0, self.shapes)).reshape(-1)
        w_exact = M.linear_correction(f["train"], g1["train"], xs["train"])
        w = M.round_to_precision(w_exact, p)
        lin = {s: xs[s] @ np.stack([v, w], axis=1) for s in ("train", "test")}
        glin = {s: np.ascontiguousarray(lin[s][:, 0]) for s in ("train", "test")}
        g2 = {s: g1[s] + lin[s][:, 1] for s in ("train", "test")}
        lin_risk = {s: M.risk(y[s], glin[s]) for s in ("train", "test")}
        row["lin_train_risk"], row["lin_test_risk"] = lin_risk["train"], lin_risk["test"]
        row["lin_train_loss"] = M.loss(y["train"], glin["train"])
        for name, g in (("g1", g1), ("g2", g2), ("glin", glin)):
            for split in ("train", "test"):
                row[f"{name}_{split}_dev"] = M.mean_abs_deviation(f[split], g[split])
            cmr = {s: old_margin_summary(y[s], g[s], self.cfg.gammas)[2] for s in ("train", "test")}
            for j, gamma in enumerate(self.cfg.gammas):
                for split in ("train", "test"):
                    row[f"{name}_{split}_cmr@{gamma:.6g}"] = float(cmr[split][j])
        if g1_ex_train is not None:
            r = self.rounding
            v_ex = end_to_end(unpack(self.twin_exact[i], self.shapes)).reshape(-1)
            r["g1_train_max_abs_change"] = max(r["g1_train_max_abs_change"],
                                               float(np.abs(g1_ex_train - g1["train"]).max()))
            r["glin_train_max_abs_change"] = max(r["glin_train_max_abs_change"],
                                                 float(np.abs(xs["train"] @ (v_ex - v)).max()))
            r["g2_correction_train_max_abs_change"] = max(r["g2_correction_train_max_abs_change"],
                                                          float(np.abs(xs["train"] @ (w - w_exact)).max()))

    def record(self, i: int, t: float, theta: np.ndarray) -> None:
        exact = self.twin_exact is not None
        train_out = self._outputs([theta, self.twin[i]] + ([self.twin_exact[i]] if exact else []), "train")
        test_out = self._outputs([theta, self.twin[i]], "test")
        f = {"train": train_out[0], "test": test_out[0]}
        g1 = {"train": train_out[1], "test": test_out[1]}
        row: dict = {"t": float(t)}
        self._model_columns(row, f)
        self._norm_columns(row, theta)
        self._proxy_columns(row, f, g1, i, train_out[2] if exact else None)
        for k, val in row.items():
            self.columns.setdefault(k, []).append(val)


def record_both(config: TrainConfig, tmp_path, ds=DS):
    """Train config's net once and feed every recorded state to the new and the old recorder."""
    theta0, times, twin, twin_exact, info, S, basis = run_module._prepare(config, ds, tmp_path)
    old = OldRecorder(config, ds, twin, twin_exact, tmp_path, {"_S": S})
    new = Recorder(config, ds, twin, twin_exact, tmp_path, S, basis)
    new.write_interval = math.inf
    flow = NetFlow(ds.x_train, ds.y_train, config.eps, config.width, config.depth, config.dtype)
    states = []

    def record(t, th):
        states.append(th.copy())
        new.record(len(states) - 1, t, th)
        old.record(len(states) - 1, t, th)

    get_integrator(config.integrator)(flow, theta0, times, record, rtol=config.rtol, atol=config.atol,
                                      method=method_for_eps(config.eps))
    return old, new, times, states


CFG = TrainConfig(dataset="synthetic", width=8, eps=0.1, beta=0.05, t_end=15.0,
                  gammas=(1e-6, 1e-4, 1e-2, 0.05, 0.3), dtype="float64")


@pytest.mark.parametrize("eps, p", [(0.1, 32), (0.5, 16), (0.0, 64)])
def test_float64_run_records_every_column_as_before(tmp_path, eps, p):
    old, new, times, _ = record_both(CFG.replace(eps=eps, p=p), tmp_path)
    n_old = len(old.columns)  # same columns, same order; then the run-time variant's and the p-bit term's
    prec = [k for k in new.columns if k.startswith("prox_")]  # inputs (new, after the rest; checked below)
    assert list(new.columns)[:n_old] == list(old.columns)
    assert sorted(list(new.columns)[n_old:]) == sorted([*RUNTIME, *prec])
    assert len(new.columns["t"]) == len(times)
    for k, ref in old.columns.items():
        np.testing.assert_allclose(new.columns[k], ref, rtol=1e-12, atol=1e-15, err_msg=k)
    if p < 64:  # the rounding diagnostic is now measured at the last recorded time (old: max over records)
        r = new.rounding
        assert r["measured_at_t"] == times[-1]
        for k in ("g1_train_max_abs_change", "glin_train_max_abs_change", "g2_correction_train_max_abs_change"):
            assert 0 < r[k] <= old.rounding[k] * (1 + 1e-12), k
    else:
        assert new.rounding == {}


RUNTIME = ("twin_W1_spec", "gap_W1_spec", "twin_W2_spec", "gap_W2_spec", "twin_W1X_fro_over_sqrt_m",
           "gap_W1X_fro_over_sqrt_m")


def test_runtime_columns_are_the_norms_of_the_weights_and_their_gap_to_the_twin(tmp_path):
    """gap_* = norms of W − W⁰ (W⁰: the linear twin at the same time), twin_* = norms of W⁰, computed
    here from the recorded states by SVD and by the data X̃ itself (the recorder uses its Gram matrix)."""
    config = CFG.replace(eps=0.1)
    _, new, times, states = record_both(config, tmp_path)
    twin = run_module._prepare(config, DS, tmp_path / "again")[2]
    shapes = layer_shapes(DS.d, config.width, config.depth)
    x, m = DS.x_train, DS.x_train.shape[0]
    for i, th in enumerate(states):
        ws, w0 = unpack(th, shapes), unpack(twin[i], shapes)
        for l in (1, 2):
            assert new.columns[f"gap_W{l}_spec"][i] == pytest.approx(np.linalg.svd(ws[l - 1] - w0[l - 1])[1][0], rel=1e-12)
            assert new.columns[f"twin_W{l}_spec"][i] == pytest.approx(np.linalg.svd(w0[l - 1])[1][0], rel=1e-12)
        assert new.columns["gap_W1X_fro_over_sqrt_m"][i] == pytest.approx(
            np.linalg.norm(x @ (ws[0] - w0[0]).T) / math.sqrt(m), rel=1e-10)
        assert new.columns["twin_W1X_fro_over_sqrt_m"][i] == pytest.approx(
            np.linalg.norm(x @ w0[0].T) / math.sqrt(m), rel=1e-10)
    assert new.columns["gap_W1_spec"][-1] > 0  # eps = 0.1: the net leaves its twin


def gamma_of(column: str) -> float:
    return float(column.rsplit("@", 1)[1])


def test_float32_run_records_to_float32_rounding(tmp_path):
    """Same states, nets evaluated in float32: every continuous column within float32 rounding of the
    float64 evaluation, counts off by at most one sample per split. Outputs carry an absolute error
    ~u32 * max|f| (u32 = 2^-24), so the deviation columns (differences of outputs, eq. 1) are
    compared at 16 u32 max|f|, L_X (a cancelling sum) at the matching first-order bound, the other
    continuous columns at 16 u32 relative."""
    old, new, _, states = record_both(CFG.replace(dtype="float32"), tmp_path)
    shapes = layer_shapes(DS.d, CFG.width, CFG.depth)
    x = torch.from_numpy(np.require(DS.x_train, np.float64, ["C", "W"]))
    f_max = max(float(forward_many([[torch.from_numpy(np.ascontiguousarray(w)) for w in unpack(th, shapes)]],
                                   x, CFG.eps).abs().max()) for th in states)
    u32 = 2.0**-24
    m = {"train": DS.x_train.shape[0], "test": DS.x_test.shape[0]}
    for k, ref in old.columns.items():
        got, ref = np.asarray(new.columns[k]), np.asarray(ref)
        split = "test" if "test" in k else "train"
        if k.endswith("risk") or "margin_risk" in k:  # counts / m
            assert np.all(np.abs(got - ref) <= 1 / m[split] + 1e-15), k
        elif "cmr" in k:  # mean of clip(1 - z/gamma): within 16 u32 max|f| / gamma, and at most one sample off
            np.testing.assert_allclose(got, ref, rtol=0, atol=1 / m[split] + 16 * u32 * f_max / gamma_of(k), err_msg=k)
        elif k == "train_loss_X":  # |d L_X| <= ||v|| ||df|| ||x|| / m with v = (y - f) x, ||x||_2 = sqrt(m)
            atol = 16 * u32 * f_max * np.sqrt(2 * m["train"] * ref)
            assert np.all(np.abs(got - ref) <= atol), k
        elif k.endswith("_dev"):
            np.testing.assert_allclose(got, ref, rtol=0, atol=16 * u32 * f_max, err_msg=k)
        else:
            np.testing.assert_allclose(got, ref, rtol=16 * u32, atol=0, err_msg=k)
    assert not all(np.array_equal(new.columns[k], old.columns[k]) for k in old.columns)  # float32 really used


def test_train_trace_identical_with_one_and_two_threads(tmp_path):
    """RunOptions.threads never changes a result: the same short run in two processes, 1 and 2 threads."""
    import subprocess
    import sys

    code = ("import sys; from nlbound.training import RunOptions, TrainConfig, train; "
            "train(TrainConfig(dataset='synthetic', width=32, eps=0.1, beta=0.05, t_end=1.5), None, "
            "RunOptions(out_dir=sys.argv[1], threads=int(sys.argv[2])))")
    for threads in (1, 2):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / f"t{threads}"), str(threads)], check=True)
    assert (tmp_path / "t1" / "trace.csv").read_bytes() == (tmp_path / "t2" / "trace.csv").read_bytes()
    assert RunOptions().threads == 1
