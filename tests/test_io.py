"""Atomic writers: complete files only, exact float round-trip, numpy scalars as plain numbers."""

import csv
import os
import stat

import numpy as np
import pytest

from nlbound._io import (
    atomic_write_columns,
    atomic_write_json,
    atomic_write_text,
    check_output_dir,
    check_output_file,
)


def test_csv_numpy_scalars_round_trip_exactly(tmp_path):
    vals = [np.float64(0.1), np.float32(0.25), 1 / 3, np.int64(7), float("inf")]
    path = atomic_write_columns(tmp_path / "t.csv", {"v": vals})
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["v"]
    cells = [r[0] for r in rows[1:]]
    assert cells == ["0.1", "0.25", repr(1 / 3), "7", "inf"]
    assert float(cells[2]) == 1 / 3


def test_columns_of_unequal_length_rejected(tmp_path):
    with pytest.raises(ValueError, match="different lengths"):
        atomic_write_columns(tmp_path / "t.csv", {"a": [1, 2], "b": [1]})


def test_interrupted_write_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    p = tmp_path / "x.json"
    atomic_write_json(p, {"a": 1})

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("nlbound._io.os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_json(p, {"a": 2})
    assert p.read_text().strip().replace(" ", "").replace("\n", "") == '{"a":1}'
    assert [q.name for q in tmp_path.iterdir()] == ["x.json"]


def test_overwrite_is_whole(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(p, "first")
    atomic_write_text(p, "second")
    assert p.read_text() == "second"
    assert [q.name for q in tmp_path.iterdir()] == ["a.txt"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        a = atomic_write_text(tmp_path / "a.txt", "x")
        b = atomic_write_columns(tmp_path / "b.csv", {"v": [1.0]})
        with open(tmp_path / "plain.txt", "w") as fh:  # what open() gives under the same umask
            fh.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(a.stat().st_mode) == mode == stat.S_IMODE(b.stat().st_mode)
    assert stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == mode
    assert os.umask(old) == old  # the umask was restored


def test_output_dir_checks(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    assert check_output_dir(tmp_path / "new" / "deeper", "--out") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    assert [p.name for p in tmp_path.iterdir()] == ["file"]  # and leaves no probe file
    with pytest.raises(ValueError, match=rf"^--out == '{f}': {f} is a file, not a directory$"):
        check_output_dir(f, "--out")
    with pytest.raises(ValueError, match=f"--out == .*: {f} is a file, so no directory can be made under it"):
        check_output_dir(f / "sub" / "dir", "--out")
    with pytest.raises(ValueError, match="^--out == '/proc/nlbound-x': /proc is not writable"):
        check_output_dir("/proc/nlbound-x", "--out")  # not writable even for root


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a mode-0500 directory")
def test_output_dir_in_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    try:
        with pytest.raises(ValueError, match=f"{ro} is not writable"):
            check_output_dir(ro / "run", "--out")
    finally:
        ro.chmod(0o700)


def test_output_file_checks(tmp_path):
    assert check_output_file(tmp_path / "r.md", "--report") == tmp_path / "r.md"
    with pytest.raises(ValueError, match=f"^--report == '{tmp_path}': {tmp_path} is a directory, not a file$"):
        check_output_file(tmp_path, "--report")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match=f"{tmp_path / 'f'} is a file, not a directory$"):
        check_output_file(tmp_path / "f" / "r.md", "--report")
    with pytest.raises(ValueError, match="is a file, so no directory can be made under it"):
        check_output_file(tmp_path / "f" / "sub" / "r.md", "--report")
