"""nlbound: the a-priori generalization bound for nearly-linear networks, and its experiments."""

__version__ = "0.2.0"  # CHANGELOG.md

from nlbound.tables import read_sweep, read_trace, to_frame  # noqa: E402  (after __version__: tables needs numpy only)

__all__ = ["__version__", "read_trace", "read_sweep", "to_frame"]
