"""Atomic writers: complete files only, exact float round-trip, numpy scalars as plain numbers."""

import csv

import numpy as np
import pytest

from nlbound._io import atomic_write_columns, atomic_write_json, atomic_write_text


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
