"""nlbound: the a-priori generalization bound for nearly-linear networks, and its experiments."""

__version__ = "0.2.0"  # CHANGELOG.md
