"""Issue 24 item 1: a researcher's own data, --dataset npz:PATH, through the same pipeline as MNIST."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from nlbound.cli.main import main
from nlbound.data import DataError, SourceUnavailableError, clear_cache, dataset_statistics, load_dataset
from nlbound.training import TrainConfig

RESULTS = Path(__file__).resolve().parents[2] / "results"


def save(path: Path, **arrays) -> str:
    np.savez(path, **arrays)
    return f"npz:{path}"


def teacher(seed: int = 0, m: int = 300, m_test: int = 100, d: int = 8, labels=(-1.0, 1.0)):
    """Non-negative features (like pixels) and a linear teacher; labels drawn from `labels`[0/1]."""
    rng = np.random.default_rng(seed)
    x = rng.random((m + m_test, d)) * (1.0 / (1.0 + np.arange(d)))
    w = rng.standard_normal(d)
    score = (x - x.mean(axis=0)) @ w
    y = np.where(score >= 0, labels[1], labels[0])
    return dict(x_train=x[:m], y_train=y[:m], x_test=x[m:], y_test=y[m:])


# ----------------------------------------------------------------------------- the pipeline


def test_npz_matches_an_independent_least_squares_reference(tmp_path):
    """d = rank, m, and s = ||Y X̃⁺|| = ||P_X y|| / sqrt(m) (projection on the column space of the raw
    features: whitening does not change it), computed here by numpy's lstsq on the raw file."""
    a = teacher()
    ds = load_dataset(save(tmp_path / "t.npz", **a))
    beta, *_ = np.linalg.lstsq(a["x_train"], a["y_train"], rcond=None)
    s_ref = np.linalg.norm(a["x_train"] @ beta) / np.sqrt(len(a["y_train"]))
    assert (ds.m, ds.m_test, ds.d, ds.rank) == (300, 100, 8, 8)
    assert ds.s == pytest.approx(s_ref, rel=1e-10)
    np.testing.assert_allclose(ds.x_train.T @ ds.x_train / ds.m, np.eye(8), atol=1e-10)  # whitened (Sec. 5.1)
    np.testing.assert_array_equal(ds.y_train, a["y_train"])
    # the linear-model baseline: the least-squares fit's sign errors on train and test
    st = dataset_statistics(ds)
    assert st["linear_train_risk"] == np.mean(a["y_train"] * (a["x_train"] @ beta) < 0)
    assert st["linear_test_risk"] == np.mean(a["y_test"] * (a["x_test"] @ beta) < 0)


def test_s_is_invariant_to_feature_scaling_and_images_are_flattened(tmp_path):
    """s and d do not change when features are scaled by any positive per-feature factors (any invertible
    linear map: s = ||P_X y||/sqrt(m) depends on the column space only), nor does the whitened inner
    product x̃_i·x̃_j = x_iᵀ Σ⁻¹ x_j; a common factor leaves the whitened data themselves unchanged;
    samples stored as (m, 2, 4) arrays are flattened row-major."""
    a = teacher(1)
    base = load_dataset(save(tmp_path / "a.npz", **a))
    scale = np.geomspace(1e-3, 1e3, 8)
    b = {**a, "x_train": a["x_train"] * scale, "x_test": a["x_test"] * scale}
    scaled = load_dataset(save(tmp_path / "b.npz", **b))
    c = {**a, "x_train": a["x_train"].reshape(-1, 2, 4), "x_test": a["x_test"].reshape(-1, 2, 4)}
    shaped = load_dataset(save(tmp_path / "c.npz", **c))
    assert scaled.s == pytest.approx(base.s, rel=1e-10) and scaled.rank == base.rank == 8
    gram = base.x_train[:50] @ base.x_train[:50].T
    np.testing.assert_allclose(scaled.x_train[:50] @ scaled.x_train[:50].T, gram, atol=1e-8)
    common = load_dataset(save(tmp_path / "d.npz", **{**a, "x_train": a["x_train"] * 255, "x_test": a["x_test"] * 255}))
    np.testing.assert_allclose(common.x_train, base.x_train, atol=1e-12)
    assert shaped.s == base.s and shaped.d == 8


def test_positive_maps_named_labels_to_plus_one(tmp_path):
    a = teacher(2, labels=(7, 3))
    a["y_train"][:5], a["y_test"][:5] = 9, 9  # a third label, on the negative side
    name = save(tmp_path / "p.npz", **a)
    ds = load_dataset(name, positive="3")
    np.testing.assert_array_equal(ds.y_train, np.where(a["y_train"] == 3, 1.0, -1.0))
    np.testing.assert_array_equal(ds.y_test, np.where(a["y_test"] == 3, 1.0, -1.0))
    assert load_dataset(name, positive=["9", "3"]).positive == ("3", "9")  # one canonical form
    strings = {**a, "y_train": a["y_train"].astype(str), "y_test": a["y_test"].astype(str)}
    ds_s = load_dataset(save(tmp_path / "s.npz", **strings), positive="3")
    np.testing.assert_array_equal(ds_s.y_train, ds.y_train)


# ----------------------------------------------------------------------------- keys


def test_key_is_the_files_content_not_its_path(tmp_path):
    a = teacher(3)
    name = save(tmp_path / "a.npz", **a)
    copy = tmp_path / "elsewhere.npz"
    shutil.copy(tmp_path / "a.npz", copy)
    c1, c2 = TrainConfig(dataset=name, t_end=1.0), TrainConfig(dataset=f"npz:{copy}", t_end=1.0)
    assert c1.key() == c2.key() and c1.dataset != c2.dataset
    assert c1.data_sha256 and c1.as_dict()["data_sha256"] == c1.data_sha256
    changed = {**a, "y_train": -a["y_train"]}
    c3 = TrainConfig(dataset=save(tmp_path / "a.npz", **changed), t_end=1.0)  # same path, new content
    assert c3.key() != c1.key()
    labels = save(tmp_path / "l.npz", **teacher(3, labels=(0, 1)))
    assert TrainConfig(dataset=labels, positive=("1",), t_end=1.0).key() != \
        TrainConfig(dataset=labels, positive=("0",), t_end=1.0).key()
    again = TrainConfig.from_dict(json.loads(json.dumps(c1.as_dict())))  # as a run.json stores it
    assert again.key() == c1.key()
    other = c3.replace(dataset=labels, positive=("1",))  # a sweep axis over files: each its own hash
    assert other.data_sha256 == TrainConfig(dataset=labels, positive=("1",)).data_sha256 != c3.data_sha256
    assert c3.replace(dataset="mnist").as_dict().keys() == TrainConfig().as_dict().keys()


def test_the_figure_runs_keep_their_keys():
    """Every run of the committed MNIST reproduction (results/runs.json: key -> config; 62 runs before
    issue 21's seeds, 96 since) hashes to the key it was cached under: the new fields (positive,
    data_sha256) are left out of MNIST keys."""
    table = json.loads((RESULTS / "runs.json").read_text())
    assert len(table) >= 62
    for key, entry in table.items():
        cfg = TrainConfig.from_dict(entry["config"])
        assert cfg.key() == key and "positive" not in cfg.as_dict() and "data_sha256" not in cfg.as_dict()


# ----------------------------------------------------------------------------- MNIST by the user's own pooling


@pytest.mark.slow
def test_mnist_7x7_pooled_by_the_user_equals_dataset_mnist_size_7(tmp_path, capsys):
    """Raw MNIST from the package's source, pooled 28 -> 7 here with numpy on the raw 0-255 pixels (not
    the package's k/255 then average_pool): `data --dataset npz:... --positive 0,1,2,3,4` gives the same
    m, d and s as `--dataset mnist --size 7` (s agrees to rounding: scaling does not change it)."""
    from nlbound.data.sources import load_raw, resolve_source

    try:
        raw = load_raw("mnist", resolve_source("mnist", None, None))
    except SourceUnavailableError as exc:
        pytest.skip(str(exc))

    def pool(images):
        return images.astype(np.float64).reshape(len(images), 7, 4, 7, 4).mean(axis=(2, 4)).reshape(-1, 49)

    path = tmp_path / "mnist7.npz"
    np.savez(path, x_train=pool(raw.train_images), y_train=raw.train_labels, x_test=pool(raw.test_images),
             y_test=raw.test_labels)
    assert main(["data", "--dataset", f"npz:{path}", "--positive", "0,1,2,3,4", "--json"]) == 0
    own = json.loads(capsys.readouterr().out)
    assert main(["data", "--dataset", "mnist", "--size", "7", "--json"]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert (own["m"], own["d"], own["rank"], own["m_test"]) == (ref["m"], ref["d"], ref["rank"], ref["m_test"]) \
        == (60000, 49, 49, 10000)
    assert own["s"] == pytest.approx(ref["s"], rel=1e-12)  # measured: equal to 2e-16 relative
    for k in ("positive_fraction", "linear_train_risk", "linear_test_risk"):
        assert own[k] == ref[k]
    assert own["linear_train_mse"] == pytest.approx(ref["linear_train_mse"], rel=1e-12)
    clear_cache()


# ----------------------------------------------------------------------------- train, plan, sweep on a file


def test_train_plan_and_sweep_run_on_an_npz_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = save(tmp_path / "own.npz", **teacher(4, m=200, m_test=50, d=6, labels=(0, 1)))
    assert main(["train", "--dataset", name, "--positive", "1", "--width", "8", "--until", "0.5",
                 "--no-progress", "--json", "--out", str(tmp_path / "run")]) == 0
    summary = json.loads(capsys.readouterr().out)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert summary["status"] == "complete" and info["m"] == 200 and info["rank"] == 6
    assert info["dataset"] == name and info["positive"] == ["1"] and len(info["data_sha256"]) == 64
    assert main(["plan", "--dataset", name, "--positive", "1", "--depth", "2", "--eps", "0.001",
                 "--beta", "0.001", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out.splitlines()[0])
    assert plan["data"] == name and plan["n_points"] > 0, plan
    spec = tmp_path / "sweep.toml"
    spec.write_text(f'[fixed]\ndataset = "{name}"\npositive = ["1"]\nwidth = 8\n'
                    '[sweep]\neps = [0.001, 0.01]\n[horizon]\nt_end = 0.5\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sw"), "--runs", str(tmp_path / "runs"),
                 "--processes", "1", "--no-progress"]) == 0
    assert (tmp_path / "sw" / "summary.csv").is_file()
    # compare reads the dataset from run.json (an absolute path: any working directory will do)
    from nlbound.baselines import CompareSettings, PacBayesSettings, compare_run

    monkeypatch.chdir(tmp_path / "sw")
    res = compare_run(tmp_path / "run", settings=CompareSettings(pacbayes=PacBayesSettings(steps=20, n_mc=20)))
    assert res["m"] == 200 and 0 <= res["bounds"]["network_vc"]["bound"]


# ----------------------------------------------------------------------------- bad files: one line, exit 2


def _bad_files(tmp_path: Path) -> dict[str, tuple[str, list[str], str]]:
    """case -> (dataset name, extra flags, a phrase the error must contain)."""
    a = teacher(5, m=60, m_test=20, d=4)
    out: dict[str, tuple[str, list[str], str]] = {}
    missing = {k: v for k, v in a.items() if k != "y_test"}
    out["missing array"] = (save(tmp_path / "missing.npz", **missing), [], "missing array 'y_test'")
    out["wrong y shape"] = (save(tmp_path / "yshape.npz", **{**a, "y_train": a["y_train"][:-1]}), [], "y_train has shape")
    out["wrong x width"] = (save(tmp_path / "xwidth.npz", **{**a, "x_test": a["x_test"][:, :3]}), [], "features")
    out["1-d x"] = (save(tmp_path / "x1d.npz", **{**a, "x_train": a["x_train"][:, 0]}), [], "x_train has shape")
    nan = a["x_train"].copy()
    nan[3, 1] = np.nan
    out["nan"] = (save(tmp_path / "nan.npz", **{**a, "x_train": nan}), [], "NaN or inf")
    inf = a["x_test"].copy()
    inf[0, 0] = np.inf
    out["inf"] = (save(tmp_path / "inf.npz", **{**a, "x_test": inf}), [], "NaN or inf")
    one = {**a, "y_train": np.ones(60)}
    out["one class"] = (save(tmp_path / "one.npz", **one), [], "one class only")
    small = teacher(5, m=3, m_test=2, d=4)
    out["m < d"] = (save(tmp_path / "small.npz", **small), [], "m == 3 training samples < d == 4")
    multi = teacher(5, m=60, m_test=20, d=4, labels=(0, 1))
    out["not pm1"] = (save(tmp_path / "multi.npz", **multi), [], "must be ±1")
    out["positive all"] = (save(tmp_path / "all.npz", **multi), ["--positive", "0,1"], "names every label")
    out["positive absent"] = (save(tmp_path / "abs.npz", **multi), ["--positive", "7"], "does not occur")
    out["positive empty"] = (save(tmp_path / "empty.npz", **multi), ["--positive", ""], "comma-separated")
    np.save(tmp_path / "plain.npy", a["x_train"])
    out["npy"] = (f"npz:{tmp_path / 'plain.npy'}", [], "not an npz archive")
    (tmp_path / "text.npz").write_text("x,y\n1,2\n")
    out["text"] = (f"npz:{tmp_path / 'text.npz'}", [], "not a readable npz archive")
    out["absent file"] = (f"npz:{tmp_path / 'nope.npz'}", [], "cannot read")
    (tmp_path / "dir.npz").mkdir()
    out["directory"] = (f"npz:{tmp_path / 'dir.npz'}", [], "cannot read")
    np.savez(tmp_path / "obj.npz", x_train=np.array([{"a": 1}] * 60, dtype=object), y_train=a["y_train"],
             x_test=a["x_test"], y_test=a["y_test"])
    out["object array"] = (f"npz:{tmp_path / 'obj.npz'}", [], "not a readable npz archive")
    out["empty name"] = ("npz:", [], "npz:PATH")
    return out


@pytest.mark.parametrize("command", ["data", "train", "plan"])
def test_every_bad_file_is_one_line_and_exit_2(tmp_path, capsys, command):
    extra = {"train": ["--until", "1", "--out", str(tmp_path / "out")], "plan": [], "data": []}[command]
    for case, (name, flags, phrase) in _bad_files(tmp_path).items():
        rc = main([command, "--dataset", name, *flags, *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and phrase in err[0], (case, rc, err)
        assert not (tmp_path / "out").exists()


def test_python_api_raises_value_errors(tmp_path):
    for case, (name, flags, phrase) in _bad_files(tmp_path).items():
        positive = flags[1] if flags else None
        with pytest.raises(ValueError, match=None) as exc:
            load_dataset(name, positive=positive)
        assert phrase in str(exc.value), case
    good = save(tmp_path / "ok.npz", **teacher(6))
    with pytest.raises(ValueError, match="size == 14, must be omitted"):
        load_dataset(good, 14)
    with pytest.raises(ValueError, match="applies to npz"):
        load_dataset("synthetic", 7, positive="1")
    with pytest.raises(ValueError, match="size == 14, must be 7"):
        TrainConfig(dataset=good, size=14)
    with pytest.raises(ValueError, match="positive == "):
        TrainConfig(dataset="mnist", positive=("1",))
    with pytest.raises(DataError):
        TrainConfig(dataset=f"npz:{tmp_path / 'absent.npz'}")


def test_a_changed_file_is_refused_at_training(tmp_path):
    """A config holds the content hash it was made with; training on a file changed since refuses."""
    from nlbound.training import RunOptions, train

    path = tmp_path / "f.npz"
    cfg = TrainConfig(dataset=save(path, **teacher(7, m=100, m_test=20, d=4)), width=4, t_end=0.1)
    save(path, **teacher(8, m=100, m_test=20, d=4))
    with pytest.raises(ValueError, match="has the file changed"):
        train(cfg, options=RunOptions(out_dir=tmp_path / "run"))
