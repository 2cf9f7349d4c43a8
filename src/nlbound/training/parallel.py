"""train_many(): several runs in a pool of single-threaded processes (faster here than threads or batching)."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import torch

from nlbound.training.config import RunOptions, TrainConfig
from nlbound.training.run import TrainResult, train

__all__ = ["train_many"]


def _worker_init() -> None:
    torch.set_num_threads(1)


def _run_one(config: TrainConfig, options: RunOptions, dataset) -> TrainResult:
    return train(config, dataset, options)


def _options_for(config: TrainConfig, options: RunOptions, threads: int | None) -> RunOptions:
    base = Path(options.out_dir) if options.out_dir is not None else Path("runs")
    return dataclasses.replace(options, out_dir=base / config.key()[:12], progress=False, threads=threads)


def train_many(
    configs: Sequence[TrainConfig], options: RunOptions = RunOptions(), processes: int = 2,
    dataset=None, return_exceptions: bool = False,
) -> list:
    """Train each config (in its own directory options.out_dir/<key[:12]>, default runs/<key[:12]>)
    using `processes` worker processes with one thread each; results in the order of `configs`.

    A failing run does not stop the others; its exception is raised once all are done (or, with
    return_exceptions, returned in its place). `dataset`, if given, is shared by all configs."""
    configs = list(configs)
    if processes < 1:
        raise ValueError(f"processes == {processes}, must be in [1, inf)")
    if processes == 1 or len(configs) <= 1:
        futures_results = []
        for c in configs:
            try:
                futures_results.append(train(c, dataset, _options_for(c, options, options.threads)))
            except Exception as exc:  # noqa: BLE001 - reported below
                futures_results.append(exc)
    else:
        with ProcessPoolExecutor(max_workers=min(processes, len(configs)), mp_context=mp.get_context("spawn"),
                                 initializer=_worker_init) as pool:
            futures = [pool.submit(_run_one, c, _options_for(c, options, 1), dataset) for c in configs]
            futures_results = []
            for fut in futures:
                try:
                    futures_results.append(fut.result())
                except Exception as exc:  # noqa: BLE001 - reported below
                    futures_results.append(exc)
    if not return_exceptions:
        for r in futures_results:
            if isinstance(r, Exception):
                raise r
    return futures_results
