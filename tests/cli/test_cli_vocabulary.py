"""One CLI vocabulary: every option documented with one default, --runs for the run cache (the old --cache
accepted with a one-line deprecation), a user-facing top-level help, validation before data is loaded."""

from __future__ import annotations

import argparse
import re

import pytest

from nlbound._validate import Integral, Options, allowed
from nlbound.cli.bound import INPUTS
from nlbound.cli.main import SUBCOMMANDS, build_parser, main
from nlbound.planning.grid import DATA_CONSTRAINTS, GRID_CONSTRAINTS
from nlbound.theory import CONSTRAINTS
from nlbound.training.config import train_constraints


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_every_option_has_help_and_one_default(name):
    p = _subparsers()[name]
    fmt = p._get_formatter()
    for action in p._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        text = fmt._expand_help(action) if action.help else ""
        assert text.strip(), f"{name} {action.option_strings or action.dest}: no help"
        assert len(re.findall(r"default", text, re.IGNORECASE)) <= 1, f"{name} {action.option_strings}: {text!r}"


def test_top_level_help_is_for_users(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "Entry point" not in out and "dispatches" not in out
    for word in ("NLBOUND_RUNS", "NLBOUND_CACHE", "--runs", "--cache-dir"):
        assert word in out


SPEC = '[fixed]\ndataset = "synthetic"\nwidth = 4\n[sweep]\neps = [0.0, 0.1]\n[horizon]\nt_star_multiple = 1.0\n'


def test_runs_flag_and_its_old_name(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("NLBOUND_RUNS", raising=False)
    (tmp_path / "s.toml").write_text(SPEC)
    base = ["sweep", str(tmp_path / "s.toml"), "--dry-run", "--out", str(tmp_path / "out")]
    assert main(base + ["--runs", str(tmp_path / "r")]) == 0
    cap = capsys.readouterr()
    assert f"cache {tmp_path / 'r'}" in cap.out and cap.err == ""
    # --dry-run prints the runs it promises, then their count (the real run's validation, issue 22)
    assert cap.out.splitlines()[1:] == ["  eps=0", "  eps=0.1", "spec valid: 2 runs, 2 distinct; nothing trained"]
    assert main(base + ["--cache", str(tmp_path / "r")]) == 0
    cap = capsys.readouterr()
    assert f"cache {tmp_path / 'r'}" in cap.out
    assert cap.err == "nlbound: warning: --cache is deprecated, use --runs (the same run cache)\n"
    assert main(base + ["--cache", "a", "--runs", "b"]) == 2
    assert "give only --runs" in capsys.readouterr().err
    monkeypatch.setenv("NLBOUND_RUNS", str(tmp_path / "env"))
    assert main(base) == 0
    assert f"cache {tmp_path / 'env'}" in capsys.readouterr().out


@pytest.mark.parametrize("argv, flag", [(["--width", "100000"], "--width"), (["--alpha", "1.5"], "--alpha"),
                                        (["--integrator", "gd", "--lr", "0"], "--lr"),
                                        (["--eps", "2"], "--eps")])
def test_train_validates_before_loading_data(tmp_path, capsys, monkeypatch, argv, flag):
    import nlbound.data

    def no_data(*a, **k):
        raise AssertionError("the data was loaded before the flags were checked")

    monkeypatch.setattr(nlbound.data, "load_dataset", no_data)
    assert main(["train", "--out", str(tmp_path / "run"), "--no-progress", *argv]) == 2  # --until tstar
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err


def test_bound_alpha_with_no_admissible_alpha(capsys):
    argv = ["bound", "--d", "49", "--m", "60000", "--eps", "0.01", "--beta", "1.2", "--gamma", "0.001", "--rho", "1",
            "--s", "1", "--alpha", "0.5"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "undefined for every alpha" in err and "1.44 >= 1" in err
    assert "(1.44, 1)" not in err
    capsys.readouterr()
    argv[argv.index("1.2")] = "0.9"  # a non-empty interval: its range, as before
    assert main(argv) == 2 and "(0.81, 1)" in capsys.readouterr().err


def _outside(constraint):
    """A value the constraint refuses, as command-line text."""
    if isinstance(constraint, Options):
        return "3" if all(isinstance(c, (int, float)) for c in constraint.choices) else "nonsense"
    step = 1 if constraint.kind is Integral else 0.5
    if constraint.hi is not None:
        return str(constraint.hi + step)
    return str(constraint.lo - step) if constraint.closed in ("both", "left") else str(constraint.lo)


_BOUND = ["bound", "--d", "49", "--m", "1000", "--eps", "0.01", "--beta", "0.01", "--gamma", "0.1", "--rho", "1",
          "--s", "0.5", "--t", "1"]
_PLAN = ["plan", "--d", "49", "--m", "1000", "--s", "0.5", "--margin-risk", "0.1", "--no-progress"]


def _help_and_refusals():
    """(argv base, flag, its constraint): the flag's --help states allowed(constraint) and a value
    outside it is refused in one line stating the same range."""
    tc = train_constraints()
    cases = [(_BOUND, f"--{k}", CONSTRAINTS[k]) for k in INPUTS if k != "m"]
    cases += [(_BOUND, "--margin-risk", CONSTRAINTS["margin_risk"])]
    cases += [(["train", "--no-progress"], f"--{f}", tc[k]) for f, k in
              (("depth", "depth"), ("width", "width"), ("eps", "eps"), ("beta", "beta"), ("seed", "init_seed"),
               ("data-seed", "data_seed"))]
    cases += [(["train", "--no-progress", "--integrator", "gd"], "--lr", tc["lr"]),
              (["train", "--no-progress"], "--rtol", tc["rtol"])]
    cases += [(_PLAN, f"--{f}", GRID_CONSTRAINTS[k]) for f, k in
              (("depth", "depths"), ("eps", "epss"), ("beta", "betas"), ("kappa", "kappas"), ("p", "ps"),
               ("delta", "delta"), ("width", "width"))]
    cases += [(_PLAN, "--s", DATA_CONSTRAINTS["s"])]
    return cases


@pytest.mark.parametrize("base, flag, constraint", _help_and_refusals(), ids=lambda v: v if isinstance(v, str) else "")
def test_help_ranges_are_the_checked_ranges(tmp_path, capsys, monkeypatch, base, flag, constraint):
    """The range --help states is generated from the constraint table the value is checked against
    (nlbound._validate.allowed): a value outside it is refused, exit 2, in one line with that range."""
    import nlbound.data

    monkeypatch.setattr(nlbound.data, "load_dataset", lambda *a, **k: pytest.fail("data loaded before the check"))
    sub = _subparsers()[base[0]]
    (action,) = [a for a in sub._actions if flag in a.option_strings]
    assert allowed(constraint) in sub._get_formatter()._expand_help(action)
    argv = [*base, *(["--out", str(tmp_path / "run")] if base[0] == "train" else [])]
    if flag in argv:
        argv = argv[:argv.index(flag)] + argv[argv.index(flag) + 2:]
    assert main([*argv, flag, _outside(constraint)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err and constraint.description in err, err
