"""`sweep`, `plan` under hostile specs and flags (issue 22): work caps before allocation, booleans refused,
one shared validation for --dry-run and the real run, messages naming table, field and range."""

from __future__ import annotations

import textwrap
import tomllib

import numpy as np
import pytest

from nlbound._limits import MAX_PLAN_POINTS, MAX_ROWS, MAX_RUNS, check_count
from nlbound._validate import Integral, Interval, Options, ParameterError, Real
from nlbound.cli.main import main
from nlbound.sweep import SpecError, expand, load_spec, parse_spec
from nlbound.planning import PlanGrid

from toy_data import TINY_SWEEP_FIXED

BASE = TINY_SWEEP_FIXED + """[sweep]
eps = [0.0, 0.1]
[horizon]
t_end = 1.0
"""


def errors_of(text: str) -> tuple[str, ...]:
    with pytest.raises(SpecError) as info:
        spec = parse_spec(tomllib.loads(textwrap.dedent(text)), source="s.toml")
        expand(spec, s_of=lambda *a: 0.5)
    return info.value.errors


# ------------------------------------------------------------------ item 1: work caps, counted up front

def test_check_count_names_the_count_and_limit():
    with pytest.raises(ValueError, match=r"the grid has 12,000,000 rows \(3 x 4\), more than the limit of 10,000,000"):
        check_count("the grid", 12_000_000, MAX_ROWS, "rows", "3 x 4")
    assert check_count("the grid", MAX_ROWS, MAX_ROWS, "rows") == MAX_ROWS


def test_sweep_range_num_is_capped_before_expansion():
    (err,) = errors_of(BASE.replace("eps = [0.0, 0.1]", "eps = {lin = [0, 1], num = 1e12}"))
    assert err.startswith("[sweep] eps.num == 1000000000000") and f"{MAX_RUNS}]" in err


def test_sweep_run_count_is_capped_with_the_product_in_the_message():
    text = BASE.replace("eps = [0.0, 0.1]", "eps = {lin = [0, 1], num = 200}\nwidth = {lin = [1, 200], num = 200}")
    text = text.replace("width = 8\n", "")
    (err,) = errors_of(text)
    assert "40,000 runs (200 eps x 200 width)" in err and f"{MAX_RUNS:,}" in err


def test_sweep_long_list_is_refused_before_each_value_is_checked():
    values = ", ".join(["0.5"] * (MAX_RUNS + 1))
    (err,) = errors_of(BASE.replace("eps = [0.0, 0.1]", f"eps = [{values}]"))
    assert f"{MAX_RUNS + 1:,} values" in err


def test_sweep_bound_variants_and_result_rows_are_capped():
    qs = ", ".join(str(q) for q in range(1, 1002))
    (err,) = errors_of(BASE + f"[bounds]\nq = [{qs}]\n")
    assert err.startswith("[bounds] has 1,001 variants")
    qs = ", ".join(str(q) for q in range(1, 201))
    text = BASE.replace("eps = [0.0, 0.1]", "eps = {lin = [0, 1], num = 1000}") + f"[bounds]\nq = [{qs}]\n"
    (err,) = errors_of(text)
    assert err.startswith("results.csv has 10,600,000 rows")


def test_plan_grid_is_capped_before_expansion():
    with pytest.raises(ValueError, match=r"the plan grid has 7,808,000 points \(1 depth x 2000 beta"):
        PlanGrid(betas=tuple(np.linspace(1e-4, 0.3, 2000)))
    PlanGrid(betas=tuple(np.linspace(1e-4, 0.3, MAX_PLAN_POINTS // 7808)))  # just under the cap: accepted


def test_plan_cli_grid_cap_is_one_line(capsys):
    betas = ",".join(str(1e-4 * (1 + i)) for i in range(2000))
    assert main(["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--beta", betas]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "7,808,000 points" in err


# ------------------------------------------------------------------ item 7: booleans, one validation, messages

@pytest.mark.parametrize("constraint", [Interval(Real, 0, 1), Interval(Integral, 1, 10), Options(1, 2)])
@pytest.mark.parametrize("value", [True, [True], [1, True], np.array([True])])
def test_booleans_are_no_numbers(constraint, value):
    with pytest.raises(ParameterError):
        constraint.check("x", value)


def test_huge_integers_are_checked_and_shown_short():
    with pytest.raises(ParameterError, match=r"^m == 1e\+300, must be in \[1, 1000\]$"):
        Interval(Integral, 1, 1000).check("m", 10**300)
    assert Interval(Integral, 1, None).check("m", 10**300) == 1e300


@pytest.mark.parametrize("field, table, needle", [
    ("eps = true", "fixed", "[fixed] eps == True, must be a real number in [0, 1]"),
    ("width = true", "fixed", "[fixed] width == True, must be an integer in [1, 4096]"),
    ("kappa = [true]", "bounds", "[bounds] kappa == [True], must be one of 1, 2"),
    ("q = [true, 1.0]", "bounds", "[bounds] q == [True, 1.0], must be a real number in (0, inf)"),
])
def test_spec_booleans_are_refused(field, table, needle):
    text = BASE.replace("width = 8\n", "") + ("" if table == "fixed" else "[bounds]\n")
    text = text.replace("[fixed]\n", f"[fixed]\n{field}\n") if table == "fixed" else text + field + "\n"
    assert needle in errors_of(text)


@pytest.mark.parametrize("extra, needle", [
    ('integrator = "gd"\nsensitivity = true\nlr = 0.1', "[fixed] sensitivity == True, must be False with integrator 'gd'"),
    ('integrator = "gd"\nstiffness = "ros2"\nlr = 0.1', "[fixed] stiffness == 'ros2', must be 'ignore'"),
    ('integrator = "gd"\nlr = 5.0', "[fixed] lr == 5, must be in [1e-08, 1]"),
    ("gammas = []", "[fixed] gammas == [], must be a non-empty list of numbers"),
])
def test_cross_field_mistakes_name_table_and_field(extra, needle):
    errs = errors_of(BASE.replace("[fixed]\n", f"[fixed]\n{extra}\n"))
    assert any(e.startswith(needle) for e in errs), errs


def test_horizon_mistakes_are_reported_under_horizon():
    errs = errors_of(BASE.replace("t_end = 1.0", "t_star_multiple = 1e9").replace("beta = 0.01\n", "")
                     .replace("eps = [0.0, 0.1]", "beta = [0.001, 1.0]"))
    assert any(e.startswith("[horizon] t_star_multiple: t_end == 1.31e+10 (t_star_multiple 1e+09 x t*_0.5")
               and "must be in (0, 1000000000] at beta == 0.001" in e for e in errs), errs
    assert any(e.startswith("[horizon] t_star_multiple: t*_0.5 is undefined at beta == 1.0: alpha == 0.5") for e in errs)
    assert not any("== 1.0 == 0.5" in e for e in errs)


@pytest.mark.parametrize("extra", ['integrator = "gd"\nsensitivity = true\nlr = 0.1', "eps = true",
                                   'integrator = "gd"\nlr = 5.0'])
def test_dry_run_refuses_what_the_real_run_refuses(tmp_path, capsys, extra):
    spec = tmp_path / "s.toml"
    spec.write_text(textwrap.dedent(BASE.replace("[fixed]\n", f"[fixed]\n{extra}\n").replace("eps = [0.0, 0.1]",
                                                                                       "beta = [0.01]")))
    args = ["sweep", str(spec), "--runs", str(tmp_path / "c"), "--out", str(tmp_path / "o")]
    assert main([*args, "--dry-run"]) == 2
    dry = capsys.readouterr().err
    assert main(args) == 2
    assert capsys.readouterr().err == dry and not (tmp_path / "c").exists()


def test_non_utf8_and_unreadable_specs_name_the_file(tmp_path, capsys):
    bad = tmp_path / "latin.toml"
    bad.write_bytes(b"[fixed]\neps = 0.1 # caf\xe9\n")
    with pytest.raises(SpecError, match="latin.toml: not UTF-8"):
        load_spec(bad)
    (tmp_path / "d.toml").mkdir()
    for path in (tmp_path / "d.toml", tmp_path / "f.toml" / "x.toml"):
        (tmp_path / "f.toml").write_text("")
        assert main(["sweep", str(path), "--dry-run"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err


def test_plan_m_below_d_names_the_flag(capsys):
    assert main(["plan", "--d", "100", "--m", "10", "--s", "0.5", "--margin-risk", "0.1"]) == 2
    assert capsys.readouterr().err == "nlbound plan: error: --m == 10, must be >= d == 100\n"


def test_run_level_mistakes_are_headed_by_the_spec_file(tmp_path, capsys):
    spec = tmp_path / "gd.toml"
    spec.write_text(textwrap.dedent(BASE.replace("[fixed]\n", '[fixed]\nintegrator = "gd"\nlr = 5.0\n')))
    assert main(["sweep", str(spec), "--dry-run", "--runs", str(tmp_path / "c"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == f"nlbound sweep: error: {spec}: [fixed] lr == 5, must be in [1e-08, 1]\n"
