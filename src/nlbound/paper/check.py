"""`nlbound reproduce --check`: a fresh reproduction against committed results, within per-regime tolerances.

Bits are promised only on one machine (docs/ARCHITECTURE.md, "Tolerance policy"); across machines a
value v of a reproduction matches the committed r when |v − r| ≤ atol + rtol·|r|, with (rtol, atol) per
regime, set from a fresh `make reproduce` on an AVX-512 CPU against `results/` committed from another
CPU (issue 20), with a margin of 10-20x over what was measured:

- Figs 2–5 (theory curves on the runs' recorded times and norms): ≤ 5e-12 relative measured -> 1e-10.
- Figs 10, 11 (bitwise measured): 1e-10, as Figs 2–5.
- Figs 1 and 6 (float32 traces of adaptive runs to 3 t* and of deep nets): 4e-5–9e-5 relative -> 1e-3.
- Fig. 7 (loss decrease over β, ε): 2.5e-6 relative -> 3e-5.
- Figs 8–9 (ε ≥ 0.1 runs to t = 319–568, where kink crossings amplify rounding): 1–6 test points of
  10,000 (6e-4 absolute in a risk) -> 2e-3 absolute (20 test points) plus 1e-3 relative.
- claims.json, soundness and any other JSON: what Figs 8–9 allow (the claims read every figure).
  Strings, booleans and nulls (verdicts, labels) must be equal, so must the keys; keys that describe
  how a run went rather than what it computed (wall times, cache counts, process counts, versions)
  are not compared.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable


@dataclass(frozen=True)
class Tolerance:
    """|v − r| ≤ atol + rtol·|r| (r the committed value); non-finite values must be equal."""

    rtol: float
    atol: float
    regime: str

    def allowed(self, ref: float) -> float:
        return self.atol + self.rtol * abs(ref)


THEORY = Tolerance(1e-10, 1e-14, "theory curves (measured <= 5e-12 relative, Figs 2-5; bitwise in 10, 11)")
FLOAT32_TRACES = Tolerance(1e-3, 1e-9, "float32 adaptive traces (measured 4e-5 - 9e-5 relative, Figs 1, 6)")
LOSS_DECREASE = Tolerance(3e-5, 1e-12, "loss decrease (measured 2.5e-6 relative, Fig. 7)")
LONG_RUNS = Tolerance(1e-3, 2e-3, "long eps >= 0.1 runs (measured <= 6 test points of 10,000, Figs 8-9)")
TOLERANCES = {"fig1": FLOAT32_TRACES, "fig2": THEORY, "fig3": THEORY, "fig4": THEORY, "fig5": THEORY,
              "fig6": FLOAT32_TRACES, "fig7": LOSS_DECREASE, "fig8": LONG_RUNS, "fig9": LONG_RUNS,
              "fig10": THEORY, "fig11": THEORY, "lemmas": THEORY}
DEFAULT = LONG_RUNS  # claims.json, soundness.json, runs.json and any other file: the loosest regime
# JSON keys that describe how a run went, not what it computed
NOT_COMPARED = frozenset({"wall_s", "run_wall_s", "sum_run_s", "trained", "cached", "processes", "threads",
                          "versions", "date", "created"})
COMPARED_SUFFIXES = (".csv", ".json")


def tolerance_for(relpath: str) -> Tolerance:
    """figures/fig3.csv -> Figs 2-5's; fig11.json -> Fig. 11's; lemmas.json -> Fig. 10's; else DEFAULT."""
    return TOLERANCES.get(Path(relpath).stem, DEFAULT)


@dataclass
class FileReport:
    """One file compared: the largest |Δ| and |Δ|/allowed, where, and any structural problem."""

    path: str
    tolerance: Tolerance
    values: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    worst_ratio: float = 0.0  # max |Δ| / allowed: ≤ 1 within tolerance
    worst_at: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.worst_ratio <= 1.0

    def value(self, where: str, new: float, ref: float) -> None:
        self.values += 1
        if new == ref or (math.isnan(new) and math.isnan(ref)):
            return
        if not (math.isfinite(new) and math.isfinite(ref)):
            self.problems.append(f"{where}: {new!r} vs {ref!r}")
            return
        diff = abs(new - ref)
        ratio = diff / self.tolerance.allowed(ref) if self.tolerance.allowed(ref) > 0 else math.inf
        self.max_abs = max(self.max_abs, diff)
        self.max_rel = max(self.max_rel, diff / abs(ref) if ref != 0 else math.inf)
        if ratio > self.worst_ratio:
            self.worst_ratio, self.worst_at = ratio, f"{where}: {new!r} vs {ref!r}"

    def line(self) -> str:
        verdict = "ok" if self.ok else "DIFFERS"
        head = (f"{self.path}: {verdict}; {self.values} values, largest |diff| {self.max_abs:.3g} "
                f"(relative {self.max_rel:.3g}), {self.worst_ratio:.3g} of the allowed "
                f"[rtol {self.tolerance.rtol:g}, atol {self.tolerance.atol:g}: {self.tolerance.regime}]")
        worst = f"\n    worst at {self.worst_at}" if self.worst_at else ""
        return head + worst + "".join(f"\n    {p}" for p in self.problems[:10]) + (
            f"\n    ... {len(self.problems) - 10} more" if len(self.problems) > 10 else "")


@dataclass
class CheckReport:
    files: list[FileReport]
    missing: list[str]  # expected (committed) but absent from the reproduction
    not_compared: list[str]  # present on one side only and not expected

    @property
    def ok(self) -> bool:
        return bool(self.files) and not self.missing and all(f.ok for f in self.files)

    def text(self, fresh: Path, committed: Path) -> str:
        lines = [f"check {fresh} against {committed}:"] + [f.line() for f in self.files]
        lines += [f"{p}: MISSING from {fresh}" for p in self.missing]
        lines += [f"{p}: not compared (not made by this reproduction, or in one directory only)"
                  for p in self.not_compared]
        n_bad = sum(not f.ok for f in self.files) + len(self.missing)
        lines.append(f"{len(self.files)} files compared: " + (
            "all within tolerance" if self.ok else
            "nothing compared" if not self.files else f"{n_bad} outside tolerance or missing"))
        return "\n".join(lines)


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and p.suffix in COMPARED_SUFFIXES}


# what `reproduce <figure>` writes beside figures/<figure>.csv
EXTRA_FILES = {"fig10": ("lemmas.json",), "fig11": ("fig11.json",)}


def expected_files(figures: Iterable[str], all_figures: Iterable[str], fresh: str | Path) -> list[str]:
    """The files a reproduction of `figures` made: figures/<name>.csv (and fig10's, fig11's JSON); with
    every one of `all_figures` (`reproduce all`) also the top-level JSON it wrote (claims.json,
    runs.json, soundness), which a subset writes for that subset only and so are not compared."""
    names = set(figures)
    out = [f"figures/{n}.csv" for n in sorted(names)] + [f for n in sorted(names) for f in EXTRA_FILES.get(n, ())]
    if set(all_figures) <= names:
        extra = {f for fs in EXTRA_FILES.values() for f in fs}
        out += sorted(p.name for p in Path(fresh).glob("*.json") if p.name not in extra)
    return out


def check_dirs(fresh: str | Path, committed: str | Path, expected: Iterable[str] | None = None) -> CheckReport:
    """Compare the CSV and JSON files of both directories. `expected`: the committed files this
    reproduction made (e.g. one figure's); default all of them. An expected file missing from `fresh`
    fails the check; files outside `expected` or on one side only are listed, not compared."""
    fresh, committed = Path(fresh), Path(committed)
    mine, theirs = _files(fresh), _files(committed)
    want = set(theirs) if expected is None else set(expected) & theirs
    reports = [compare_file(fresh / rel, committed / rel, rel) for rel in sorted(want & mine)]
    missing = sorted(want - mine)
    others = sorted((mine | theirs) - want)
    return CheckReport(reports, missing, others)


def compare_file(new: Path, ref: Path, rel: str) -> FileReport:
    rep = FileReport(rel, tolerance_for(rel))
    try:
        if new.suffix == ".csv":
            _compare_csv(_read_csv(new), _read_csv(ref), rep)
        else:
            _compare_json(json.loads(new.read_text()), json.loads(ref.read_text()), "", rep)
    except (OSError, ValueError, csv.Error) as exc:
        rep.problems.append(f"cannot be read: {exc}")
    return rep


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if not rows:
        raise ValueError(f"{path}: empty")
    return rows[0], rows[1:]


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _series(header: list[str], rows: list[list[str]]) -> dict[tuple[str, ...], list[list[str]]]:
    """Rows grouped by the cells of every column but x and y (panel, panel_title, series: the figures'
    long format, plotting.FigureData); a CSV without x and y columns is one series, row by row."""
    keys = [j for j, h in enumerate(header) if h not in ("x", "y")] if {"x", "y"} <= set(header) else []
    out: dict[tuple[str, ...], list[list[str]]] = {}
    for r in rows:
        out.setdefault(tuple(r[j] for j in keys if j < len(r)), []).append(r)
    return out


def _compare_csv(new: tuple[list[str], list[list[str]]], ref: tuple[list[str], list[list[str]]],
                 rep: FileReport) -> None:
    if new[0] != ref[0]:
        rep.problems.append(f"header {new[0]} vs {ref[0]}")
        return
    header = ref[0]
    a, b = _series(*new), _series(*ref)
    for key in sorted(set(a) ^ set(b)):
        rep.problems.append(f"series {' / '.join(key)} only in the {'reproduction' if key in a else 'committed'}")
    for key in sorted(set(a) & set(b), key=str):
        if len(a[key]) != len(b[key]):
            rep.problems.append(f"series {' / '.join(key)}: {len(a[key])} rows vs {len(b[key])}")
            continue
        for i, (rn, rr) in enumerate(zip(a[key], b[key], strict=True)):
            if len(rn) != len(header) or len(rr) != len(header):
                rep.problems.append(f"series {' / '.join(key)} row {i}: {len(rn)} and {len(rr)} cells, "
                                    f"the header {len(header)}")
                continue
            for col, cn, cr in zip(header, rn, rr, strict=True):
                vn, vr = _number(cn), _number(cr)
                if vn is not None and vr is not None:
                    rep.value(f"{' / '.join(key)} row {i} {col}", vn, vr)
                elif cn != cr:
                    rep.problems.append(f"{' / '.join(key)} row {i} {col}: {cn!r} vs {cr!r}")


def _compare_json(new: Any, ref: Any, where: str, rep: FileReport) -> None:
    if isinstance(ref, dict) and isinstance(new, dict):
        keys = set(ref) - NOT_COMPARED, set(new) - NOT_COMPARED
        for k in sorted(keys[0] ^ keys[1]):
            rep.problems.append(f"{where}/{k}: only in the {'committed' if k in keys[0] else 'reproduction'}")
        for k in sorted(keys[0] & keys[1]):
            _compare_json(new[k], ref[k], f"{where}/{k}", rep)
    elif isinstance(ref, list) and isinstance(new, list):
        if len(ref) != len(new):
            rep.problems.append(f"{where or '/'}: {len(new)} items vs {len(ref)}")
            return
        for i, (x, y) in enumerate(zip(new, ref, strict=True)):
            _compare_json(x, y, f"{where}[{i}]", rep)
    elif _is_number(ref) and _is_number(new):
        rep.value(where or "/", float(new), float(ref))
    elif new != ref or type(new) is not type(ref):
        rep.problems.append(f"{where or '/'}: {new!r} vs {ref!r}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
