"""The command line under bad input and filesystem faults (issue 8 items 4, 6, 10): one clean line,
exit status 2, checked before any work; flags named as typed; warnings as one line; files per umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import nlbound.paper.reproduce as reproduce_module
from nlbound.cli.main import main
from nlbound.data import clear_cache, load_dataset, sources
from nlbound.theory import t_star
from mnist_fakes import fake_mnist, write_idx_dir

BASE = ["--dataset", "synthetic", "--size", "7", "--width", "8", "--no-progress"]
TINY = [*BASE, "--until", "0.5"]


def nlbound(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """`python -m nlbound ARGS` in a fresh process: no data directory, an empty wheel cache."""
    full = {k: v for k, v in os.environ.items() if k != sources.ENV_DATA_DIR}
    full.update({sources.ENV_CACHE: str(cwd / "empty-cache"), "OMP_NUM_THREADS": "1", **env})
    return subprocess.run([sys.executable, "-m", "nlbound", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=120)


def one_error_line(stderr: str, command: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-2000:]
    assert lines[0].startswith(f"nlbound {command}: error: ")
    return lines[0]


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No data directory, an empty wheel cache, and a pip that must not be called."""
    monkeypatch.delenv(sources.ENV_DATA_DIR, raising=False)
    monkeypatch.setenv(sources.ENV_CACHE, str(tmp_path / "empty-cache"))
    monkeypatch.setattr(sources, "_pip_download", lambda dest: pytest.fail("nothing may be downloaded"))
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def a_file(tmp_path) -> Path:
    f = tmp_path / "a-file"
    f.write_text("not a directory\n")
    return f


# ----------------------------------------------------------------------------- filesystem faults


@pytest.mark.parametrize("where, needle", [
    ("{f}", "{f} is a file, not a directory"),
    ("{f}/run", "{f} is a file, so no directory can be made under it"),
    ("/proc/nlbound-run", "/proc is not writable"),  # not writable even for root
])  # fmt: skip
def test_train_out_faults_are_one_line_before_any_work(tmp_path, a_file, monkeypatch, capsys, where, needle):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("nlbound.data.load_dataset", lambda *a, **k: pytest.fail("checked before loading data"))
    assert main(["train", *TINY, "--out", where.format(f=a_file)]) == 2
    line = one_error_line(capsys.readouterr().err, "train")
    assert "--out == " in line and needle.format(f=a_file) in line
    assert not (tmp_path / "runs").exists()


def test_train_out_fault_subprocess(tmp_path, a_file):
    proc = nlbound(["train", *TINY, "--out", str(a_file / "run")], tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"{a_file} is a file, so no directory" in one_error_line(proc.stderr, "train")


@pytest.mark.parametrize("command", [["train", "--dataset", "mnist", "--until", "1", "--out", "r"], ["data"]])
def test_cache_that_is_a_file(tmp_path, a_file, offline, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--cache-dir", str(a_file)]) == 2
    line = one_error_line(capsys.readouterr().err, command[0])
    assert f"--cache-dir == '{a_file}': {a_file} is a file" in line
    monkeypatch.setenv(sources.ENV_CACHE, str(a_file))
    assert main(command) == 2
    line = one_error_line(capsys.readouterr().err, command[0])
    assert f"$NLBOUND_CACHE {a_file} is not a directory" in line


def test_wheel_path_that_is_a_directory_is_reported_without_download(tmp_path, offline, capsys):
    cache = tmp_path / "c"
    (cache / sources.CARRIER_WHEEL).mkdir(parents=True)
    assert main(["data", "--cache-dir", str(cache)]) == 2
    line = one_error_line(capsys.readouterr().err, "data")
    assert f"{cache / sources.CARRIER_WHEEL} is not a file" in line


@pytest.mark.parametrize("flag, target, needle", [
    ("--out", "{f}", "--out == '{f}': {f} is a file, not a directory"),
    ("--out", "{t}/o/figures", "--out == "),  # figures/ of --out is a file
    ("--runs", "{f}", "--runs == '{f}': {f} is a file, not a directory"),
    ("--report", "{t}", "--report == '{t}': {t} is a directory, not a file"),
    ("--report", "{f}/r.md", "--report == '{f}/r.md': {f} is a file, not a directory"),
])  # fmt: skip
def test_reproduce_output_faults_before_any_work(tmp_path, a_file, monkeypatch, capsys, flag, target, needle):
    monkeypatch.setattr(reproduce_module, "reproduce", lambda *a, **k: pytest.fail("work started"))
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "figures").write_text("x")
    fmt = {"f": a_file, "t": tmp_path}
    argv = {"--out": str(tmp_path / "out"), "--runs": str(tmp_path / "runs")}
    argv[flag] = target.format(**fmt)
    if flag == "--out" and "figures" in target:
        argv[flag] = str(tmp_path / "o")
    assert main(["reproduce", "fig2", "--quick", *(x for kv in argv.items() for x in kv)]) == 2
    assert needle.format(**fmt) in one_error_line(capsys.readouterr().err, "reproduce")


def test_reproduce_runs_env_that_is_a_file(tmp_path, a_file, monkeypatch, capsys):
    monkeypatch.setattr(reproduce_module, "reproduce", lambda *a, **k: pytest.fail("work started"))
    monkeypatch.setenv("NLBOUND_RUNS", str(a_file))
    assert main(["reproduce", "fig2", "--out", str(tmp_path / "o")]) == 2
    line = one_error_line(capsys.readouterr().err, "reproduce")
    assert f"$NLBOUND_RUNS == '{a_file}': {a_file} is a file, not a directory" in line


def test_reproduce_out_file_subprocess(tmp_path, a_file):
    proc = nlbound(["reproduce", "fig1", "--out", str(a_file), "--runs", str(tmp_path / "runs")], tmp_path)
    assert proc.returncode == 2 and "--out == " in one_error_line(proc.stderr, "reproduce")
    assert not (tmp_path / "runs").exists()


# ----------------------------------------------------------------------------- flags


@pytest.mark.parametrize("argv", [
    ["data", "--size", "7", "--size", "14"],
    ["bound", "--d", "1", "--d", "2", "--m", "9", "--eps", "0", "--beta", "1", "--gamma", "1", "--rho", "1",
     "--s", "1", "--t", "0"],
    ["train", *TINY, "--seed", "1", "--seed", "2"],
    ["train", *TINY, "--json", "--json"],
    ["train", *TINY, "--unt", "1"],  # an abbreviation of a flag given already
    ["reproduce", "fig1", "--processes", "1", "--processes=2"],
])  # fmt: skip
def test_repeated_flag_is_an_error(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "given more than once" in lines[0] and lines[0].startswith(f"nlbound {argv[0]}: error:")


@pytest.mark.parametrize("extra, message", [
    (["--until", "-1"], "--until == -1, must be in (0, 1000000000]"),
    (["--until", "inf"], "--until == inf, must be in (0, 1000000000]"),
    (["--until", "soon"], "--until == 'soon', must be 'tstar' or a positive number"),
    (["--seed", "-1"], "--seed == -1, must be in [0, 4294967295]"),
    (["--data-seed", "-2"], "--data-seed == -2, must be in [0, 4294967295]"),
    (["--lr", "inf"], "--lr == inf, must be in (0, inf)"),
    (["--beta", "nan"], "--beta == nan, must be in (0, 10]"),
    (["--eps", "2"], "--eps == 2, must be in [0, 1]"),
])  # fmt: skip
def test_train_errors_name_the_flag(extra, message, capsys, monkeypatch):
    monkeypatch.setattr("nlbound.data.load_dataset", lambda *a, **k: pytest.fail("checked before loading data"))
    assert main(["train", *(BASE if "--until" in extra else TINY), *extra]) == 2
    assert one_error_line(capsys.readouterr().err, "train") == f"nlbound train: error: {message}"


def test_train_until_inf_subprocess(tmp_path):
    proc = nlbound(["train", *BASE, "--until", "inf"], tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert one_error_line(proc.stderr, "train") == "nlbound train: error: --until == inf, must be in (0, 1000000000]"


def test_reproduce_processes_named_as_flag(capsys):
    assert main(["reproduce", "fig1", "--processes", "0"]) == 2
    assert "--processes == 0, must be in [1, 64]" in one_error_line(capsys.readouterr().err, "reproduce")


@pytest.mark.parametrize("command, shown", [
    ("train", ["(default: 64)", "(default: tstar)", "(default: 0.5)", "(default: adaptive)"]),
    ("data", ["(default: mnist)", "(default: 7)"]),
    ("reproduce", ["(default: 2)"]),
])  # fmt: skip
def test_help_shows_defaults(command, shown, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for text in shown:
        assert text in out
    assert "(default: None)" not in out and "(default: False)" not in out


# ----------------------------------------------------------------------------- the train path


def test_train_builds_its_config_once_with_t_star(tmp_path, monkeypatch, capsys):
    import nlbound.training as training

    built = []

    class Counting(training.TrainConfig):
        def __post_init__(self):
            built.append(self)
            super().__post_init__()

    monkeypatch.setattr(training, "TrainConfig", Counting)
    assert main(["train", *BASE, "--out", str(tmp_path / "r"), "--json"]) == 0
    # a stand-in checks every flag before the data is loaded, then the one config that is trained
    assert len(built) == 2
    s = load_dataset("synthetic", size=7).s
    assert built[1].t_end == float(t_star(0.5, 1e-3, s, 2))  # eq. 15 with the dataset's s
    built.clear()
    assert main(["train", *TINY, "--out", str(tmp_path / "r2"), "--json"]) == 0
    assert len(built) == 1 and built[0].t_end == 0.5


def test_run_files_follow_umask_and_warnings_are_one_line(tmp_path):
    # two blank rows of 28 leave one row of 14 zero pixels at 14x14: rank 196 - 14 = 182
    idx = write_idx_dir(tmp_path / "idx", fake_mnist(0), gz=False)
    old = os.umask(0o022)
    try:
        proc = nlbound(["train", "--dataset", "mnist", "--size", "14", "--width", "8", "--until", "0.01",
                        "--data-dir", str(idx), "--out", "run", "--no-progress"], tmp_path)
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("run.json", "trace.csv"):
        assert stat.S_IMODE((tmp_path / "run" / name).stat().st_mode) == 0o644
    lines = proc.stderr.strip().splitlines()
    assert lines and all(ln.startswith("nlbound: warning: ") for ln in lines), proc.stderr
    assert any("rank 182 < d = 196" in ln for ln in lines)
    assert "warnings.warn" not in proc.stderr and ".py:" not in proc.stderr
