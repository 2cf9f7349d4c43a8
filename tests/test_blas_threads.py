"""numpy's BLAS threads follow RunOptions.threads during train() (torch.set_num_threads does not reach it)."""

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from nlbound.training import RunOptions, TrainConfig, train
from nlbound._blas import blas_threads
from nlbound.training import run as R


def _blas_threads() -> set[int]:
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_blas_threads_limits_and_restores():
    before = _blas_threads()
    with blas_threads(1):
        assert _blas_threads() == {1}
    assert _blas_threads() == before
    with blas_threads(None):
        assert _blas_threads() == before


def test_train_runs_numpy_blas_single_threaded(tmp_path, monkeypatch):
    seen = []
    original = R.Recorder.record

    def spy(self, *a, **k):
        seen.append(_blas_threads())
        return original(self, *a, **k)

    monkeypatch.setattr(R.Recorder, "record", spy)
    cfg = TrainConfig(dataset="synthetic", width=8, eps=0.1, beta=1e-2, t_end=0.5, times=(0.25, 0.5))
    with threadpool_limits(limits=2, user_api="blas"):  # as numpy starts on a 2-core machine
        assert _blas_threads() == {2}
        train(cfg, None, RunOptions(out_dir=str(tmp_path / "run"), threads=1, progress=False))
        assert _blas_threads() == {2}
    assert seen and all(s == {1} for s in seen)


def test_dataset_bitwise_independent_of_blas_threads():
    """Whitening and the synthetic data are built on one BLAS thread, whatever the caller's setting."""
    from nlbound.data import dataset as D

    built = []
    for n in (1, 2):
        D._synthetic_cached.cache_clear()
        with threadpool_limits(limits=n, user_api="blas"):
            built.append(D.synthetic_dataset(m=3000, m_test=100, size=7, seed=3))
            assert _blas_threads() == {n}
    a, b = built
    assert a is not b
    for name in ("x_train", "x_test", "whitening"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
