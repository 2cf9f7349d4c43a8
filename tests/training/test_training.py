"""Gradient-flow integrators, the linear twin, train()'s run directory, TrainConfig, and the CLI."""

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from nlbound.cli.main import main as cli_main
from nlbound.networks import init_weights, pack, unpack
from nlbound.training import (
    INTEGRATORS, LinearTwinFlow, NetFlow, RunOptions, TrainConfig, TrainingDivergedError, get_integrator,
    load_run, train,
)
from nlbound.training import run as run_module
from toy_data import toy_dataset

torch.set_num_threads(1)  # tiny problems: threads only add synchronisation overhead
DS = toy_dataset(m=400, d=6, m_test=200, seed=0)
# Kinks of the leaky ReLU make the flow's right-hand side only Lipschitz; with more points each
# kink is smaller, so a tight reference solution stays affordable.
DS_SMOOTH = toy_dataset(m=2000, d=6, m_test=10, seed=0)


def _solve(flow, theta0, times, name="adaptive", **kw):
    states = []
    get_integrator(name)(flow, theta0, times, lambda t, th: states.append(th.copy()), **kw)
    return np.array(states)


def test_saxe_closed_form_for_aligned_linear_init():
    """eps = 0, L = 2, init aligned with the SVD of Y X~^+ (footnote 4): ||W_l(t)||^2 follows
    eq. 14 read as u^2 (ERRATA 6): s e^{2st} / (e^{2st} - 1 + s/beta^2)."""
    x, y = DS.x_train, DS.y_train
    m, width, beta = x.shape[0], 8, 0.05
    c = y @ x / m
    s = np.linalg.norm(c)
    r = np.zeros(width)
    r[0] = 1.0
    w1, w2 = beta * np.outer(r, c / s), beta * r[None, :]
    flow = NetFlow(x, y, 0.0, width, 2, "float64")
    times = np.linspace(0, 4.0 / s, 9)
    states = _solve(flow, pack([w1, w2]), times, rtol=1e-9, atol=1e-14, h_min=0.0)
    exact = s * np.exp(2 * s * times) / (np.exp(2 * s * times) - 1 + s / beta**2)
    for th, u2 in zip(states, exact, strict=True):
        a, b = unpack(th, [(width, 6), (1, width)])
        assert np.linalg.norm(a, 2) ** 2 == pytest.approx(u2, rel=1e-7)
        assert np.linalg.norm(b, 2) ** 2 == pytest.approx(u2, rel=1e-7)
    assert exact[-1] > 0.9 * s  # the test covers the escape from the origin


def _flow_setup(eps=0.1, depth=2, width=8, beta=0.3, seed=0):
    flow = NetFlow(DS_SMOOTH.x_train, DS_SMOOTH.y_train, eps, width, depth, "float64")
    return flow, pack(init_weights(DS.d, width, depth, beta, seed=seed))


def _out(flow, theta):
    from nlbound.networks import forward
    ws = [torch.from_numpy(np.ascontiguousarray(w)) for w in unpack(theta, flow.shapes)]
    return forward(ws, flow.x, flow.eps).numpy()


def test_adaptive_matches_small_step_gd_and_gd_has_order_one():
    flow, th0 = _flow_setup()
    T = 4.0
    ref = _solve(flow, th0, [T], rtol=1e-8, atol=1e-15, h_min=0.0)[-1]
    f_ref = _out(flow, ref)
    scale = np.abs(f_ref).max()
    ad = _solve(flow, th0, [T], rtol=1e-6, atol=1e-12, h_min=0.0)[-1]
    gd = _solve(flow, th0, [T], name="gd", lr=1e-4)[-1]
    err_ad = np.abs(_out(flow, ad) - f_ref).max() / scale
    err_gd = np.abs(_out(flow, gd) - f_ref).max() / scale
    assert err_ad < 1e-5  # adaptive within its tolerance
    assert np.abs(_out(flow, ad) - _out(flow, gd)).max() / scale < 10 * err_gd + 1e-5  # and matches GD 1e-4
    errs = []
    for lr in (4e-3, 2e-3, 1e-3):
        errs.append(np.abs(_out(flow, _solve(flow, th0, [T], name="gd", lr=lr)[-1]) - f_ref).max())
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(orders - 1) < 0.15), orders


def test_every_adaptive_method_and_norm_follows_the_flow():
    flow, th0 = _flow_setup(eps=0.5)
    times = [1.0, 3.0]
    ref = [_out(flow, r) for r in _solve(flow, th0, times, rtol=1e-8, atol=1e-15, h_min=0.0, method="dopri5")]
    for method in ("bs3", "dopri5", "auto"):
        for norm in ("global", "componentwise"):
            log: list = []
            states = _solve(flow, th0, times, rtol=1e-4, atol=1e-12, h_min=0.0, method=method, norm=norm,
                            step_log=log)
            for th, f_ref in zip(states, ref, strict=True):
                assert np.abs(_out(flow, th) - f_ref).max() / np.abs(f_ref).max() < 3e-4, (method, norm)  # ~ rtol
            assert log and {m for *_, m in log} <= ({method} if method != "auto" else {"bs3", "dopri5"})


def test_adaptive_stats_work_cap_and_dense_output():
    flow, th0 = _flow_setup(eps=0.5)
    rec: list = []
    stats = get_integrator("adaptive")(flow, th0, [0.0, 0.37, 2.0], lambda t, th: rec.append(t), rtol=1e-6,
                                       method="bs3")
    d = stats.as_dict()
    assert rec == [0.0, 0.37, 2.0]
    assert d["grad_evals"] == 1 + 3 * (d["steps"] + d["rejected_steps"]) == d["evals_per_method"]["bs3"] + 1
    assert d["method"] == "bs3" and d["error_norm"] == "global"
    with pytest.raises(RuntimeError, match="max_grad_evals=20 at t="):
        get_integrator("adaptive")(flow, th0, [5.0], lambda t, th: None, rtol=1e-8, max_grad_evals=20)
    with pytest.raises(ValueError, match="method == 'rk4'"):
        get_integrator("adaptive")(flow, th0, [1.0], lambda t, th: None, method="rk4")


@pytest.mark.parametrize("depth", [2, 3])
def test_linear_twin_from_statistics_matches_full_data_flow(depth):
    x, y = DS.x_train, DS.y_train
    m = x.shape[0]
    full = NetFlow(x, y, 0.0, 8, depth, "float64")
    twin = LinearTwinFlow(y @ x / m, x.T @ x / m, 8, depth)
    th0 = pack(init_weights(DS.d, 8, depth, 0.3, seed=1))
    np.testing.assert_allclose(twin(th0), full(th0), rtol=1e-10, atol=1e-15)
    times = [0.5, 3.0, 8.0]
    a = _solve(full, th0, times, rtol=1e-10, atol=1e-15, h_min=0.0)
    b = _solve(twin, th0, times, rtol=1e-10, atol=1e-15, h_min=0.0)
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)


def test_linear_twin_handles_rank_deficient_data():
    ds = toy_dataset(m=300, d=6, rank=4, seed=2)
    x, y, m = ds.x_train, ds.y_train, 300
    S = x.T @ x / m
    np.testing.assert_allclose(S @ S, S, atol=1e-12)  # a projector, not I
    assert np.linalg.matrix_rank(S) == 4
    th0 = pack(init_weights(6, 5, 2, 0.5, seed=0))
    np.testing.assert_allclose(LinearTwinFlow(y @ x / m, S, 5, 2)(th0), NetFlow(x, y, 0.0, 5, 2, "float64")(th0),
                               rtol=1e-10, atol=1e-15)


def test_unknown_integrator_lists_valid_names():
    with pytest.raises(ValueError, match="adaptive"):
        get_integrator("euler")
    assert set(INTEGRATORS) >= {"gd", "adaptive"}


CFG = TrainConfig(dataset="synthetic", width=8, eps=0.1, beta=0.05, t_end=15.0)


def test_train_writes_every_contract_column(tmp_path):
    res = train(CFG, DS, RunOptions(out_dir=tmp_path / "run"))
    tr = res.trace
    g = [f"{v:.6g}" for v in CFG.gammas]
    expected = ["t", "train_risk", "test_risk", "train_loss", "test_loss", "train_loss_X",
                "W1_spec", "W1_fro", "W2_spec", "W2_fro", "W1X_fro_over_sqrt_m",
                "lin_train_risk", "lin_test_risk", "lin_train_loss"]
    expected += [f"{s}_{k}@{v}" for v in g for s in ("train", "test") for k in ("margin_risk", "cmr")]
    for p in ("g1", "g2", "glin"):
        expected += [f"{p}_train_dev", f"{p}_test_dev"]
        expected += [f"{p}_{s}_cmr@{v}" for v in g for s in ("train", "test")]
    assert set(expected) <= set(tr), set(expected) - set(tr)
    assert tr["t"][0] == 0 and tr["t"][-1] == CFG.t_end and np.all(np.diff(tr["t"]) > 0)
    assert tr["W1_spec"][0] == pytest.approx(CFG.beta)
    assert tr["train_loss"][-1] < tr["train_loss"][0]
    assert tr["train_loss_X"][-1] <= tr["train_loss_X"][0]  # Assumption 5.1 on this run
    assert np.all(tr["g2_train_dev"][1:] <= tr["g1_train_dev"][1:] + 1e-12)
    loaded = load_run(tmp_path / "run")
    assert set(loaded.trace) == set(tr)
    for k in tr:
        np.testing.assert_array_equal(loaded.trace[k], tr[k])
    info = loaded.info
    for k in ("rho", "s", "rank", "m", "m_test", "versions", "wall_s", "grad_evals", "status", "key",
              "integrator", "rtol", "p_rounding", "eps", "beta", "init_seed"):
        assert k in info, k
    assert info["status"] == "complete" and info["grad_evals"] < 2000
    assert info["p_rounding"]["g1_train_max_abs_change"] < 1e-5


def test_train_gd_and_adaptive_agree(tmp_path):
    cfg = CFG.replace(t_end=5.0, times=(1.0, 5.0), dtype="float64")
    a = train(cfg, DS, RunOptions(out_dir=tmp_path / "a"))
    b = train(cfg.replace(integrator="gd", lr=1e-3), DS, RunOptions(out_dir=tmp_path / "b"))
    assert b.info["grad_evals"] == 5000
    np.testing.assert_allclose(a.trace["train_loss"], b.trace["train_loss"], rtol=1e-3)


def test_p16_proxies_use_rounded_parameters(tmp_path):
    r16 = train(CFG.replace(p=16), DS, RunOptions(out_dir=tmp_path / "p16"))
    r64 = train(CFG.replace(p=64), DS, RunOptions(out_dir=tmp_path / "p64"))
    rnd = r16.info["p_rounding"]
    assert 0 < rnd["c_max_abs_change"] < 1e-3
    assert 0 < rnd["g1_train_max_abs_change"] < 1e-2
    assert r64.info["p_rounding"]["c_max_abs_change"] == 0
    np.testing.assert_array_equal(r16.trace["train_loss"], r64.trace["train_loss"])  # f itself unaffected
    assert not np.array_equal(r16.trace["glin_train_dev"], r64.trace["glin_train_dev"])


def test_divergence_keeps_partial_trace(tmp_path):
    cfg = TrainConfig(dataset="synthetic", width=8, eps=0.5, beta=3.0, integrator="gd", lr=0.5, t_end=200.0,
                      times=(0.5, 1.0, 200.0))
    with pytest.raises(TrainingDivergedError, match="diverged .* at t =="):
        train(cfg, DS, RunOptions(out_dir=tmp_path / "d"))
    res = load_run(tmp_path / "d", complete=False)
    assert res.info["status"] == "diverged"
    assert 1 <= len(res.trace["t"]) < 4 and res.trace["t"][0] == 0


def test_interrupt_keeps_partial_trace(tmp_path, monkeypatch):
    original = NetFlow.__call__

    def flaky(self, theta):
        if self.evals >= 60:
            raise KeyboardInterrupt
        return original(self, theta)

    monkeypatch.setattr(NetFlow, "__call__", flaky)
    with pytest.raises(KeyboardInterrupt):
        train(CFG, DS, RunOptions(out_dir=tmp_path / "i"))
    res = load_run(tmp_path / "i", complete=False)
    assert res.info["status"] == "interrupted" and len(res.trace["t"]) >= 1


def test_interrupt_before_the_first_record_leaves_an_interrupted_run(tmp_path, monkeypatch):
    """Interrupted before any row (t = 0 not yet recorded): the KeyboardInterrupt propagates (not a
    NameError hiding it) and the run directory exists, status interrupted, a header-only trace."""
    def interrupted_at_once(name):
        def run(fun, theta0, times, record, **kw):
            raise KeyboardInterrupt
        return run

    monkeypatch.setattr(run_module, "get_integrator", interrupted_at_once)
    out = tmp_path / "i0"
    with pytest.raises(KeyboardInterrupt):
        train(CFG, DS, RunOptions(out_dir=out))
    res = load_run(out, complete=False)
    assert res.info["status"] == "interrupted" and res.info["recorded"] == 0
    assert list(res.trace) == ["t"] and len(res.trace["t"]) == 0
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]  # no temporary directory left


def test_integrator_failure_keeps_partial_trace_with_status(tmp_path, monkeypatch):
    def capped(name):
        def run(fun, theta0, times, record, **kw):
            record(0.0, theta0)
            raise RuntimeError("adaptive integrator exceeded max_grad_evals=1 at t=0.5")
        return run

    monkeypatch.setattr(run_module, "get_integrator", capped)
    with pytest.raises(RuntimeError, match="max_grad_evals"):
        train(CFG, DS, RunOptions(out_dir=tmp_path / "f"))
    res = load_run(tmp_path / "f", complete=False)
    assert res.info["status"] == "failed" and "max_grad_evals=1" in res.info["error"]
    assert list(res.trace["t"]) == [0.0]


def test_config_key_stable_and_sensitive_to_every_field():
    key = CFG.key()
    assert len(key) == 64 and key == TrainConfig(**CFG.as_dict()).key()
    code = ("from nlbound.training import TrainConfig;"
            "print(TrainConfig(dataset='synthetic', width=8, eps=0.1, beta=0.05, t_end=15.0).key())")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == key
    changes = dict(dataset="mnist", size=14, depth=3, width=9, eps=0.3, beta=0.06, rank_one=True, init_seed=1,
                   data_seed=2, integrator="gd", lr=2e-3, rtol=1e-6, atol=1e-11, dtype="float64", t_end=16.0,
                   times=(1.0,), gammas=(0.1,), p=16, stop_phase3=1.5)
    assert set(changes) == set(CFG.as_dict())
    keys = {CFG.replace(**{k: v}).key() for k, v in changes.items()}
    assert len(keys) == len(changes) and key not in keys
    assert CFG.replace(eps=0.1).key() == key and TrainConfig(t_end=15).key() == TrainConfig(t_end=15.0).key()


def test_default_rtol_follows_eps_and_is_chosen_again_by_replace():
    """rtol None (the default) is default_rtol(eps) -- RTOL_BY_EPS, issue 10 item 2 -- stored as the number
    (a defaulted config and the explicit one are equal, same key); replace() chooses again for a new eps
    unless rtol was given."""
    from nlbound.training.config import RTOL_BY_EPS, default_rtol

    assert RTOL_BY_EPS == ((0.01, 3e-4), (1.0, 1e-4))
    for eps, rtol in [(0.0, 3e-4), (1e-3, 3e-4), (0.01, 3e-4), (0.0100001, 1e-4), (0.1, 1e-4), (0.5, 1e-4),
                      (1.0, 1e-4)]:
        assert default_rtol(eps) == rtol and TrainConfig(eps=eps).rtol == rtol
        assert TrainConfig(eps=eps) == TrainConfig(eps=eps, rtol=rtol)
        assert TrainConfig(eps=eps).key() == TrainConfig(eps=eps, rtol=rtol).key()
    auto, explicit = TrainConfig(eps=0.01), TrainConfig(eps=0.01, rtol=3e-4)
    assert auto.replace(eps=0.5).rtol == 1e-4 and auto.replace(eps=0.5).replace(eps=1e-3).rtol == 3e-4
    assert explicit.replace(eps=0.5).rtol == 3e-4 and auto.replace(eps=0.5, rtol=2e-5).rtol == 2e-5
    assert TrainConfig.from_dict(auto.as_dict()).replace(eps=0.5).rtol == 3e-4  # a run.json names its rtol
    assert pickle.loads(pickle.dumps(auto)).replace(eps=0.5).rtol == 1e-4  # as a worker receives it
    assert "rtol" in auto.as_dict() and auto.as_dict()["rtol"] == 3e-4


@pytest.mark.parametrize("field,value,match", [
    ("eps", 1.5, r"eps == 1.5, must be in \[0, 1\]"), ("beta", 0.0, "beta == 0"), ("depth", 1, "depth == 1"),
    ("depth", 2.5, "depth == 2.5, must be an integer"), ("width", 0, "width == 0"), ("lr", -1.0, "lr == -1"),
    ("rtol", 0.0, "rtol == 0"), ("t_end", 0.0, "t_end == 0"), ("gammas", (0.1, -1.0), "gammas == -1"),
    ("p", 8, "p == 8, must be one of 16, 32, 64"), ("dtype", "float16", "dtype == 'float16'"),
    ("integrator", "euler", "integrator == 'euler'"), ("dataset", "cifar", "dataset == 'cifar'"),
    # finite values and caps (config.LIMITS): inf, 1e300 and 100000-wide nets are refused up front
    ("width", 100000, r"width == 100000, must be in \[1, 4096\]"), ("beta", float("inf"), r"beta == inf"),
    ("beta", 1e300, r"beta == 1e\+300, must be in \(0, 10\]"), ("t_end", float("inf"), "t_end == inf"),
    ("t_end", 1e300, r"t_end == 1e\+300, must be in \(0, 1000000000\]"), ("lr", float("inf"), "lr == inf"),
    ("eps", float("nan"), "eps == nan"), ("size", 5, "size == 5, must be one of 1, 2, 4, 7, 14, 28"),
    ("depth", 17, r"depth == 17, must be in \[2, 16\]"), ("init_seed", 2**40, r"init_seed == 1099511627776"),
    ("rtol", 1e-15, r"rtol == 1e-15, must be in \[1e-12, 1\]"), ("times", (31.0,), r"times == 31, must be in \[0, 30\]"),
    ("gammas", (), r"number of gammas == 0, must be in \[1, 100\]"), ("rank_one", "yes", "rank_one == 'yes'"),
])
def test_bad_config_raises_value_error_naming_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{field: value})


def test_gd_step_must_fit_the_horizon_and_the_step_cap():
    """A step longer than t_end would take zero steps (never reported as success); more than
    LIMITS["gd_steps"] steps is refused up front."""
    with pytest.raises(ValueError, match=r"lr == 1, must be in \[5e-09, 0.5\]"):
        TrainConfig(integrator="gd", lr=1.0, t_end=0.5)
    with pytest.raises(ValueError, match=r"lr == 1e-09, must be in \[5e-09, 0.5\]"):
        TrainConfig(integrator="gd", lr=1e-9, t_end=0.5)
    assert TrainConfig(integrator="gd", lr=0.5, t_end=0.5).lr == 0.5
    assert TrainConfig(integrator="adaptive", lr=1.0, t_end=0.5).lr == 1.0  # lr is unused by adaptive


def test_cli_json_and_error_exit(tmp_path, monkeypatch, capsys):
    import nlbound.data

    monkeypatch.setattr(nlbound.data, "load_dataset", lambda *a, **k: DS)
    rc = cli_main(["train", "--dataset", "synthetic", "--width", "8", "--beta", "0.05", "--eps", "0.1",
                   "--until", "tstar", "--out", str(tmp_path / "cli"), "--json", "--no-progress"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for k in ("out", "t_end", "grad_evals", "wall_s", "train_risk", "test_risk", "train_loss"):
        assert k in out
    assert out["t_end"] == pytest.approx(np.log(0.5 * (DS.s - 0.05**2) / (0.5 * 0.05**2)) / (2 * DS.s), rel=1e-6)
    assert cli_main(["train", "--eps", "1.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "eps == 1.5, must be in [0, 1]" in err[0]
    assert cli_main(["train", "--until", "soon", "--dataset", "synthetic"]) == 2
