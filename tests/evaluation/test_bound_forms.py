"""Every bound form through the one run -> bound map (evaluation.run_bound, form=...), with the p-bit term
charged: soundness link by link on a small trained p = 16 run, the forms' order, and the run-time forms
against a reference assembled here from the trace's columns (docs/PROOFS.md, "Run-time variant with the
p-bit proxy")."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from nlbound.evaluation.run_bound import RUN_FORMS, RUNTIME_FORMS, deviation_links, evaluation_floor, run_bound
from nlbound.networks import forward_many
from nlbound.theory.kl import kl_bernoulli
from nlbound.training import RunOptions, TrainConfig, train
from toy_data import toy_dataset

GAMMAS = (1e-6, 1e-4)


@pytest.fixture(scope="module")
def p16_run(tmp_path_factory):
    """A small p = 16 run where the rounding of the κ = 2 correction dominates the deviation allowances."""
    ds = toy_dataset(m=2000, d=6, m_test=1000, seed=0)
    cfg = TrainConfig(dataset="synthetic", width=16, eps=1e-3, beta=1e-3, t_end=20.0, p=16, gammas=GAMMAS,
                      dtype="float64")
    return train(cfg, ds, RunOptions(out_dir=tmp_path_factory.mktemp("forms") / "run"))


@pytest.mark.parametrize("form", RUN_FORMS)
def test_every_form_charges_at_least_the_measured_deviation(p16_run, form):
    """Link by link, at every recorded t and κ: measured mean |f − g̃_κ| (the p-bit proxy, test and
    train) ≤ the form's deviation allowance + its p-bit allowance; and without the p-bit allowance the
    κ = 2 link fails on this run (the check can fail: the rounding of the correction is charged)."""
    tr, info = p16_run.trace, p16_run.info
    for kappa in (1, 2):
        lk = deviation_links(tr, info, kappa, form=form)
        for split in ("test", "train"):
            assert np.all(lk[f"{split}_dev"] <= lk[f"{split}_allowance"] * (1 + 1e-9)), (form, kappa, split)
            assert np.all(lk[f"{split}_allowance"] >= lk[f"{split}_delta"])
    lk = deviation_links(tr, info, 2, form=form)
    assert np.any(lk["train_dev"] > lk["train_delta"])
    for kappa in (1, 2):  # the bound's deviation + p-bit terms are at least the measured deviation over γ
        for g in GAMMAS:
            b = run_bound(tr, info, kappa=kappa, gamma=g, delta=0.05, form=form)
            charged = (b["deviation"] + b["precision"]) * g
            measured = tr[f"g{kappa}_test_dev"] + tr[f"g{kappa}_train_dev"]
            assert np.all(measured <= charged * (1 + 1e-9)), (form, kappa, g)
            ok = np.isfinite(b["bound"])
            np.testing.assert_allclose(b["bound"][ok], (b["margin_risk"] + b["upsilon"] + b["deviation"]
                                                         + b["precision"])[ok], rtol=1e-14)


def test_forms_order_with_the_precision_term_charged(p16_run):
    """kl ≤ closed and runtime-kl ≤ runtime (Pinsker), ode ≤ closed (eqs. 35/62 solved), so ≤ closed
    (Φ₂ of the centred step ≤ eq. 8's) at every recorded point, with step P charged in all of them."""
    tr, info = p16_run.trace, p16_run.info
    for kappa in (1, 2):
        for g in GAMMAS:
            b = {f: run_bound(tr, info, kappa=kappa, gamma=g, delta=0.05, n_searched=7, form=f)["bound"]
                 for f in RUN_FORMS}
            for lo, hi in (("kl", "closed"), ("ode", "closed"), ("so", "closed"), ("kl-so", "so"),
                           ("ode-kl-so", "kl-so"), ("runtime-kl", "runtime")):
                ok = np.isfinite(b[hi])
                assert np.all(b[lo][ok] <= b[hi][ok] * (1 + 1e-12)), (lo, hi, kappa, g)
            assert not any(np.isnan(v).any() for v in b.values())


def _upsilon(d, m, kappa, p, delta):
    return math.sqrt((kappa * p * d * math.log(2) - math.log(delta)) / (2 * m))  # eq. 7


def _kl_inv(q, c):
    """sup{p : kl(q‖p) ≤ c} by bracketing (an independent root find; kl from theory.kl)."""
    if q >= 1:
        return 1.0
    f = lambda p: float(kl_bernoulli(q, p)) - c  # noqa: E731
    hi = 1 - 1e-16
    return hi if f(hi) <= 0 else brentq(f, q, hi, xtol=1e-15, rtol=1e-14)


def test_runtime_forms_against_a_reference_from_the_trace(p16_run):
    """run_bound(form="runtime" / "runtime-kl") = the run-time chain assembled here from the trace's
    norm columns (module docstring of theory.runtime), with A = (‖r‖, ‖r‖) for κ = 2 and 0 for κ = 1."""
    tr, info = p16_run.trace, p16_run.info
    d, m, eps, p = int(info["rank"]), int(info["m"]), float(info["eps"]), int(info["p"])
    g, n = GAMMAS[1], 5
    s = 1 + 1e-9
    for j in range(0, tr["t"].size, 7):
        M = [s * max(tr[f"W{l}_spec"][j], tr[f"twin_W{l}_spec"][j]) for l in (1, 2)]
        gap = [s * tr[f"gap_W{l}_spec"][j] for l in (1, 2)]
        mx = s * max(tr["W1X_fro_over_sqrt_m"][j], tr["twin_W1X_fro_over_sqrt_m"][j])
        a = gap[0] * M[1] + gap[1] * M[0]
        b = s * tr["gap_W1X_fro_over_sqrt_m"][j] * M[1] + gap[1] * mx
        r = tr["prox_r"][j]
        for kappa in (1, 2):
            if kappa == 1:
                dte, dtr, ate, atr = math.sqrt(d) * a / g, b / g, 0.0, 0.0
            else:
                dte, dtr, ate, atr = eps * math.sqrt(d) * (a + b) / g, eps * b / g, r / g, r / g
            R = tr[f"train_margin_risk@{g:.6g}"][j]
            ups = _upsilon(d, m, kappa, p, 0.05 / n)
            hoeff = R + ups + dte + dtr + ate + atr
            q = R + dtr + atr  # clipped at 1 the form reports R̂ + every term (≥ (K), vacuous: PROOFS.md)
            kl = _kl_inv(q, 2 * ups * ups) + dte + ate if q < 1 else hoeff - ups
            got = {f: run_bound(tr, info, kappa=kappa, gamma=g, delta=0.05, n_searched=n, form=f)["bound"][j]
                   for f in RUNTIME_FORMS}
            assert got["runtime"] == pytest.approx(hoeff, rel=1e-12)
            assert got["runtime-kl"] == pytest.approx(min(kl, hoeff), rel=1e-9, abs=1e-12)


def test_so_links_split_as_the_centred_step(p16_run):
    """so (L = 2, κ = 2): D_test = (1 + ρ)√d uvε², D_train = (1 + ρ)uvε² (PROOFS.md S1, S2), ratio √d."""
    tr, info = p16_run.trace, p16_run.info
    lk = deviation_links(tr, info, 2, form="so")
    ok = (lk["train_delta"] > 0) & np.isfinite(lk["train_delta"])
    assert ok.sum() > 10
    np.testing.assert_allclose(lk["test_delta"][ok] / lk["train_delta"][ok], math.sqrt(int(info["rank"])), rtol=1e-12)
    closed = deviation_links(tr, info, 2)
    assert np.all(lk["test_delta"] + lk["train_delta"] <= (closed["test_delta"] + closed["train_delta"]) * (1 + 1e-12))


def test_forms_refuse_unknown_names_and_traces_without_their_columns(p16_run):
    tr, info = p16_run.trace, p16_run.info
    with pytest.raises(ValueError, match="form == 'bogus', must be one of closed"):
        run_bound(tr, info, kappa=2, gamma=1e-6, delta=0.05, form="bogus")
    with pytest.raises(ValueError, match="form == 'bogus'"):
        deviation_links(tr, info, 2, form="bogus")
    old = {k: v for k, v in tr.items() if not k.startswith("gap_W")}
    with pytest.raises(ValueError, match="gap_W1X_fro_over_sqrt_m"):
        run_bound(old, info, kappa=2, gamma=1e-6, delta=0.05, form="runtime")
    no_r = {k: v for k, v in tr.items() if k != "prox_r"}
    with pytest.raises(ValueError, match="prox_r"):
        deviation_links(no_r, info, 2, form="runtime-kl")


@pytest.mark.parametrize("depth", [2, 3])
def test_evaluation_floor_bounds_the_float32_error_of_a_deviation_column(depth):
    """evaluation_floor against the error itself: mean |f − g₂| evaluated as the recorder does (f, g̃₁
    and x·w in float32, the sum and mean in float64) vs the same in float64, on random nets of
    several scales; the floor is never exceeded."""
    rng = np.random.default_rng(depth)
    d, width, m, eps = 6, 16, 500, 0.1
    for scale in (1e-3, 1.0, 30.0):
        shapes = [(width, d)] + [(width, width)] * (depth - 2) + [(1, width)]
        ws = [rng.standard_normal(s) * scale / math.sqrt(s[1]) for s in shapes]
        wt = [w + 1e-3 * rng.standard_normal(w.shape) * scale / math.sqrt(w.shape[1]) for w in ws]
        x = rng.standard_normal((m, d))
        w = rng.standard_normal(d) * scale**depth
        out = {}
        for name, dt in (("32", torch.float32), ("64", torch.float64)):
            f, g1 = forward_many([[torch.from_numpy(a).to(dt) for a in net] for net in (ws, wt)],
                                 torch.from_numpy(x).to(dt), eps).numpy().astype(np.float64)
            lin = torch.from_numpy(x).to(dt) @ torch.from_numpy(w).to(dt)
            out[name] = {1: np.mean(np.abs(f - g1)), 2: np.mean(np.abs(f - (g1 + lin.numpy().astype(np.float64))))}
        spec = lambda a: float(np.linalg.norm(a, 2))  # noqa: E731
        trace = {**{f"W{l}_spec": np.array([spec(a)]) for l, a in enumerate(ws, 1)},
                 **{f"twin_W{l}_spec": np.array([spec(a)]) for l, a in enumerate(wt, 1)},
                 **{f"gap_W{l}_spec": np.array([spec(a - b)]) for l, (a, b) in enumerate(zip(ws, wt, strict=True), 1)},
                 "W1X_fro_over_sqrt_m": np.array([0.0]), "twin_W1X_fro_over_sqrt_m": np.array([0.0]),
                 "gap_W1X_fro_over_sqrt_m": np.array([0.0]), "prox_r": np.array([np.linalg.norm(w)])}
        info = {"rank": d, "d": d, "m": m, "width": width, "depth": depth, "eps": eps, "beta": 1.0, "p": 32,
                "s": 0.5, "rho": 1.0, "dtype": "float32"}
        mean_norm = float(np.mean(np.linalg.norm(x, axis=1)))
        for kappa in (1, 2):
            err = abs(out["32"][kappa] - out["64"][kappa])
            floor = float(evaluation_floor(trace, info, kappa, mean_norm)[0])
            assert err <= floor, (depth, scale, kappa, err, floor)
