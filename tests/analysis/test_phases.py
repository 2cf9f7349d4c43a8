"""App. B's phases (training.stopping / analysis.phases) on synthetic traces, and train()'s stop rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nlbound.training.stopping import PHASE_TOL, detect_phases, should_stop

T = np.linspace(0.0, 100.0, 101)
LIN_RISK, LIN_LOSS = 0.15, 0.25


def _trace(risk_drop_at=None, loss_drop_at=None):
    """Phase 1 until t = 10 (risk 0.5 -> R_lin, loss at the zero model's 0.5), phase 2 at the linear
    levels, then risk and/or loss drop by 0.05 at the given times."""
    risk = np.where(T < 10, 0.5 - (0.5 - LIN_RISK) * T / 10, LIN_RISK)
    loss = np.where(T < 10, 0.5, LIN_LOSS + 0.001)
    if risk_drop_at is not None:
        risk = np.where(T >= risk_drop_at, LIN_RISK - 0.05, risk)
    if loss_drop_at is not None:
        loss = np.where(T >= loss_drop_at, LIN_LOSS - 0.05, loss)
    return risk, loss


def test_t1_is_where_the_risk_reaches_the_linear_models():
    risk, loss = _trace()
    ph = detect_phases(T, risk, loss, LIN_RISK, LIN_LOSS)
    # risk(t) = 0.5 - 0.035 t <= 0.15 + tol first at t = 10 - tol / 0.035 rounded up to the grid
    assert ph.t1 == math.ceil(10 - PHASE_TOL / 0.035) and not ph.phase3_reached and ph.t2 == math.inf


def test_risk_only_drop_is_not_phase3():
    ph = detect_phases(T, *_trace(risk_drop_at=40), LIN_RISK, LIN_LOSS)
    assert ph.t2 == math.inf


def test_loss_only_drop_is_not_phase3():
    # the old detector (loss only) fired here: the ε = 0.4 run of ISSUE 11
    ph = detect_phases(T, *_trace(loss_drop_at=30), LIN_RISK, LIN_LOSS)
    assert ph.t2 == math.inf


def test_phase3_starts_when_both_have_dropped():
    ph = detect_phases(T, *_trace(risk_drop_at=60, loss_drop_at=30), LIN_RISK, LIN_LOSS)
    assert ph.t2 == 60.0 and ph.phase3_reached
    ph = detect_phases(T, *_trace(risk_drop_at=45, loss_drop_at=70), LIN_RISK, LIN_LOSS)
    assert ph.t2 == 70.0


def test_tolerance_is_honoured():
    risk, loss = _trace()
    loss = np.where(T >= 50, LIN_LOSS - 0.5 * PHASE_TOL, loss)
    risk = np.where(T >= 50, LIN_RISK - 0.5 * PHASE_TOL, risk)
    assert detect_phases(T, risk, loss, LIN_RISK, LIN_LOSS).t2 == math.inf  # within tol: not below
    assert detect_phases(T, risk, loss, LIN_RISK, LIN_LOSS, tol=0.0).t2 == 50.0
    with pytest.raises(ValueError, match="tol"):
        detect_phases(T, risk, loss, LIN_RISK, LIN_LOSS, tol=float("nan"))


def test_should_stop_waits_for_the_margin():
    risk, loss = _trace(risk_drop_at=40, loss_drop_at=40)
    for n, expected in ((41, False), (59, False), (60, False), (61, True)):
        assert should_stop(T[:n], risk[:n], loss[:n], LIN_RISK, LIN_LOSS, 1.5) is expected, n
    assert not should_stop(T, risk, loss, LIN_RISK, LIN_LOSS, 0.0)  # 0: never stop
    assert not should_stop(T, *_trace(loss_drop_at=20), LIN_RISK, LIN_LOSS, 1.5)


def test_train_stops_when_the_rule_fires_and_the_run_reads_back(tmp_path, monkeypatch):
    from nlbound.data import load_dataset
    from nlbound.training import RunOptions, TrainConfig, load_run, train
    from nlbound.training import run as run_mod

    calls = []

    def fake_rule(t, *args):
        calls.append(args[-1])
        return len(t) >= 3

    monkeypatch.setattr(run_mod, "should_stop", fake_rule)
    cfg = TrainConfig(dataset="synthetic", width=8, eps=0.1, beta=0.05, t_end=15.0, stop_phase3=1.5)
    res = train(cfg, load_dataset("synthetic", size=7), RunOptions(out_dir=tmp_path / "r"))
    back = load_run(tmp_path / "r")
    assert back.info["status"] == "complete" and len(back.trace["t"]) == 3 == len(res.trace["t"])
    assert back.info["stopped"]["t"] == back.trace["t"][-1] < cfg.t_end and calls == [1.5, 1.5, 1.5]
    full = train(cfg.replace(stop_phase3=0.0), load_dataset("synthetic", size=7), RunOptions(out_dir=tmp_path / "f"))
    assert full.trace["t"][-1] == cfg.t_end and "stopped" not in full.info
