"""`nlbound bound`: table, JSON lines, cartesian product, t*_alpha, and one-line errors with exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nlbound.cli.main import main
from nlbound.theory import bound_terms, t_star
from tolerances import GRID_ULPS, assert_ulp_close

BASE = ["bound", "--d", "49", "--m", "60000", "--beta", "0.001", "--eps", "0.001", "--rho", "1", "--s", "0.4",
        "--gamma", "1e-6"]


def _with(argv):
    """BASE with the flags of argv replacing BASE's own (the CLI refuses a flag given twice)."""
    given = {a for a in argv if a.startswith("--")}
    base = [BASE[0]] + [x for i in range(1, len(BASE), 2) if BASE[i] not in given for x in BASE[i:i + 2]]
    return base + argv


def _json(capsys, argv):
    assert main(_with(argv) + ["--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_json_rows_product_and_values(capsys):
    rows = _json(capsys, ["--kappa", "1,2", "--t", "0,1,5", "--depth", "2,3", "--margin-risk", "0.1",
                          "--precision-allowance", "1e-9"])
    assert len(rows) == 12
    keys = {"d", "m", "depth", "kappa", "p", "delta", "eps", "beta", "gamma", "rho", "s", "t", "margin_risk",
            "precision_allowance", "upsilon", "phi", "s_bar", "s_hat", "beta_bar", "one_bar", "u", "v", "Delta",
            "deviation", "precision", "a_priori", "a_priori_as_printed", "bound"}
    assert set(rows[0]) == keys
    for r in rows:
        ref = bound_terms(r["d"], r["m"], r["depth"], r["kappa"], r["p"], r["delta"], r["eps"], r["beta"], r["gamma"],
                          r["rho"], r["s"], r["t"], precision=1e-9)
        for k, v in ref.items():
            assert r[k] == pytest.approx(float(v), rel=1e-15)
        assert r["bound"] == pytest.approx(0.1 + r["a_priori"])


def test_precision_allowance_missing_is_inf_and_bad_is_refused(capsys):
    """Without the p-bit allowance there is no bound (docs/PROOFS.md step P); a negative one is refused."""
    rows = _json(capsys, ["--t", "1"])
    assert rows[0]["a_priori"] is None and {"precision", "a_priori"} <= set(rows[0]["overflow"])
    assert rows[0]["a_priori_as_printed"] == pytest.approx(rows[0]["upsilon"] + rows[0]["deviation"])
    assert main(_with(["--t", "1", "--precision-allowance", "-1"])) == 2
    assert "--precision-allowance" in capsys.readouterr().err


def test_alpha_gives_t_star(capsys):
    rows = _json(capsys, ["--alpha", "0.5", "--kappa", "1,2"])
    assert rows[0]["alpha"] == 0.5 and rows[0]["t"] == pytest.approx(float(t_star(0.5, 1e-3, 0.4, 2)), rel=1e-15)


def test_overflow_is_null_and_listed(capsys):
    rows = _json(capsys, ["--t", "1e4", "--precision-allowance", "0"])
    assert rows[0]["a_priori"] is None and "a_priori" in rows[0]["overflow"] and rows[0]["upsilon"] > 0


def test_table(capsys):
    assert main(BASE + ["--alpha", "0.5", "--kappa", "1,2", "--t" if False else "--depth", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("# ") and "a_priori" in out[1] and len(out) == 4
    assert main(BASE + ["--t", "1e4"]) == 0
    assert "inf" in capsys.readouterr().out


@pytest.mark.parametrize("flag,value,msg", [
    ("--eps", "1.5", "--eps == 1.5, must be in [0, 1]"), ("--eps", "abc", "--eps == 'abc', must be a number"),
    ("--beta", "0", "--beta == 0, must be in (0, inf)"), ("--gamma", "0", "--gamma == 0, must be in (0, inf)"),
    ("--delta", "1", "--delta == 1, must be in (0, 1)"), ("--kappa", "3", "--kappa == 3, must be one of 1, 2"),
    ("--depth", "1", "--depth == 1, must be in [2, inf)"), ("--depth", "2.5", "--depth == 2.5, must be an integer"),
    ("--d", "0", "--d == 0, must be in [1, inf)"), ("--m", "10", "--m == 10, must be >= --d == 49"),
    ("--rho", "0.5", "--rho == 0.5, must be in [1, inf)"), ("--s", "1.5", "--s == 1.5, must be in (0, 1]"),
    ("--p", "0", "--p == 0, must be in [1, inf)"), ("--t", "-1", "--t == -1, must be in [0, inf)"),
    ("--alpha", "1", "--alpha == 1, must be in (0, 1)"), ("--alpha", "1e-9", "--alpha == 1e-09, must be in (beta^L/s, 1)"),
    ("--eps", "0.1,nan", "--eps == nan"), ("--margin-risk", "2", "--margin-risk == 2, must be in [0, 1]"),
])
def test_bad_input_one_line_exit_2(capsys, flag, value, msg):
    base = [a for i, a in enumerate(BASE) if flag not in (a, BASE[i - 1])]  # a repeated flag is an error
    argv = base + [flag, value] + ([] if flag in ("--t", "--alpha") else ["--t", "1"])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and msg in err and "Traceback" not in err


def test_json_integer_inputs_are_integers(capsys):
    rows = _json(capsys, ["--t", "1", "--p", "16,2.5", "--kappa", "1", "--depth", "3"])
    for k in ("d", "m", "depth", "kappa"):
        assert type(rows[0][k]) is int and type(rows[1][k]) is int
    assert type(rows[0]["p"]) is int and rows[0]["p"] == 16
    assert type(rows[1]["p"]) is float and rows[1]["p"] == 2.5


@pytest.mark.parametrize("fmt", [["--json"], []])
def test_broken_pipe_is_quiet(fmt):
    """`nlbound bound ... | head -1`: no BrokenPipeError traceback, exit status 0."""
    import subprocess
    import sys

    ts = ",".join(str(i) for i in range(3000))
    cmd = [sys.executable, "-c", "import sys; from nlbound.cli.main import main; sys.exit(main())"]
    proc = subprocess.Popen(cmd + BASE + ["--t", ts] + fmt, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, like `head -1`
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0 and first
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_overflow_never_nan_and_json_valid(capsys):
    """Issue 8: --beta 1e155 --t 1 printed nan and --json failed; now +inf, null in JSON, listed."""
    rows = _json(capsys, ["--beta", "1e155", "--t", "0,1"])
    assert rows[0]["v"] == 0.0 and rows[0]["u"] > 0
    assert rows[1]["u"] is None and {"u", "v", "Delta", "deviation", "a_priori"} <= set(rows[1]["overflow"])
    assert main(_with(["--beta", "1e155", "--t", "1"])) == 0
    assert "nan" not in capsys.readouterr().out


def test_row_does_not_depend_on_the_grid(capsys):
    """--rho 1e300 alone and inside --rho 1,1e300 give the same row (was inf vs nan): the same fields,
    overflows and None's, numbers to GRID_ULPS (arrays of other lengths may run other numpy loops)."""
    alone = _json(capsys, ["--rho", "1e300", "--t", "1"])[0]
    mixed = _json(capsys, ["--rho", "1,1e300", "--t", "1"])[1]
    assert list(alone) == list(mixed)
    for k, a in alone.items():
        if isinstance(a, float) and isinstance(mixed[k], float):
            assert_ulp_close(a, mixed[k], GRID_ULPS, log_scaled=True, what=k)
        else:
            assert a == mixed[k], k


@pytest.mark.parametrize("argv", [["--beta", "1e-300", "--alpha", "0.5"],
                                  ["--depth", "3", "--alpha", "0.9999999999999999"],
                                  ["--beta", "1e-200", "--depth", "4", "--alpha", "0.5"]])
def test_valid_alpha_accepted(capsys, argv):
    """Issue 8: valid --alpha values were rejected ("t == inf" / "t == -inf")."""
    (row,) = _json(capsys, argv)
    t = row["t"]
    assert (t is None and "t" in row["overflow"]) or t > 0  # t*_alpha beyond float64: null, listed


def test_grid_limit_states_the_row_count(capsys):
    many = ",".join(str(i / 4000) for i in range(4000))
    assert main(_with(["--t", many, "--eps", many])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "16,000,000 rows" in err and "10,000,000" in err


@pytest.mark.parametrize("fmt", [["--json"], []])
def test_chunks_equal_one_evaluation(capsys, monkeypatch, fmt):
    """Streaming in chunks (here of 7 rows) prints exactly what one chunk prints."""
    import nlbound.cli.bound as cb

    argv = BASE + ["--t", "0,0.5,1,20,1e4", "--kappa", "1,2", "--depth", "2,3,4"] + fmt
    assert main(argv) == 0
    whole = capsys.readouterr().out
    monkeypatch.setattr(cb, "CHUNK", 7)
    assert main(argv) == 0
    assert capsys.readouterr().out == whole and len(whole.splitlines()) == 30 + (0 if fmt else 2)


def test_form_ode(capsys):
    """--form ode: the rows of bound_terms(form="ode"), the same columns; --form is validated."""
    argv = ["--rho", "5.5", "--eps", "0.01", "--t", "1,10", "--depth", "2,3"]
    closed, ode = _json(capsys, argv), _json(capsys, argv + ["--form", "ode"])
    assert [set(r) for r in ode] == [set(r) for r in closed]
    for r, c in zip(ode, closed, strict=True):
        ref = bound_terms(r["d"], r["m"], r["depth"], r["kappa"], r["p"], r["delta"], r["eps"], r["beta"],
                          r["gamma"], r["rho"], r["s"], r["t"], form="ode")
        for k, v in ref.items():
            assert r[k] == (None if v == np.inf else pytest.approx(float(v), rel=1e-15))
        assert r["Delta"] < c["Delta"]
    assert main(_with(["--t", "1", "--form", "exact"])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--form == 'exact', must be one of closed, ode" in err
