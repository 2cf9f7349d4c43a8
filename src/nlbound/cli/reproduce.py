"""Reproduce the paper's Figures 1-9 and the claims table on real MNIST, or Fashion-MNIST with --dataset
fashion (runs are cached by config hash)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nlbound._io import check_output_dir, check_output_file
from nlbound._validate import check_integer
from nlbound.analysis.spec import Output
from nlbound.cli._common import add_runs_flag, runs_dir
from nlbound.data import IMAGE_DATASETS
from nlbound.evaluation.run_bound import RUN_FORMS
from nlbound.execution.backends import make_backend
from nlbound.paper import reproduce as paper_reproduce
from nlbound.paper.check import check_dirs, expected_files
from nlbound.paper.fig10 import FIG10_RUNS, QUICK_RUNS, fig10
from nlbound.paper.fig11 import reproduce_fig11
from nlbound.paper.figures import FIGURES, Context

# figures drawn from cached runs by their own module, not part of "all" (minutes per net)
EXTRA_FIGURES = {"fig11": "Theorem 5.2 beside the baseline bounds on four runs of Figs 1, 3, 5 "
                          "(PAC-Bayes optimisation: minutes per net and time)",
                   "fig10": "the proof's links measured on 5 runs of Figs 1, 3, 8, 9 (sensitivity flows), "
                            "results/lemmas.json"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("figures", nargs="*", default=["all"], metavar="FIGURE",
                        help=f"any of: all, {', '.join(FIGURES)}, and (not in all) "
                             + "; ".join(f"{k}: {v}" for k, v in EXTRA_FIGURES.items()))
    parser.add_argument("--form", choices=RUN_FORMS, default="closed",
                        help="the form of Theorem 5.2 the figures draw and soundness.json checks (docs/PROOFS.md; "
                             "runtime*: the a-posteriori run-time variant); the claims are judged in the paper's "
                             "form [default closed, the paper's]")
    parser.add_argument("--dataset", choices=IMAGE_DATASETS, default="mnist",
                        help="the image dataset every figure is trained on (the paper's: mnist) [default mnist]")
    parser.add_argument("--quick", action="store_true",
                        help="reduced smoke version (fewer β/ε, shorter horizons, looser tolerance)")
    parser.add_argument("--out", default=None,
                        help="figures, CSVs and claims go here (default: results, or results-quick with --quick; "
                             "results/<dataset> for a dataset other than mnist)")
    add_runs_flag(parser, "; never inside --out")
    parser.add_argument("--processes", type=int, default=2,
                        help="training processes (with --backend ray and no --address: CPUs of the local Ray runtime)")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="who trains the runs: local processes, or one Ray task per run (needs nlbound[ray])")
    parser.add_argument("--address", default=None,
                        help="Ray cluster to join from one of its nodes ('auto' or HOST:6379); the cache must be shared with it")
    parser.add_argument("--data-dir", default=None, help="directory of MNIST IDX files (default: see README)")
    parser.add_argument("--report", default=None,
                        help="also write the claims report here (default: ./REPRODUCTION.md for a full "
                             "run of all figures into results/, otherwise only <out>/REPRODUCTION.md)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--from-cache", action="store_true",
                        help="train nothing: draw only the figures whose every run is in the cache (the others "
                             "are named on stderr)")
    parser.add_argument("--no-crosscheck", action="store_true",
                        help="leave out Fig. 1's GD cross-check run (the paper's own scheme, ~750 s, the longest run)")
    parser.add_argument("--check", default=None, metavar="DIR",
                        help="then compare --out with committed results in DIR (e.g. results) within the "
                             "per-regime tolerances of nlbound.paper.check; exit 1 if outside")
    parser.add_argument("--lemma-eps", default=None, metavar="EPS[,EPS...]",
                        help="fig10 only: the lemma runs with these ε (default: all of 0.001, 0.01, 0.1, 0.2, 0.4)")


def _default_out(dataset: str, quick: bool, form: str = "closed") -> str:
    """results (results-quick) for the paper's MNIST, results/<dataset> (results-quick/<dataset>) otherwise;
    a form other than the paper's in its own form-<form> folder below that."""
    root = "results-quick" if quick else "results"
    out = root if dataset == "mnist" else f"{root}/{dataset}"
    return out if form == "closed" else f"{out}/form-{form}"


def run(args: argparse.Namespace) -> int:
    names = [n.lower() for n in (args.figures or ["all"])]
    bad = [n for n in names if n not in ("all", *FIGURES, *EXTRA_FIGURES)]
    if bad:
        raise ValueError(f"figure == {bad[0]!r}, must be one of all, {', '.join((*FIGURES, *EXTRA_FIGURES))}")
    check_integer("processes", args.processes, 1, 64)
    extra = [n for n in names if n in EXTRA_FIGURES]
    if args.dataset != "mnist" and extra:
        raise ValueError(f"figure == {extra[0]!r} is drawn on mnist only; with --dataset {args.dataset} "
                         f"name any of all, {', '.join(FIGURES)}")
    if args.form != "closed" and extra:
        raise ValueError(f"figure == {extra[0]!r} draws its own bounds; --form applies to all, {', '.join(FIGURES)}")
    out = Path(args.out or _default_out(args.dataset, args.quick, args.form))
    cache_arg, cache_name = runs_dir(args)
    cache = Path(cache_arg)
    if cache.resolve() == out.resolve() or out.resolve() in cache.resolve().parents:
        raise ValueError(f"{cache_name} == {str(cache)!r}, must not lie inside the output directory {str(out)!r}")
    report = Path(args.report) if args.report else None
    if (report is None and not args.quick and "all" in names and args.out is None and args.dataset == "mnist"
            and args.form == "closed"):
        report = Path("REPRODUCTION.md")
    _check_paths(out, cache, report, cache_name=cache_name)
    if args.check is not None and (not Path(args.check).is_dir() or Path(args.check).resolve() == out.resolve()):
        raise ValueError(f"--check == {args.check!r}, must be a directory of committed results other than --out")
    done = [n for n in names if n != "all"] + (list(FIGURES) if "all" in names else [])

    backend = make_backend(args.backend, processes=args.processes, address=args.address)
    output = Output(out_dir=str(out), cache_dir=str(cache), processes=args.processes,
                    progress=not args.no_progress, data_dir=args.data_dir)
    if "fig10" in names:
        _fig10(args, output)
        names = [n for n in names if n != "fig10"]
        if not names:
            return _check(args.check, out, done)
    if "fig11" in names:
        _fig11(args, output, backend)
        names = [n for n in names if n != "fig11"]
        if not names:
            return _check(args.check, out, done)
    ctx = Context(quick=args.quick, data_dir=args.data_dir, crosscheck=not args.no_crosscheck, dataset=args.dataset)
    res = paper_reproduce.reproduce(names, output, quick=args.quick, report_path=report, backend=backend, ctx=ctx,
                                    from_cache=args.from_cache, dataset=args.dataset, form=args.form,
                                    preamble=_preamble(report or out / "REPRODUCTION.md"))
    _summary(res, out)
    return _check(args.check, out, done)


def _summary(res, out: Path) -> None:
    """One line on stdout: figures written, claims held, sound curves, training time (and a warning
    line on stderr naming the figures --from-cache skipped)."""
    if res.meta.get("skipped_not_cached"):
        print(f"nlbound: warning: not in the cache, skipped: {', '.join(res.meta['skipped_not_cached'])}",
              file=sys.stderr)
    held = sum(c.holds is True for c in res.claims)
    failed = [c.id for c in res.claims if c.holds is False]
    th = res.soundness["theorem"]
    print(f"wrote {len(res.figures)} figures to {out / 'figures'}; claims: {held} hold, "
          f"{len(failed)} do not{' (' + ', '.join(failed) + ')' if failed else ''}; "
          f"bound ≥ test risk on {th['sound']}/{th['total']} curves; "
          f"training took {res.meta['wall_s']:.0f} s ({res.meta['trained']} runs trained, "
          f"{res.meta['cached']} cached)", file=sys.stdout)


def _check(committed: str | None, out: Path, figures: list[str]) -> int:
    """--check: the reproduction in `out` against `committed`, file by file (0 within tolerance, else 1)."""
    if committed is None:
        return 0
    rep = check_dirs(out, committed, expected_files(figures, FIGURES, out))
    print(rep.text(out, Path(committed)), file=sys.stdout)
    return 0 if rep.ok else 1


def _fig11(args: argparse.Namespace, output, backend) -> None:
    """Train (or reuse) the four runs of Fig. 11 with the one runner, then draw it from the cache."""
    paths = reproduce_fig11(output.cache_dir, output.out_dir, quick=args.quick, data_dir=args.data_dir,
                            backend=backend, progress=output.progress)
    print(f"wrote {', '.join(str(p) for p in paths.values())}", file=sys.stdout)


def _fig10(args: argparse.Namespace, output) -> None:
    """Compute (or reuse from <cache>/lemmas/) the lemma runs of Fig. 10, then draw it and write lemmas.json."""
    allowed = [f["eps"] for _, _, f in (QUICK_RUNS if args.quick else FIG10_RUNS)]
    eps: list[float] | None = None
    if args.lemma_eps is not None:
        try:
            eps = [float(x) for x in args.lemma_eps.split(",")]
        except ValueError:
            eps = []  # refused just below
        if not eps or any(e not in allowed for e in eps):
            raise ValueError(f"--lemma-eps == {args.lemma_eps!r}, must be a comma-separated subset of "
                             + ", ".join(f"{e:g}" for e in allowed))
    res = fig10(output.cache_dir, output.out_dir, quick=args.quick, data_dir=args.data_dir, eps=eps,
                log=None if args.no_progress else (lambda s: print(s, file=sys.stderr)))
    print(f"wrote {', '.join(str(p) for p in res['paths'].values())}; lemma runs: {res['computed']} computed, "
          f"{res['cached']} cached; measured/bound ratios > 1: {res['violations']}", file=sys.stdout)


def _check_paths(out: Path, cache: Path, report: Path | None, cache_name: str) -> None:
    """Every output path, before any training (the plots come only after all of it)."""
    check_output_dir(out, "--out")
    check_output_dir(out / "figures", "--out")
    check_output_dir(cache, cache_name)
    if report is not None:
        check_output_file(report, "--report")


def _preamble(report: Path | None) -> str:
    """Keep a hand-written part of an existing report (everything above the generated marker): the
    --report's, else <out>/REPRODUCTION.md's (e.g. results/fashion's findings)."""
    marker = "<!-- generated by nlbound reproduce: below this line -->\n"
    if report is not None and report.exists():
        text = report.read_text()
        if marker in text:
            return text.split(marker)[0] + marker
    return marker
