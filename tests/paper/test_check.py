"""`reproduce --check` (nlbound.paper.check) on small synthetic result directories, and its CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlbound.cli.main import main
from nlbound.paper.check import DEFAULT, THEORY, TOLERANCES, check_dirs, tolerance_for

HEADER = "panel,panel_title,series,x,y\n"


def _fig(path: Path, ys, name="test risk", xs=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    xs = xs if xs is not None else [float(i) for i in range(len(ys))]
    path.write_text(HEADER + "".join(f'0,"a, b",{name},{x!r},{y!r}\n' for x, y in zip(xs, ys, strict=True)))


def _claims(path: Path, b: float, holds=True, wall=1.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"claims": [{"id": "C1", "holds": holds, "measured": {"B": b}}],
                                "meta": {"wall_s": wall, "figures": ["fig2"]}, "null_means": "x"}))


@pytest.fixture
def dirs(tmp_path):
    ref, new = tmp_path / "results", tmp_path / "fresh"
    for d in (ref, new):
        _fig(d / "figures" / "fig2.csv", [0.45, 0.25, 1e-3])
        _claims(d / "claims.json", 0.3569)
    return new, ref


def test_identical_directories_pass(dirs):
    rep = check_dirs(*dirs)
    assert rep.ok and [f.path for f in rep.files] == ["claims.json", "figures/fig2.csv"]
    assert all(f.max_abs == 0 and f.values > 0 for f in rep.files)


def test_a_difference_inside_the_tolerance_passes_and_is_reported(dirs):
    new, ref = dirs
    y = 0.25 * (1 + 0.5 * THEORY.rtol)  # half of what Fig. 2's regime allows
    _fig(new / "figures" / "fig2.csv", [0.45, y, 1e-3])
    rep = check_dirs(new, ref)
    fig = next(f for f in rep.files if f.path == "figures/fig2.csv")
    assert rep.ok and fig.max_abs == pytest.approx(y - 0.25, rel=1e-3) and 0.4 < fig.worst_ratio < 0.6
    assert "row 1 y" in fig.worst_at and "largest |diff|" in rep.text(new, ref)


def test_a_difference_outside_the_tolerance_fails(dirs):
    new, ref = dirs
    _fig(new / "figures" / "fig2.csv", [0.45, 0.25 * (1 + 3 * THEORY.rtol), 1e-3])
    rep = check_dirs(new, ref)
    assert not rep.ok and "figures/fig2.csv: DIFFERS" in rep.text(new, ref)


def test_the_same_difference_is_within_the_long_runs_regime(dirs):
    """A 1e-3 absolute change in a risk: outside Fig. 2's regime, inside Figs 8-9's (20 test points)."""
    new, ref = dirs
    for name, ok in (("fig2", False), ("fig8", True)):
        _fig(ref / "figures" / f"{name}.csv", [0.45, 0.25, 1e-3])
        _fig(new / "figures" / f"{name}.csv", [0.45, 0.251, 1e-3])
        assert next(f for f in check_dirs(new, ref).files if f.path.endswith(f"{name}.csv")).ok is ok


def test_a_missing_file_is_reported_and_fails(dirs):
    new, ref = dirs
    (new / "figures" / "fig2.csv").unlink()
    rep = check_dirs(new, ref)
    assert not rep.ok and rep.missing == ["figures/fig2.csv"]
    assert "figures/fig2.csv: MISSING" in rep.text(new, ref)
    # a figure that was not reproduced is only listed, when the expected files are given
    rep = check_dirs(new, ref, expected=["claims.json"])
    assert rep.ok and rep.not_compared == ["figures/fig2.csv"]


def test_structure_verdicts_and_non_finite_values_must_match(dirs):
    new, ref = dirs
    _claims(new / "claims.json", 0.3569, holds=False, wall=99.0)  # wall time: not compared
    _fig(new / "figures" / "fig2.csv", [0.45, 0.25])
    rep = check_dirs(new, ref)
    claims, fig = rep.files
    assert not claims.ok and any("holds: False vs True" in p for p in claims.problems)
    assert not any("wall_s" in p for p in claims.problems)
    assert not fig.ok and "2 rows vs 3" in fig.problems[0]
    _fig(new / "figures" / "fig2.csv", [0.45, 0.25, float("inf")])
    assert not check_dirs(new, ref).ok
    _fig(new / "figures" / "fig2.csv", [0.45, 0.25, 1e-3], name="train risk")
    assert "only in the reproduction" in " ".join(check_dirs(new, ref).files[1].problems)


def test_tolerance_per_file():
    assert tolerance_for("figures/fig3.csv") is THEORY and tolerance_for("fig11.json") is TOLERANCES["fig11"]
    assert tolerance_for("claims.json") is DEFAULT and tolerance_for("soundness.json") is DEFAULT


def test_cli_refuses_check_against_its_own_output(tmp_path, capsys):
    assert main(["reproduce", "fig2", "--out", str(tmp_path / "o"), "--check", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--check ==" in err and "--out" in err
    assert main(["reproduce", "fig2", "--out", str(tmp_path / "o"), "--check", str(tmp_path / "nope")]) == 2
    assert "--check ==" in capsys.readouterr().err
