"""nlbound: the a-priori generalization bound for nearly-linear networks, and its experiments."""

__version__ = "0.1.0"
