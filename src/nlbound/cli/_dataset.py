"""The dataset flags shared by data, train and plan: --dataset NAME|npz:PATH, --size, --positive."""

from __future__ import annotations

import argparse

from nlbound.data import DATASETS, DatasetName, is_npz

DATASET_HELP = (f"one of {', '.join(DATASETS)}, or npz:PATH, your own data: an .npz file of x_train, y_train, "
                "x_test, y_test (features used as given; README, 'Your own data')")


def add_dataset_arguments(parser: argparse.ArgumentParser, size_help: str) -> None:
    parser.add_argument("--dataset", default="mnist", metavar="NAME", help=DATASET_HELP)
    parser.add_argument("--size", type=int, default=7, metavar="K", help=size_help)
    parser.add_argument("--positive", default=None, metavar="L1,L2,...",
                        help="npz:PATH only: the labels mapped to +1, the rest to -1 (default: the file's "
                             "labels are already ±1)")


def dataset_fields(args: argparse.Namespace) -> dict:
    """dataset, size (7 for an npz file, whose features are used as given: an explicit --size is
    refused) and positive, checked: the TrainConfig fields the flags name."""
    DatasetName(DATASETS).check("dataset", args.dataset)
    if is_npz(args.dataset) and "size" in getattr(args, "_options_given", ()):
        raise ValueError(f"--size == {args.size}, must be omitted with --dataset npz:PATH (the file's "
                         "features are used as given, without pooling)")
    return {"dataset": args.dataset, "size": args.size, "positive": tuple(args.positive.split(","))
            if args.positive is not None else ()}


def load_kwargs(fields: dict) -> dict:
    """The load_dataset arguments of dataset_fields(args): an npz file has no size."""
    npz = is_npz(fields["dataset"])
    return {"name": fields["dataset"], "size": None if npz else fields["size"],
            "positive": fields["positive"] or None}
