"""What a fresh sweep worker pays before its first run: imports, then loading its dataset (twice:
the second call is the in-memory cache a worker reuses for its later runs), and peak memory."""

from __future__ import annotations

import argparse
import resource
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dataset", nargs="?", default="mnist")
    ap.add_argument("size", nargs="?", type=int, default=7)
    a = ap.parse_args()
    t0 = time.perf_counter()
    import torch  # noqa: F401  (a training worker imports it anyway)

    from nlbound.data import load_dataset

    t1 = time.perf_counter()
    ds = load_dataset(a.dataset, a.size)
    t2 = time.perf_counter()
    load_dataset(a.dataset, a.size)
    t3 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB (Linux)
    print(f"imports {t1 - t0:.2f} s; first load_dataset({a.dataset!r}, {a.size}) {t2 - t1:.2f} s; "
          f"second {1e3 * (t3 - t2):.2f} ms; peak RSS {rss:.2f} GiB; x_train {ds.x_train.nbytes / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
