"""Probe of `sweep`, `plan`, `compare` (and `bound --form ode`) under bad input and faults (issue 22).

Usage: .venv/bin/python scripts/probe_issue22.py [SCRATCH_DIR]   (synthetic data only; ~10 min on 2 cores)

Each case runs the real CLI in a subprocess. A bad input is CLEAN when: exit status 2, stderr has no
traceback, its first line starts `nlbound <cmd>: error:` (argparse: `nlbound <cmd>: error:` too), it is
ONE line, and it names the expected thing (a flag, table/field or path). Otherwise it is classified as
traceback / no answer (timeout) / silent success (exit 0) / unclear (anything else).
Fault scenarios have their own pass criterion (listed with them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from nlbound.sweep import expand, load_spec

NL = str(Path(sys.executable).with_name("nlbound"))  # the CLI of this interpreter's environment
ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/nlbound-probe-issue22")  # wiped and rebuilt
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

BASE = """[fixed]
dataset = "synthetic"
size = 7
{fixed}
[sweep]
{sweep}
[horizon]
{horizon}
{extra}"""


def spec(name, fixed="", sweep="eps = [0.1]", horizon="t_end = 0.5", extra="", raw=None) -> str:
    path = ROOT / "specs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(raw, bytes):
        path.write_bytes(raw)
    else:
        path.write_text(raw if raw is not None else BASE.format(fixed=fixed, sweep=sweep, horizon=horizon, extra=extra))
    return str(path)


def sw(*args):
    return ["sweep", *args, "--runs", str(ROOT / "c"), "--out", str(ROOT / "o"), "--no-progress"]


def run(argv, timeout=120, stdin=None):
    try:
        p = subprocess.run([NL, *argv], capture_output=True, text=True, timeout=timeout, env=ENV, cwd=ROOT)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return None, "", ""


def classify(cmd, rc, err, needle):
    if rc is None:
        return "no answer"
    if "Traceback" in err:
        return "traceback"
    if rc == 0:
        return "silent success"
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("nlbound: warning:")]
    if rc == 2 and len(lines) == 1 and lines[0].startswith(f"nlbound {cmd}: error:") and needle in lines[0]:
        return "clean"
    return "unclear"


def bad_inputs(trained: Path) -> list[tuple[str, list[str], str]]:
    big = ", ".join(str(i) for i in range(1, 2002))
    F = ROOT / "afile"
    cases = [
        # ---- sweep: spec contents
        ("eps bool", sw(spec("a1.toml", fixed="eps = true", sweep="beta = [0.01]")), "[fixed] eps"),
        ("beta bool swept", sw(spec("a1b.toml", sweep="beta = [true, 0.01]")), "[sweep] beta"),
        ("width bool", sw(spec("a2.toml", fixed="width = true")), "[fixed] width"),
        ("depth 2.5", sw(spec("a3.toml", sweep="depth = [2.5]")), "[sweep] depth"),
        ("beta -1 swept", sw(spec("a4.toml", sweep="beta = [-1.0]")), "[sweep] beta"),
        ("beta string", sw(spec("a5.toml", sweep="beta = ['0.01']")), "[sweep] beta"),
        ("beta nan", sw(spec("a6.toml", sweep="beta = [nan]")), "[sweep] beta"),
        ("beta inf", sw(spec("a7.toml", sweep="beta = [inf]")), "[sweep] beta"),
        ("empty axis", sw(spec("a8.toml", sweep="eps = []")), "[sweep] eps"),
        ("duplicate value", sw(spec("a9.toml", sweep="eps = [0.1, 0.1]")), "[sweep] eps"),
        ("num 1e12", sw(spec("a10.toml", sweep="eps = {lin = [0, 1], num = 1e12}")), "[sweep] eps.num"),
        ("num 0", sw(spec("a11.toml", sweep="eps = {lin = [0, 1], num = 0}")), "[sweep] eps.num"),
        ("num 2.5", sw(spec("a12.toml", sweep="eps = {lin = [0, 1], num = 2.5}")), "[sweep] eps.num"),
        ("log range through 0", sw(spec("a13.toml", sweep="beta = {log = [0, 1], num = 3}")), "[sweep] beta"),
        ("range hi < lo", sw(spec("a14.toml", sweep="eps = {lin = [1, 0], num = 3}")), "[sweep] eps"),
        ("range without num", sw(spec("a15.toml", sweep="eps = {lin = [0, 1]}")), "[sweep] eps"),
        ("range extra key", sw(spec("a16.toml", sweep="eps = {lin = [0, 1], num = 3, step = 1}")), "[sweep] eps"),
        ("1000 x 1000 runs", sw(spec("a17.toml", sweep="eps = {lin = [0, 1], num = 1000}\nbeta = {log = [1e-4, 1e-1], num = 1000}")), "1,000,000 runs"),
        ("scalar axis", sw(spec("a18.toml", sweep="eps = 0.1")), "[sweep] eps"),
        ("unknown table", sw(spec("a19.toml", extra="[fixd]\nx = 1")), "[fixd]"),
        ("unknown field", sw(spec("a20.toml", fixed="epss = 0.1")), "[fixed] epss"),
        ("t_end in fixed", sw(spec("a21.toml", fixed="t_end = 5")), "[fixed] t_end"),
        ("times in fixed", sw(spec("a22.toml", fixed="times = [1.0]")), "[fixed] times"),
        ("gammas swept", sw(spec("a23.toml", sweep="gammas = [[0.1]]")), "[sweep] gammas"),
        ("gammas empty", sw(spec("a24.toml", fixed="gammas = []")), "[fixed] gammas"),
        ("gammas bool", sw(spec("a25.toml", fixed="gammas = [true]")), "[fixed] gammas"),
        ("gammas 200", sw(spec("a26.toml", fixed="gammas = [" + ", ".join(f"{i}e-3" for i in range(1, 201)) + "]")), "gammas"),
        ("no horizon", sw(spec("a27.toml", raw='[fixed]\ndataset = "synthetic"\n[sweep]\neps = [0.1]\n')), "[horizon]"),
        ("two horizons", sw(spec("a28.toml", horizon="t_end = 1.0\nt_star_multiple = 1.0")), "[horizon]"),
        ("t_end 1e12", sw(spec("a29.toml", horizon="t_end = 1e12")), "[horizon] t_end"),
        ("t* multiple 1e12", sw(spec("a30.toml", horizon="t_star_multiple = 1e12")), "[horizon] t_star_multiple"),
        ("t* multiple -1", sw(spec("a31.toml", horizon="t_star_multiple = -1.0")), "[horizon] t_star_multiple"),
        ("alpha 1.5", sw(spec("a32.toml", horizon="t_star_multiple = 1.0\nalpha = 1.5")), "[horizon] alpha"),
        ("alpha with t_end", sw(spec("a33.toml", horizon="t_end = 1.0\nalpha = 0.5")), "[horizon] alpha"),
        ("kappa 3", sw(spec("a34.toml", extra="[bounds]\nkappa = [3]")), "[bounds] kappa"),
        ("kappa bool", sw(spec("a35.toml", extra="[bounds]\nkappa = [true]")), "[bounds] kappa"),
        ("p 8", sw(spec("a36.toml", extra="[bounds]\np = [8]")), "[bounds] p"),
        ("q 0", sw(spec("a37.toml", extra="[bounds]\nq = [0]")), "[bounds] q"),
        ("q 2001 values", sw(spec("a38.toml", extra=f"[bounds]\nq = [{big}]")), "[bounds]"),
        ("delta 1", sw(spec("a39.toml", extra="[bounds]\ndelta = 1.0")), "[bounds] delta"),
        ("terms nope", sw(spec("a40.toml", extra='[bounds]\nterms = ["nope"]')), "[bounds] terms"),
        ("gamma_rule empty", sw(spec("a41.toml", extra="[bounds]\ngamma_rule = []")), "[bounds] gamma_rule"),
        ("num_cpus 0", sw(spec("a42.toml", extra="[resources]\nnum_cpus = 0")), "[resources] num_cpus"),
        ("max_retries -1", sw(spec("a43.toml", extra="[resources]\nmax_retries = -1")), "[resources] max_retries"),
        ("max_retries bool", sw(spec("a44.toml", extra="[resources]\nmax_retries = true")), "[resources] max_retries"),
        ("gd + sensitivity", sw(spec("a45.toml", fixed='integrator = "gd"\nlr = 0.01\nsensitivity = true')), "[fixed] sensitivity"),
        ("gd lr > t_end", sw(spec("a46.toml", fixed='integrator = "gd"\nlr = 100.0')), "[fixed] lr"),
        ("gd + stiffness", sw(spec("a47.toml", fixed='integrator = "gd"\nlr = 0.01\nstiffness = "ros2"')), "[fixed] stiffness"),
        ("size 5", sw(spec("a48.toml", fixed="", sweep="size = [5]")), "[sweep] size"),
        ("dataset cifar", sw(spec("a49.toml", sweep='dataset = ["cifar"]')), "[sweep] dataset"),
        ("seed 2^40", sw(spec("a50.toml", fixed="init_seed = 1099511627776")), "[fixed] init_seed"),
        ("TOML syntax", sw(spec("a51.toml", raw="[fixed\neps = 0.1\n")), "a51.toml"),
        ("non-UTF-8", sw(spec("a52.toml", raw=b"[fixed]\n# caf\xe9\n")), "a52.toml"),
        ("empty file", sw(spec("a53.toml", raw="")), "a53.toml"),
        ("spec is a directory", sw(str(ROOT / "adir.toml")), "adir.toml"),
        ("spec under a file", sw(str(F / "x.toml")), "x.toml"),
        ("spec missing", sw(str(ROOT / "nope.toml")), "nope.toml"),
        ("fixed not a table", sw(spec("a58.toml", raw='fixed = 1\n[sweep]\neps = [0.1]\n[horizon]\nt_end = 1.0\n')), "[fixed]"),
        ("depth 100", sw(spec("a59.toml", sweep="depth = [2, 100]")), "[sweep] depth"),
        ("width 1e9", sw(spec("a60.toml", sweep="width = [1e9]")), "[sweep] width"),
        # ---- sweep: flags and paths
        ("--processes 0", sw(spec("b.toml"), "--processes", "0"), "--processes"),
        ("--processes 1000", sw(spec("b.toml"), "--processes", "1000"), "--processes"),
        ("--runs a file", ["sweep", spec("b.toml"), "--runs", str(F), "--out", str(ROOT / "o2")], "--runs"),
        ("--runs under a file", ["sweep", spec("b.toml"), "--runs", str(F / "c"), "--out", str(ROOT / "o2")], "--runs"),
        ("--out a file", ["sweep", spec("b.toml"), "--runs", str(ROOT / "c"), "--out", str(F)], "--out"),
        ("--out under a file", ["sweep", spec("b.toml"), "--runs", str(ROOT / "c"), "--out", str(F / "o")], "--out"),
        ("--out/results.csv a dir", ["sweep", spec("b.toml"), "--runs", str(ROOT / "c"), "--out", str(ROOT / "ores")], "--out"),
        ("--runs == --out", ["sweep", spec("b.toml"), "--runs", str(ROOT / "same"), "--out", str(ROOT / "same")], "--runs"),
        ("--address without ray", sw(spec("b.toml"), "--address", "auto"), "--address"),
        ("--plot-axes unknown", sw(spec("b.toml"), "--plot-axes", "eps", "nope"), "--plot-axes"),
        ("--plot-axes repeated", sw(spec("b2.toml", sweep="eps = [0.1, 0.2]\nbeta = [0.01]"), "--plot-axes", "eps", "eps"), "--plot-axes"),
        ("--backend nope", sw(spec("b.toml"), "--backend", "nope"), "--backend"),
        ("--processes 1.5", sw(spec("b.toml"), "--processes", "1.5"), "--processes"),
        ("spec stem '..'", ["sweep", spec("...toml"), "--runs", str(ROOT / "c"), "--no-progress"], "give --out"),
        ("spec stem '.'", ["sweep", spec("..toml"), "--runs", str(ROOT / "c"), "--no-progress"], "give --out"),
        # ---- plan
        ("plan 7.8e6 points", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--beta",
                               ",".join(str(1e-4 * (1 + i)) for i in range(2000))], "points"),
        ("plan --m 0", ["plan", "--d", "49", "--m", "0", "--s", "0.5", "--margin-risk", "0.1"], "--m"),
        ("plan m < d", ["plan", "--d", "100", "--m", "10", "--s", "0.5", "--margin-risk", "0.1"], "--m"),
        ("plan --d 2.5", ["plan", "--d", "2.5", "--m", "1e300", "--s", "0.5", "--margin-risk", "0.1"], "--d"),
        ("plan --beta -1", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--beta", "-1"], "--beta"),
        ("plan --beta nan", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--beta", "nan"], "--beta"),
        ("plan --beta true", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--beta", "true"], "--beta"),
        ("plan --kappa 3", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--kappa", "3"], "--kappa"),
        ("plan --p 8", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--p", "8"], "--p"),
        ("plan --eps 2", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--eps", "2"], "--eps"),
        ("plan --delta 0", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--delta", "0"], "--delta"),
        ("plan --top 0", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--top", "0"], "--top"),
        ("plan --plot under a file", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--plot", str(F / "p.png")], "--plot"),
        ("plan --plot a dir", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--plot", str(ROOT)], "--plot"),
        ("plan --runs a file", ["plan", "--dataset", "synthetic", "--verify", "1", "--runs", str(F)], "--runs"),
        ("plan no t at all", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--alpha", "none", "--t-factors", "none"], "--t-factors"),
        ("plan --size 5", ["plan", "--dataset", "synthetic", "--size", "5"], "--size"),
        ("plan --depth 1", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--depth", "1"], "--depth"),
        ("plan --depth 100", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--depth", "100"], "--depth"),
        ("plan --gamma-beta 0", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--gamma-beta", "0"], "--gamma-beta"),
        ("plan --threads 0", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--threads", "0"], "--threads"),
        ("plan --init foo", ["plan", "--d", "49", "--m", "60000", "--s", "0.5", "--margin-risk", "0.1", "--init", "foo"], "--init"),
        ("plan --d without --m", ["plan", "--d", "49"], "--m"),
        # ---- compare
        ("compare missing dir", ["compare", str(ROOT / "nope")], "RUN_DIR"),
        ("compare a file", ["compare", str(F)], "RUN_DIR"),
    ]
    cases += [(name, ["compare", str(d)], needle) for name, d, needle in damaged_runs(trained)]
    cases += [
        ("compare --at -1", ["compare", str(trained), "--at", "-1"], "--at"),
        ("compare --at 1e9", ["compare", str(trained), "--at", "1e9"], "--at"),
        ("compare --at nan", ["compare", str(trained), "--at", "nan"], "--at"),
        ("compare --delta 0", ["compare", str(trained), "--delta", "0"], "--delta"),
        ("compare --delta 1", ["compare", str(trained), "--delta", "1"], "--delta"),
        ("compare --threads 0", ["compare", str(trained), "--threads", "0"], "--threads"),
        ("compare --cache-dir under a file", ["compare", str(trained), "--cache-dir", str(F / "x")], "--cache-dir"),
    ]
    return cases


def _copy(trained: Path, name: str) -> Path:
    d = ROOT / "damaged" / name
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(trained, d, ignore=shutil.ignore_patterns("baselines"))
    return d


def _edit(d: Path, drop=(), **changes) -> None:
    info = json.loads((d / "run.json").read_text())
    info.update(changes)
    for k in drop:
        info.pop(k, None)
    (d / "run.json").write_text(json.dumps(info))


def damaged_runs(trained: Path):
    out = []
    d = _copy(trained, "nokey"); _edit(d, drop=("key",)); out.append(("compare run.json without key", d, "run.json"))
    d = _copy(trained, "eps"); _edit(d, eps=0.3); out.append(("compare run.json eps edited", d, "run.json"))
    d = _copy(trained, "width"); _edit(d, width=7); out.append(("compare run.json width edited", d, "run.json"))
    d = _copy(trained, "trunc")
    lines = (d / "trace.csv").read_text().splitlines()
    (d / "trace.csv").write_text("\n".join(lines[:-5]) + "\n"); _edit(d, recorded=len(lines) - 6)
    out.append(("compare truncated trace, recorded edited", d, "trace.csv"))
    d = _copy(trained, "garbage"); (d / "run.json").write_text("{not json"); out.append(("compare run.json garbage", d, "run.json"))
    d = _copy(trained, "cell")
    lines = (d / "trace.csv").read_text().splitlines(); lines[2] = "x" + lines[2]
    (d / "trace.csv").write_text("\n".join(lines) + "\n"); out.append(("compare trace cell garbage", d, "trace.csv"))
    d = _copy(trained, "interrupted"); _edit(d, status="interrupted"); out.append(("compare interrupted run", d, "status"))
    d = _copy(trained, "beta"); _edit(d, beta=True); out.append(("compare run.json beta bool", d, "run.json"))
    return out


def faults(trained: Path) -> list[tuple[str, bool, str]]:
    res = []
    # compare's cache: garbage, {}, an edited value, a file in the way of baselines/ -> warning, recomputed
    base = run(["compare", str(trained)], timeout=300)
    ref = base[1]
    (cached,) = (trained / "baselines").glob("*.json")
    for name, damage in [("garbage", "x{"), ("empty object", "{}")]:
        cached.write_text(damage)
        rc, out, err = run(["compare", str(trained)], timeout=300)
        res.append((f"compare cache {name}", rc == 0 and out == ref and "nlbound: warning: cached comparison" in err, err[-200:]))
    data = json.loads(cached.read_text())
    data["bounds"]["network_vc"]["bound"] = 0.0123
    cached.write_text(json.dumps(data))
    rc, out, err = run(["compare", str(trained)], timeout=300)
    res.append(("compare cache edited value", rc == 0 and "0.0123" not in out and out == ref, err[-200:]))
    d = _copy(trained, "ro"); (d / "baselines").write_text("file")
    rc, out, err = run(["compare", str(d)], timeout=300)
    res.append(("compare baselines/ is a file", rc == 0 and out == ref and "cannot cache" in err, err[-200:]))
    # sweep | head -1
    s = spec("pipe.toml", sweep="eps = [0.0, 0.1]")
    p = subprocess.Popen([NL, *sw(s)[:-1], "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=ENV, cwd=ROOT)
    p.stdout.readline(); p.stdout.close()
    err = p.stderr.read(); rc = p.wait(timeout=300)
    res.append(("sweep | head -1", rc == 0 and "Traceback" not in err and (ROOT / "o" / "summary.csv").exists(), err[-200:]))
    # stray regular file at <cache>/<key>
    s = spec("stray.toml", sweep="eps = [0.2]")
    rc, out, err = run(sw(s, "--dry-run"))
    shutil.rmtree(ROOT / "cs", ignore_errors=True); (ROOT / "cs").mkdir()
    key = expand(load_spec(s), s_of=lambda *a: 0.5)[0].config.key()
    (ROOT / "cs" / key).write_text("stray")
    rc, out, err = run(["sweep", s, "--runs", str(ROOT / "cs"), "--out", str(ROOT / "os"), "--no-progress"])
    rc2, _, err2 = run(["sweep", s, "--runs", str(ROOT / "cs"), "--out", str(ROOT / "os"), "--no-progress"])
    res.append(("stray file at <cache>/<key>", rc == 0 and rc2 == 0 and "is not a run directory" in err
                and (ROOT / "cs" / key).is_dir(), err[-200:]))
    # bound --form ode at L = 3, beta <= 1e-165 (was NaN)
    rc, out, err = run(["bound", "--d", "49", "--m", "60000", "--depth", "3", "--beta", "1e-300,1e-170,1e-165,1e-160",
                        "--eps", "0.1", "--gamma", "0.1", "--s", "0.5", "--rho", "1", "--t", "0,1,1000", "--form", "ode",
                        "--json"])
    ok = rc == 0 and "nan" not in out.lower() and all(json.loads(ln) for ln in out.splitlines())
    res.append(("bound --form ode, L = 3, beta <= 1e-165", ok, err[-200:]))
    return res


def main() -> int:
    shutil.rmtree(ROOT, ignore_errors=True)
    ROOT.mkdir(parents=True)
    (ROOT / "afile").write_text("a file")
    (ROOT / "adir.toml").mkdir()
    (ROOT / "ores" / "results.csv").mkdir(parents=True)
    trained = ROOT / "trained"
    rc, out, err = run(["train", "--dataset", "synthetic", "--size", "7", "--width", "4", "--eps", "0.1", "--beta", "0.05",
                        "--until", "2", "--out", str(trained), "--no-progress"])
    assert rc == 0, err
    counts: dict[str, int] = {}
    for name, argv, needle in bad_inputs(trained):
        cmd = argv[0]
        rc, out, err = run(argv)
        verdict = classify(cmd, rc, err, needle)
        counts[verdict] = counts.get(verdict, 0) + 1
        first = (err.strip().splitlines() or [""])[0] if verdict == "clean" else err.strip()[-300:]
        print(f"{verdict:14s} {name:38s} {first}", flush=True)
    n = sum(counts.values())
    print(f"\nBAD INPUTS: {n}; " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())), flush=True)
    fs = faults(trained)
    for name, ok, err in fs:
        print(f"{'ok' if ok else 'NOT OK':7s} {name}" + ("" if ok else f"  {err}"), flush=True)
    print(f"FAULTS: {len(fs)}; ok: {sum(ok for _, ok, _ in fs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
