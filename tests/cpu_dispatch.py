"""numpy's and torch's CPU dispatch levels: what the lowered-dispatch test pass disables, and a check
that it did (docs/ARCHITECTURE.md, "Tolerance policy").

`python tests/cpu_dispatch.py` prints numpy's dispatchable features (all above its baseline, the value for
NPY_DISABLE_CPU_FEATURES); numpy refuses to disable baseline features, so the baseline stays on.
"""

from __future__ import annotations

import sys


def _numpy_cpu() -> tuple[list[str], list[str], dict[str, bool]]:
    """(baseline, dispatchable, detected features) of this numpy (2.x, or 1.x's numpy.core)."""
    try:
        from numpy._core import _multiarray_umath as mu
    except ImportError:  # numpy 1.x
        from numpy.core import _multiarray_umath as mu  # type: ignore[no-redef]
    return list(mu.__cpu_baseline__), list(mu.__cpu_dispatch__), dict(mu.__cpu_features__)


def numpy_above_baseline() -> list[str]:
    """Every feature numpy can dispatch to beyond its baseline (whether this CPU has it or not)."""
    return _numpy_cpu()[1]


def numpy_dispatched() -> list[str]:
    """The features above the baseline that numpy uses in this process (detected and not disabled)."""
    _, dispatch, found = _numpy_cpu()
    return [k for k in dispatch if found.get(k)]


def torch_capability() -> str:
    import torch

    return str(torch.backends.cpu.get_cpu_capability())


def describe() -> str:
    baseline = _numpy_cpu()[0]
    return (f"numpy baseline {' '.join(baseline)}, dispatched {' '.join(numpy_dispatched()) or 'none'}; "
            f"torch ATen {torch_capability()}")


if __name__ == "__main__":
    sys.stdout.write(" ".join(numpy_above_baseline()) + "\n")
