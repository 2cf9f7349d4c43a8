"""Exceptions and warnings of the data layer (all errors are ValueErrors: the CLI prints one line, exit 2)."""

from __future__ import annotations


class DataError(ValueError):
    """A dataset could not be read: unreadable or corrupt file, checksum mismatch, bad directory."""


class SourceUnavailableError(DataError):
    """No source of the dataset is reachable (no directory given and the download failed).

    Real-data tests skip (with this message as the visible reason) on this error only; every
    other DataError is a failure.
    """


class RankDeficiencyWarning(UserWarning):
    """The training inputs do not span R^d: whitening acts on their range, the bound uses the rank."""


__all__ = ["DataError", "SourceUnavailableError", "RankDeficiencyWarning"]
