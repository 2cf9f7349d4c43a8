"""Real and synthetic datasets: MNIST / Fashion-MNIST loading, downsampling, labels, whitening, statistics.

Contract (docs/ARCHITECTURE.md, "data -> everything"): ``load_dataset(name, size, data_dir,
cache_dir)`` returns a frozen ``Dataset`` with whitened, row-major inputs (the paper's X̃ is
``x_train.T``), ±1 labels, ``d`` pixels, the effective input dimension ``rank`` and
``s = ||Y X̃⁺||`` (Sec. 5.3). ``dataset_statistics`` adds the optimal linear model's risks.
"""

from nlbound.data.dataset import (
    DATASETS,
    IMAGE_DATASETS,
    Dataset,
    build_dataset,
    clear_cache,
    dataset_for,
    dataset_statistics,
    linear_predictions,
    load_dataset,
    misclassification_risk,
    synthetic_dataset,
)
from nlbound.data.errors import DataError, RankDeficiencyWarning, SourceUnavailableError
from nlbound.data.idx import parse_idx, read_idx
from nlbound.data.npz import DatasetName, dataset_identity, is_npz
from nlbound.data.transform import (
    VALID_SIZES,
    Whitening,
    average_pool,
    binary_labels,
    check_size,
    fit_whitening,
    unit_ball_scale,
)

__all__ = [
    "DATASETS", "IMAGE_DATASETS", "VALID_SIZES", "Dataset", "DataError", "SourceUnavailableError", "RankDeficiencyWarning",
    "load_dataset", "dataset_for", "DatasetName", "dataset_identity", "is_npz", "synthetic_dataset", "dataset_statistics", "build_dataset", "clear_cache",
    "linear_predictions", "misclassification_risk", "average_pool", "binary_labels", "check_size",
    "unit_ball_scale", "fit_whitening", "Whitening", "read_idx", "parse_idx",
]  # fmt: skip
