"""`nlbound sweep` on the local backend: results.csv / summary.csv against closed forms, resume, processes."""

from __future__ import annotations

import csv
import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nlbound.cli.main import main
from nlbound.execution.backends import LocalBackend
from nlbound.sweep import load_spec, run_sweep

from toy_data import TINY_SWEEP_FIXED

SPEC = TINY_SWEEP_FIXED + """[sweep]
eps = [0.0, 0.1]
data_seed = [0, 1]
[horizon]
t_star_multiple = 1.0
[bounds]
kappa = [1, 2]
q = [1, 10]
terms = ["full", "no_deviation"]
delta = 0.05
"""


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def upsilon(kappa: float, p: float, d: float, m: float, delta: float) -> float:
    return math.sqrt((kappa * p * d * math.log(2) + math.log(1 / delta)) / (2 * m))  # eq. 7, by hand


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    (root / "spec.toml").write_text(textwrap.dedent(SPEC))
    spec = load_spec(root / "spec.toml")
    lines: list[str] = []
    res = run_sweep(spec, root / "out", root / "runs", backend=LocalBackend(processes=1), progress=False,
                    log=lines.append)
    return spec, res, root, lines


def test_runs_and_tables_shape(swept):
    spec, res, root, lines = swept
    assert lines == ["4 runs, 4 distinct: 0 cached, 4 to train"]
    rows, summary = read_csv(res.paths["results"]), read_csv(res.paths["summary"])
    n_t = {r.config.key(): len(read_csv(res.dirs[r.config.key()] / "trace.csv")) for r in res.runs}
    assert len(rows) == sum(n_t.values()) * 8  # every recorded t x (2 kappa x 2 q x 2 terms)
    assert list(rows[0])[:3] == ["key", "eps", "data_seed"] and "bound" in rows[0] and "bound_p" in rows[0]
    assert [(float(s["eps"]), int(s["data_seed"])) for s in summary] == [(0.0, 0), (0.0, 1), (0.1, 0), (0.1, 1)]
    # data_seed reaches the data: the two synthetic draws have different s = ||Y X~+||
    s_of = {json.loads((res.dirs[r.config.key()] / "run.json").read_text())["s"] for r in res.runs}
    assert len(s_of) == 2


def test_results_rows_are_theorem_5_2(swept):
    spec, res, root, _ = swept
    for row in read_csv(res.paths["results"]):
        info = json.loads((res.dirs[row["key"]] / "run.json").read_text())
        k, p, eps = float(row["kappa"]), float(row["bound_p"]), float(row["eps"])
        ups = upsilon(k, p, info["rank"], info["m"], 0.05)
        assert float(row["upsilon"]) == pytest.approx(ups, rel=1e-12)
        assert float(row["gamma"]) == pytest.approx(0.01**2 / float(row["q"]), rel=1e-15)  # gamma = beta^2/q
        dev = float(row["deviation"])
        assert dev >= 0 and (dev == 0) == (eps == 0.0)  # the deviation term vanishes exactly at eps = 0
        prec = float(row["precision"])  # the p-bit proxy's term (docs/PROOFS.md step P), charged for every p
        assert 0 <= prec < float("inf")
        want = float(row["margin_risk"]) + ups + (dev + prec if row["terms"] == "full" else 0.0)
        assert float(row["bound"]) == pytest.approx(want, rel=1e-12)


def test_margin_risk_is_the_trace_column(swept):
    spec, res, root, _ = swept
    rows = [r for r in read_csv(res.paths["results"]) if r["variant"] == "kappa=2 p=32 gamma=beta2/10"]
    key = res.runs[2].config.key()
    trace = read_csv(res.dirs[key] / "trace.csv")
    mine = [r for r in rows if r["key"] == key]
    assert [float(r["t"]) for r in mine] == [float(r["t"]) for r in trace]
    col = f"train_margin_risk@{0.01**2 / 10:.6g}"
    assert [float(r["margin_risk"]) for r in mine] == [float(r[col]) for r in trace]
    assert [float(r["test_risk"]) for r in mine] == [float(r["test_risk"]) for r in trace]
    t_star = res.runs[2].t_star  # eq. 15 at beta = 0.01 and this run's s
    assert [float(r["t_over_t_star"]) for r in mine] == pytest.approx([float(r["t"]) / t_star for r in mine])
    assert float(mine[-1]["t"]) == res.runs[2].config.t_end == float(f"{t_star:.3g}")


def test_summary_is_the_union_bound_minimum(swept):
    spec, res, root, _ = swept
    rows = read_csv(res.paths["results"])
    for s in read_csv(res.paths["summary"]):
        mine = [r for r in rows if r["key"] == s["key"] and r["terms"] == "full"]  # "no_deviation" is no bound
        info = json.loads((res.dirs[s["key"]] / "run.json").read_text())
        n = len(mine)
        assert int(s["grid_size"]) == n == len({(r["t"], r["variant"]) for r in mine})
        union = [float(r["bound"]) - float(r["upsilon"])
                 + upsilon(float(r["kappa"]), float(r["bound_p"]), info["rank"], info["m"], 0.05 / n) for r in mine]
        best = int(np.argmin(union))
        assert float(s["min_bound"]) == pytest.approx(union[best], rel=1e-12)
        assert float(s["t_at_min"]) == float(mine[best]["t"]) and s["variant_at_min"] == mine[best]["variant"]
        assert float(s["test_risk_at_min"]) == float(mine[best]["test_risk"])
        k = float(mine[best]["kappa"])
        price = upsilon(k, 32, info["rank"], info["m"], 0.05 / n) - upsilon(k, 32, info["rank"], info["m"], 0.05)
        assert float(s["union_price"]) == pytest.approx(price, rel=1e-9)
        assert 0 < price < math.log(n) / math.sqrt(2 * info["m"])  # sqrt(a + b) - sqrt(a) < b / (2 sqrt(a))


def test_resume_trains_nothing_and_writes_the_same_tables(swept, tmp_path):
    spec, res, root, _ = swept
    before = {k: (d / "trace.csv").stat().st_mtime_ns for k, d in res.dirs.items()}
    lines: list[str] = []
    again = run_sweep(spec, tmp_path / "out", root / "runs", backend=LocalBackend(processes=1), progress=False,
                      log=lines.append, train_fn=lambda *a: pytest.fail("a cached run was retrained"))
    assert lines == ["4 runs, 4 distinct: 4 cached, 0 to train"]
    assert again.paths["summary"].read_bytes() == res.paths["summary"].read_bytes()
    assert again.paths["results"].read_bytes() == res.paths["results"].read_bytes()
    assert {k: (d / "trace.csv").stat().st_mtime_ns for k, d in again.dirs.items()} == before


def test_two_processes_give_identical_traces(swept, tmp_path):
    spec, res, root, _ = swept
    two = run_sweep(spec, tmp_path / "out", tmp_path / "runs", backend=LocalBackend(processes=2), progress=False,
                    log=lambda line: None)
    for k, d in res.dirs.items():
        assert (two.dirs[k] / "trace.csv").read_bytes() == (d / "trace.csv").read_bytes()
        assert json.loads((two.dirs[k] / "runner.json").read_text())["pid"] != json.loads(
            (d / "runner.json").read_text())["pid"]  # trained in a worker process, not here
    assert two.paths["summary"].read_bytes() == res.paths["summary"].read_bytes()
    assert not list((tmp_path / "runs").glob("*.partial-*"))


def test_cli_prints_count_first_then_summary_and_plots(swept, tmp_path, capsys):
    spec, res, root, _ = swept
    out = tmp_path / "cli"
    argv = ["sweep", str(root / "spec.toml"), "--runs", str(root / "runs"), "--out", str(out),
            "--plot", "--plot-axes", "data_seed", "eps", "--no-progress"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"sweep spec: 4 runs (2 eps × 2 data_seed), backend local, cache {root / 'runs'}"
    assert lines[1] == "4 runs, 4 distinct: 4 cached, 0 to train"
    assert lines[2].split() == ["eps", "data_seed", "min_bound", "union_price", "t_at_min", "test_risk_at_min"]
    assert len(lines) == 3 + 4 + 1 and lines[-1].startswith("wrote ")
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "summary.csv").read_bytes() == res.paths["summary"].read_bytes()


def test_local_backend_reports_each_finished_run(tmp_path):
    from nlbound.execution.execute import default_train
    from nlbound.training import TrainConfig

    config = TrainConfig(dataset="synthetic", width=8, t_end=0.5, eps=0.1)

    class Recorder:
        def __init__(self):
            self.finished = []

        def done(self, cfg, wall):
            self.finished.append((cfg, wall))

    rec = Recorder()
    LocalBackend(processes=1).execute([config], default_train, str(tmp_path), None, rec)
    assert [c for c, _ in rec.finished] == [config] and rec.finished[0][1] > 0
    assert (tmp_path / config.key() / "trace.csv").exists() and not list(tmp_path.glob("*.partial-*"))