"""`nlbound compare` reads nothing back unverified (issue 22 items 4, 5): run.json must still hash to its
key, a complete trace must reach t_end, the baselines cache is checked by key, time, settings and digest,
an unwritable cache is a warning before the work, and every refusal is one line."""

from __future__ import annotations

import json
import shutil

import pytest

from nlbound.baselines import CompareSettings, PacBayesSettings, compare_run
from nlbound.baselines.compare import cache_path
from nlbound.cli.main import main
from nlbound.training import RunOptions, TrainConfig, train
from nlbound.training.rundir import RunDirError

SETTINGS = CompareSettings(pacbayes=PacBayesSettings(steps=20, batch=100, n_mc=10))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "run"
    cfg = TrainConfig(dataset="synthetic", size=4, width=4, eps=0.1, beta=0.05, t_end=2.0)
    train(cfg, options=RunOptions(out_dir=out, threads=1))
    first = compare_run(out, None, SETTINGS, threads=1)
    return out, first


@pytest.fixture()
def copy(run, tmp_path):
    out, first = run
    dst = tmp_path / "run"
    shutil.copytree(out, dst)
    return dst, first


def _edit(path, **changes):
    info = json.loads(path.read_text())
    info.update(changes)
    path.write_text(json.dumps(info))


@pytest.mark.parametrize("field, value", [("eps", 0.2), ("width", 5)])
def test_run_json_edited_after_training_is_refused(copy, field, value):
    out, _ = copy
    _edit(out / "run.json", **{field: value})
    with pytest.raises(RunDirError, match=r"run.json: its config fields hash to .*, not to its key"):
        compare_run(out, None, SETTINGS, threads=1)


def test_run_json_without_key_is_one_line(copy, capsys):
    out, _ = copy
    info = json.loads((out / "run.json").read_text())
    del info["key"]
    (out / "run.json").write_text(json.dumps(info))
    assert main(["compare", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no config key" in err and str(out / "run.json") in err


def test_truncated_trace_with_recorded_edited_is_refused(copy):
    out, _ = copy
    lines = (out / "trace.csv").read_text().splitlines()
    (out / "trace.csv").write_text("\n".join(lines[:-3]) + "\n")
    _edit(out / "run.json", recorded=len(lines) - 4)
    with pytest.raises(RunDirError, match="truncated"):
        compare_run(out, None, SETTINGS, threads=1)


@pytest.mark.parametrize("damage", ["garbage", "empty-object", "edited-value", "directory"])
def test_damaged_baseline_cache_is_recomputed_with_a_warning(copy, damage):
    out, first = copy
    (path,) = (out / "baselines").glob("*.json")
    if damage == "garbage":
        path.write_text("not json {")
    elif damage == "empty-object":
        path.write_text("{}")
    elif damage == "edited-value":
        data = json.loads(path.read_text())
        data["bounds"]["network_vc"]["bound"] = 0.001
        path.write_text(json.dumps(data))
    else:
        path.unlink()
        path.mkdir()
    with pytest.warns(UserWarning, match=rf"cached comparison {path} not used"):
        res = compare_run(out, None, SETTINGS, threads=1)
    assert res["bounds"]["network_vc"]["bound"] == first["bounds"]["network_vc"]["bound"]


def test_cache_of_other_settings_is_not_used(copy):
    out, first = copy
    (path,) = (out / "baselines").glob("*.json")
    other = CompareSettings(delta=0.1, pacbayes=PacBayesSettings(steps=20, batch=100, n_mc=10, delta_pb=0.09))
    shutil.copy(path, cache_path(out, first["key"], first["t"], other))  # a file under the other key
    with pytest.warns(UserWarning, match="this comparison needs"):
        res = compare_run(out, None, other, threads=1)
    assert res["delta"] == 0.1


def test_unwritable_cache_is_a_warning_before_the_work(copy):
    out, first = copy
    shutil.rmtree(out / "baselines")
    (out / "baselines").write_text("a file in the way")
    with pytest.warns(UserWarning, match="cannot cache the comparison"):
        res = compare_run(out, None, SETTINGS, threads=1)
    assert res["bounds"]["network_vc"]["bound"] == first["bounds"]["network_vc"]["bound"]
    assert (out / "baselines").read_text() == "a file in the way"
