"""`reproduce`: declare the figures, train what the cache lacks, plot, evaluate the claims."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nlbound._io import atomic_write_json
from nlbound._validate import check_choice
from nlbound.analysis.slack import additive_table
from nlbound.analysis.soundness import deviation_soundness, soundness
from nlbound.analysis.spec import Experiment, Output
from nlbound.analysis.traces import Inputs, load_run_dir
from nlbound.data import IMAGE_DATASETS, dataset_statistics, load_dataset
from nlbound.evaluation.run_bound import check_form
from nlbound.execution.backends import LocalBackend
from nlbound.execution.cost import estimated_cost
from nlbound.execution.runner import is_done, run_all, run_walls
from nlbound.paper.claims import evaluate_claims
from nlbound.paper.crosscheck import crosscheck
from nlbound.paper.figures import Context, build
from nlbound.paper.panels import PLOTS, form_words
from nlbound.paper.plotting import render
from nlbound.paper.report import write_report

BaselineFn = Callable[[str, int, "str | None"], dict[str, float]]


def real_baselines(dataset: str, size: int, data_dir: str | None) -> dict[str, float]:
    """App. B baselines from nlbound.data.dataset_statistics: the optimal linear model's train MSE
    and risk, and the zero model's loss (= 1/2 for ±1 labels)."""
    st = dataset_statistics(load_dataset(dataset, size, data_dir=data_dir))
    return {"lin_train_loss": float(st["linear_train_mse"]), "lin_train_risk": float(st["linear_train_risk"]),
            "lin_test_risk": float(st["linear_test_risk"]), "zero_loss": 0.5}


@dataclass
class Reproduction:
    """The outcome of one invocation (for the CLI and tests)."""

    experiments: list[Experiment]
    figures: dict[str, dict[str, Path]]
    claims: list[Any]
    soundness: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


def _baselines_for(exps: list[Experiment], fn: BaselineFn, data_dir: str | None) -> dict:
    wanted = {(r.config.dataset, int(r.config.size)) for e in exps if e.optimistic_gammas for r in e.runs}
    return {k: fn(k[0], k[1], data_dir) for k in sorted(wanted)}


def reproduce(
    names: list[str],
    output: Output,
    *,
    quick: bool = False,
    ctx: Context | None = None,
    train_fn: Callable | None = None,
    baselines_fn: BaselineFn | None = None,
    report_path: Path | None = None,
    preamble: str = "",
    backend: Any = None,
    dataset: str = "mnist",
    from_cache: bool = False,
    form: str = "closed",
) -> Reproduction:
    """Run (or reuse) every run the named figures need, then render them and the claims table.

    dataset: every figure's image dataset (nlbound.data.IMAGE_DATASETS; the paper's: "mnist") unless
    `ctx` names one. backend: who trains pending runs (nlbound.execution.backends; default
    LocalBackend(output.processes)); it never changes a result. from_cache: train nothing; figures
    with a run missing from the cache are skipped (meta "skipped_not_cached"). form: the form of
    Theorem 5.2 the figures draw and soundness.json checks (evaluation.run_bound.RUN_FORMS); the
    claims are judged in the paper's ("closed"), for which their criteria were fixed."""
    check_choice("dataset", dataset, IMAGE_DATASETS)
    check_form(form)
    ctx = ctx or Context(quick=quick, data_dir=output.data_dir, dataset=dataset)
    exps = build(names, ctx)
    cache = Path(output.cache_dir)
    exps, skipped = _only_cached(exps, cache) if from_cache else (exps, [])
    configs = [c for e in exps for c in e.configs()]
    already = {c.key() for c in configs if is_done(cache, c)}
    start = time.perf_counter()
    dirs = run_all(configs, cache, train_fn=train_fn, data_dir=output.data_dir, progress=output.progress,
                   cost=lambda c: estimated_cost(c, ctx.expected_horizon(c)),
                   backend=backend or LocalBackend(output.processes))
    wall = time.perf_counter() - start
    baselines = _baselines_for(exps, baselines_fn or real_baselines, output.data_dir)
    out = Path(output.out_dir)
    inputs, figures = _draw(exps, dirs, baselines, out / "figures", form)
    paper = {k: dataclasses.replace(v, form="closed") for k, v in inputs.items()}
    claims, sound = evaluate_claims(paper), _soundness(inputs, out, form)
    walls = run_walls(dirs.values())
    cached = len(already & set(dirs))
    meta = {"quick": quick, "dataset": ctx.dataset, "form": form, "figures": [e.name for e in exps], "experiments": {e.name: e.key() for e in exps},
            "wall_s": wall, "trained": len(dirs) - cached, "cached": cached, "processes": output.processes,
            "skipped_not_cached": skipped, "sum_run_s": sum(walls.values()), "run_wall_s": walls,
            **_findings(paper, baselines)}
    atomic_write_json(out / "runs.json", _run_table(exps, walls))
    write_report(out, claims, sound, meta, report_path=report_path, preamble=preamble)
    return Reproduction(exps, figures, claims, sound, meta)


def _only_cached(exps: list[Experiment], cache: Path) -> tuple[list[Experiment], list[str]]:
    """--from-cache: the figures whose every run is in the cache, and the names of the others."""
    skipped = [e.name for e in exps if not all(is_done(cache, c) for c in e.configs())]
    return [e for e in exps if e.name not in skipped], skipped


def _soundness(drawn: dict[str, Inputs], out: Path, form: str) -> dict[str, Any]:
    """Every drawn bound (Theorem 5.2 in the drawn form, eq. 41) against the test risk, and that form's
    deviation links (written to soundness.json)."""
    sound = soundness(drawn)
    links = deviation_soundness(drawn, form)
    links["form"] = form
    sound["deviation_links"] = {k: links[k] for k in ("what", "total", "figures")}
    atomic_write_json(out / "soundness.json", links)
    return sound


def _findings(inputs: dict[str, Inputs], baselines: dict) -> dict[str, Any]:
    """claims.json meta read from the runs: App. B baselines, the GD cross-check, where runs stopped,
    the additive view of B."""
    return {"baselines": {f"{k[0]}-{k[1]}": v for k, v in baselines.items()},
            "gd_crosscheck": crosscheck(inputs), "stopped": _stops(inputs), "additive": additive_table(inputs)}


def _draw(exps: list[Experiment], dirs: dict[str, Path], baselines: dict, fig_dir: Path,
          form: str = "closed") -> tuple[dict, dict]:
    """Each figure's inputs read from its finished runs, and the figure drawn into fig_dir with
    Theorem 5.2 in `form` (named in the title unless it is the paper's)."""
    inputs, figures = {}, {}
    for e in exps:
        runs = {r.label: load_run_dir(dirs[r.config.key()], config=r.config) for r in e.runs}
        inputs[e.name] = Inputs(e, runs, baselines, form=form)
        fig = PLOTS[e.name](inputs[e.name])
        if form != "closed":
            fig.title = f"{fig.title}\nTheorem 5.2 drawn in the {form_words(form)}"
        figures[e.name] = render(fig, fig_dir)
    return inputs, figures


def _stops(inputs: dict[str, Inputs]) -> dict[str, Any]:
    """Where each run with the phase-3 stop rule ended: stopped at t (1.5 t2 observed) or at its cap."""
    out = {}
    for name, inp in inputs.items():
        for r in inp.exp.runs:
            if getattr(r.config, "stop_phase3", 0):
                run = inp.runs[r.label]
                stop = run.info.get("stopped")
                out[f"{name}: {r.label}"] = ({"ended_at": stop["t"], "why": stop["rule"]} if stop else
                                             {"ended_at": float(run.t[-1]), "why": "cap T reached: phase 3 + margin "
                                              "not observed by T"})
    return out


def _run_table(exps: list[Experiment], walls: dict[str, float]) -> dict[str, Any]:
    """Which cached run each figure used, with its configuration and training time."""
    table: dict[str, Any] = {}
    for e in exps:
        for r in e.runs:
            k = r.config.key()
            entry = table.setdefault(k, {"config": _config_dict(r.config), "wall_s": walls.get(k), "used_by": []})
            entry["used_by"].append(f"{e.name}:{r.label}")
    return table


def _config_dict(config: Any) -> dict[str, Any]:
    if hasattr(config, "as_dict"):
        return config.as_dict()

    return dataclasses.asdict(config)
