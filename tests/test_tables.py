"""nlbound.read_trace / read_sweep / to_frame: the same numbers as the files, as columns or DataFrames."""

from __future__ import annotations

import csv
import sys

import numpy as np
import pytest

import nlbound
from nlbound.training import RunOptions, TrainConfig, train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    train(TrainConfig(dataset="synthetic", width=4, t_end=0.5), options=RunOptions(out_dir=out))
    return out


def test_read_trace_columns_and_frame_agree_with_the_csv(run_dir):
    cols = nlbound.read_trace(run_dir)
    with open(run_dir / "trace.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(cols["t"]) == len(rows) > 1
    np.testing.assert_array_equal(cols["test_risk"], [float(r["test_risk"]) for r in rows])
    pd = pytest.importorskip("pandas")
    frame = nlbound.read_trace(run_dir, as_frame=True)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(cols)
    np.testing.assert_array_equal(frame["train_loss"].to_numpy(), cols["train_loss"])


def test_read_sweep_parses_numbers_and_keeps_words(tmp_path):
    (tmp_path / "summary.csv").write_text("eps,variant,min_bound\n0.01,κ=2 p=32,0.5\n0.1,κ=1 p=16,inf\n")
    cols = nlbound.read_sweep(tmp_path)
    np.testing.assert_array_equal(cols["eps"], [0.01, 0.1])
    assert cols["min_bound"][1] == np.inf and list(cols["variant"]) == ["κ=2 p=32", "κ=1 p=16"]
    with pytest.raises(ValueError, match="table == 'other', must be one of results, summary"):
        nlbound.read_sweep(tmp_path, "other")
    with pytest.raises(ValueError, match="cannot read"):
        nlbound.read_sweep(tmp_path, "results")


def test_to_frame_without_pandas_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'nlbound\[pandas\]'"):
        nlbound.to_frame({"a": [1.0]})
