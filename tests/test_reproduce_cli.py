"""`nlbound reproduce` command line: error paths, and one real-MNIST end-to-end smoke run (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nlbound.cli.main import main


def test_unknown_figure_exits_2(capsys):
    assert main(["reproduce", "fig10", "--out", "x", "--cache", "y"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fig10" in err[0] and "fig1, fig2" in err[0] and "fig9" in err[0]


def test_bad_processes_exits_2(capsys):
    assert main(["reproduce", "fig1", "--processes", "0"]) == 2
    assert "processes" in capsys.readouterr().err


def test_cache_inside_out_exits_2(tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["reproduce", "fig2", "--out", str(out), "--cache", str(out / "runs")]) == 2
    assert "cache" in capsys.readouterr().err


@pytest.mark.slow
def test_reproduce_fig2_quick_on_real_mnist(tmp_path):
    """Trains the one run of Fig. 2 (7×7, β=ε=1e-3) on real MNIST and checks the outputs."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "nlbound", "reproduce", "fig2", "--quick", "--out", str(tmp_path / "out"),
           "--cache", str(tmp_path / "runs"), "--processes", "1", "--no-progress"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "out"
    for ext in ("png", "pdf", "csv"):
        assert (out / "figures" / f"fig2.{ext}").stat().st_size > 100
    claims = {c["id"]: c for c in json.loads((out / "claims.json").read_text())["claims"]}
    assert claims["C3"]["holds"] is not None and claims["C3"]["measured"]["B_kappa2"] > 0
    assert not Path(tmp_path / "REPRODUCTION.md").exists()  # quick runs never write the top-level report
