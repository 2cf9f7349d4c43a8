"""`nlbound sweep` and `compare` against filesystem faults (issue 22 item 4): every path checked before any
work, one line naming it; a reader that goes away (`sweep | head -1`) neither stops the sweep nor leaves
a traceback or a half-written cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from nlbound.cli.main import main
from nlbound.training.rundir import read_run

SPEC = """
[fixed]
dataset = "synthetic"
size = 7
depth = 2
width = 4
beta = 0.01
[sweep]
eps = [0.0, 0.1]
[horizon]
t_end = 0.5
"""


@pytest.fixture()
def spec(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(SPEC))
    return path


@pytest.mark.parametrize("flag, make, needle", [
    ("--out", lambda t: t / "f", "is a file, not a directory"),
    ("--out", lambda t: t / "f" / "under", "is a file, so no directory can be made under it"),
    ("--runs", lambda t: t / "f", "is a file, not a directory"),
    ("--runs", lambda t: t / "f" / "under", "is a file, so no directory can be made under it"),
    ("--out", lambda t: (t / "o" / "results.csv").mkdir(parents=True) or t / "o", "is a directory, not a file"),
])
def test_sweep_paths_are_checked_before_any_work(tmp_path, spec, capsys, flag, make, needle):
    (tmp_path / "f").write_text("a file")
    target = make(tmp_path)
    paths = {"--out": str(tmp_path / "out"), "--runs": str(tmp_path / "runs"), flag: str(target)}
    assert main(["sweep", str(spec), "--no-progress", *[x for kv in paths.items() for x in kv]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"nlbound sweep: error: {flag} == ") and needle in err
    assert not (tmp_path / "runs").exists()  # nothing trained


def test_compare_cache_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    (run / "trace.csv").write_text("t\n")
    assert main(["compare", str(run), "--cache-dir", str(tmp_path / "f" / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--cache-dir" in err


def test_sweep_into_a_closed_pipe_ends_quietly_and_finishes(tmp_path, spec):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    code = "import sys; from nlbound.cli.main import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, "sweep", str(spec), "--processes", "1", "--no-progress",
                             "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 0, err
    assert first.startswith("sweep s: 2 runs") and "Traceback" not in err and "BrokenPipe" not in err
    assert (tmp_path / "out" / "summary.csv").is_file()  # the sweep went on to the end
    runs = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 2
    for p in runs:
        read_run(p)  # complete and consistent


def test_ray_client_form_is_advertised_only_with_its_extra(capsys):
    """The docs and --help offered `--address ray://...`, which needs ray[client]; the [ray] extra installs
    ray alone, so the form is not offered (README, backends.RayBackend)."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    extra = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]["ray"]
    if any("client" in req for req in extra):
        pytest.skip("the extra installs ray[client]")
    for command in ("sweep", "reproduce"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "ray://" not in capsys.readouterr().out
    readme = (root / "README.md").read_text()
    assert "ray://" not in readme.replace("the Ray Client form `ray://` is not supported", "")
