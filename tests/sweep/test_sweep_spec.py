"""Sweep specs: parsing, validation (one message per mistake, all at once), expansion to TrainConfigs."""

from __future__ import annotations

import math
import textwrap

import pytest

from nlbound.cli.main import main
from nlbound.sweep import SpecError, expand, load_spec, parse_spec
from tolerances import rounded_3g

ISSUE_SPEC = """
[fixed]
dataset = "synthetic"
size = 7
depth = 2
width = 16
[sweep]
eps = [0.0, 0.1]
beta = [0.001, 0.01]
[horizon]
t_star_multiple = 1.0
"""


def write(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def errors_of(text: str) -> tuple[str, ...]:
    import tomllib

    with pytest.raises(SpecError) as info:
        parse_spec(tomllib.loads(textwrap.dedent(text)), source="s.toml")
    return info.value.errors


def test_issue_form_parses(tmp_path):
    spec = load_spec(write(tmp_path, ISSUE_SPEC))
    assert spec.name == "spec"
    assert dict(spec.fixed) == {"dataset": "synthetic", "size": 7, "depth": 2, "width": 16}
    assert [(a.name, a.values) for a in spec.axes] == [("eps", (0.0, 0.1)), ("beta", (0.001, 0.01))]
    assert spec.n_points == 4 and spec.describe() == "4 runs (2 eps × 2 beta)"
    assert spec.points()[1] == {"eps": 0.0, "beta": 0.01}  # last axis fastest
    assert spec.horizon.t_star_multiple == 1.0 and spec.horizon.alpha == 0.5
    labels = [v.label for v in spec.bounds.variants()]  # default grid: kappa 2, p 32, gamma = beta^2/q
    assert labels == ["kappa=2 p=32 gamma=beta2/1", "kappa=2 p=32 gamma=beta2/10", "kappa=2 p=32 gamma=beta2/100"]


def test_ranges_are_exact_and_validated():
    import tomllib

    spec = parse_spec(tomllib.loads(ISSUE_SPEC.replace("beta = [0.001, 0.01]", "beta = {log = [1e-3, 1e-1], num = 3}")
                                    .replace("eps = [0.0, 0.1]", "eps = {lin = [0, 0.1], num = 5}")))
    assert spec.axes[0].values == (0.0, 0.025, 0.05, 0.075, 0.1)
    assert spec.axes[1].values == (0.001, 0.01, 0.1)  # rounded to 12 digits: exactly the decimal values
    one = parse_spec(tomllib.loads(ISSUE_SPEC.replace("beta = [0.001, 0.01]", "beta = {log = [0.02, 0.02], num = 1}")))
    assert one.axes[1].values == (0.02,)


def test_every_mistake_is_reported_once():
    errs = errors_of("""
        [fixed]
        dataset = "synthetic"
        widht = 16
        t_end = 3.0
        [sweep]
        eps = []
        beta = {log = [0.0, 0.1], num = 3}
        depth = [2, 1]
        init_seed = 3
        [horizon]
        t_star_multiple = -1
        [bonuds]
    """)
    expected = [
        "unknown table [bonuds] (did you mean 'bounds'?)",
        "[fixed] widht: unknown field (did you mean 'width'?)",
        "[fixed] t_end: not allowed, it is set by [horizon]",
        "[sweep] eps == [], must be a non-empty list",
        "[sweep] beta.log == 0, must be in (0, inf)",
        "[sweep] depth == 1, must be in [2, 16]",
        "[sweep] init_seed == 3, must be a non-empty list",
        "[horizon] t_star_multiple == -1, must be in (0, inf)",
    ]
    assert len(errs) == len(expected), errs
    for want in expected:
        assert sum(e.startswith(want) or want in e for e in errs) == 1, (want, errs)


@pytest.mark.parametrize("text, message", [
    ("[fixed]\neps = 1.5\n[horizon]\nt_end = 1.0", "[fixed] eps == 1.5, must be in [0, 1]"),
    ("[fixed]\ndataset = 'cifar'\n[horizon]\nt_end = 1.0", "[fixed] dataset == 'cifar', must be one of"),
    ("[fixed]\nsize = 7.5\n[horizon]\nt_end = 1.0", "[fixed] size == 7.5, must be one of 1, 2, 4, 7, 14, 28"),
    ("[sweep]\ngammas = [[0.1]]\n[horizon]\nt_end = 1.0", "[sweep] gammas: cannot be swept"),
    ("[fixed]\neps = 0.1\n[sweep]\neps = [0.1]\n[horizon]\nt_end = 1.0", "[sweep] eps: also set in [fixed]"),
    ("[sweep]\neps = [0.1, 0.1]\n[horizon]\nt_end = 1.0", "[sweep] eps: repeated value 0.1"),
    ("[sweep]\neps = {log = [0.1, 0.01], num = 2}\n[horizon]\nt_end = 1.0", "must have lo <= hi"),
    ("[sweep]\neps = {log = [0.01, 0.1], num = 0}\n[horizon]\nt_end = 1.0", "[sweep] eps.num == 0, must be"),
    ("[sweep]\neps = {geom = [0.01, 0.1], num = 2}\n[horizon]\nt_end = 1.0", "must be a range {log = [lo, hi]"),
    ("[fixed]\ndepth = 2", "missing table [horizon]"),
    ("[horizon]\nt_end = 1.0\nt_star_multiple = 2.0", "[horizon] needs exactly one of t_star_multiple, t_end"),
    ("[horizon]\nalpha = 0.5", "[horizon] needs exactly one of"),
    ("[horizon]\nt_star_multiple = 1\nalpha = 1.0", "[horizon] alpha == 1, must be in (0, 1)"),
    ("[horizon]\nt_end = 1\n[bounds]\nkappa = [3]", "[bounds] kappa == 3, must be one of 1, 2"),
    ("[horizon]\nt_end = 1\n[bounds]\nq = []", "[bounds] q == [], must be a non-empty list"),
    ("[horizon]\nt_end = 1\n[bounds]\ndelta = 1.0", "[bounds] delta == 1, must be in (0, 1)"),
    ("[horizon]\nt_end = 1\n[bounds]\ngamma = [0.1]", "[bounds] gamma: unknown field"),
    ("[horizon]\nt_end = 1\n[resources]\nnum_cpus = 0", "[resources] num_cpus == 0, must be in (0, inf)"),
    ("[horizon]\nt_end = 1\n[resources]\nmax_retries = 1.5", "[resources] max_retries == 1.5, must be an integer"),
])
def test_one_clear_error(text, message):
    errs = errors_of(text)
    assert len(errs) == 1 and message in errs[0], errs


def test_bounds_grid_is_a_product(tmp_path):
    spec = load_spec(write(tmp_path, ISSUE_SPEC + """
        [bounds]
        kappa = [1, 2]
        gamma_rule = ["beta2", "alpha"]
        q = [1, 10]
        terms = ["full", "no_upsilon"]
        delta = 0.01
    """))
    variants = spec.bounds.variants()
    assert len(variants) == 2 * 2 * 2 * 2 and len({v.label for v in variants}) == 16
    assert all(v.delta == 0.01 and isinstance(v.kappa, int) and isinstance(v.p, int) for v in variants)


def test_expand_horizon_is_a_multiple_of_eq15():
    import tomllib

    spec = parse_spec(tomllib.loads(ISSUE_SPEC.replace("t_star_multiple = 1.0", "t_star_multiple = 2.5\nalpha = 0.3")))
    s = 0.7
    runs = expand(spec, s_of=lambda config: s)
    assert len(runs) == 4 and len({r.config.key() for r in runs}) == 4
    for r in runs:
        beta = r.config.beta
        ref = 1 / (2 * s) * math.log(0.3 * (s - beta**2) / ((1 - 0.3) * beta**2))  # eq. 15, L = 2
        assert r.t_star == pytest.approx(ref, rel=1e-12)
        assert r.config.t_end in rounded_3g(2.5 * ref, 1e-12)  # ref: eq. 15 by another path
        assert dict(r.point) == {"eps": r.config.eps, "beta": beta}
        assert (r.config.dataset, r.config.width, r.config.depth) == ("synthetic", 16, 2)
        assert set(r.config.gammas) == {beta**2 / q for q in (1.0, 10.0, 100.0)}  # the variants' gammas


def test_expand_reports_undefined_horizons():
    import tomllib

    spec = parse_spec(tomllib.loads(ISSUE_SPEC.replace("beta = [0.001, 0.01]", "beta = [0.001, 0.9, 0.95]")))
    with pytest.raises(SpecError) as info:
        expand(spec, s_of=lambda config: 0.5)  # alpha = 0.5 < beta^2/s for beta 0.9, 0.95
    errs = info.value.errors
    # beta^2/s = 1.62, 1.805 >= 1: no alpha works, and the message says so (not the empty interval (1.62, 1))
    assert len(errs) == 4 and all("undefined for every alpha" in e for e in errs), errs
    assert "eps == 0.0, beta == 0.9" in errs[0]


def test_fixed_gammas_are_kept_and_t_end_absolute():
    import tomllib

    spec = parse_spec(tomllib.loads("[fixed]\ndataset = 'synthetic'\ngammas = [0.5]\n[sweep]\nbeta = [0.1]\n"
                                    "[horizon]\nt_end = 4.0"))
    (run,) = expand(spec, s_of=lambda *a: pytest.fail("an absolute t_end needs no s"))
    assert run.config.t_end == 4.0 and run.t_star is None
    assert run.config.gammas == tuple(sorted({0.5} | {0.1**2 / q for q in (1.0, 10.0, 100.0)}))


def test_cli_bad_spec_exits_2_listing_each_error(tmp_path, capsys):
    path = write(tmp_path, "[fixed]\nwidht = 3\n[sweep]\neps = []\n[horizon]\nt_star_multiple = 1")
    assert main(["sweep", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nlbound sweep: error: {path}: 2 errors in the sweep spec")
    assert "[fixed] widht: unknown field" in err and "[sweep] eps == []" in err


@pytest.mark.parametrize("argv, message", [
    (["--processes", "0"], "--processes == 0, must be in [1, 256]"),
    (["--plot-axes", "eps", "depth"], "--plot-axes == 'depth', must be one of eps, beta"),
    (["--plot-axes", "eps", "eps"], "--plot-axes == 'eps', must be an axis other than 'eps'"),
    (["--address", "auto"], "--address == 'auto', needs --backend ray"),
])
def test_cli_bad_flags_exit_2(tmp_path, capsys, argv, message):
    path = write(tmp_path, ISSUE_SPEC)
    assert main(["sweep", str(path), "--dry-run", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_cli_missing_spec_exits_2(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "nope.toml")]) == 2
    assert "must be an existing TOML file" in capsys.readouterr().err


def test_cli_dry_run_prints_the_number_of_runs(tmp_path, capsys):
    path = write(tmp_path, ISSUE_SPEC)
    assert main(["sweep", str(path), "--dry-run", "--runs", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sweep spec: 4 runs (2 eps × 2 beta), backend local")
    assert not (tmp_path / "runs").exists()  # nothing ran


def test_example_specs_parse():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "examples"
    mnist = load_spec(root / "sweep-eps-beta.toml")
    assert mnist.describe() == "18 runs (3 eps × 3 beta × 2 init_seed)"
    assert dict(mnist.fixed)["dataset"] == "mnist" and dict(mnist.fixed)["size"] == 7
    assert load_spec(root / "sweep-synthetic.toml").n_points == 4
