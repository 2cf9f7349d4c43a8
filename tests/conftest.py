"""Suite-wide hooks: the `numerics` marker (the second, lowered-dispatch pass of `make test`) and the
check that a lowered pass really runs at numpy's baseline and ATen's default dispatch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cpu_dispatch import describe, numpy_dispatched, torch_capability

# The test files whose results depend on floating-point kernels (theory, integrators, training,
# recording, metrics, networks): `make test` runs them a second time at the lowered dispatch, where
# another CPU's code paths run (docs/ARCHITECTURE.md, "Tolerance policy"). A test that passes at one
# dispatch level only is a defect.
NUMERICS_FILES = frozenset({
    "test_theory.py", "test_theory_mpmath.py", "test_theory_ode.py", "test_cli_bound.py", "test_networks.py",
    "test_evaluation.py", "test_sensitivity.py", "test_integrators.py", "test_training.py",
    "test_train_sensitivity.py", "test_recording.py", "test_phases.py", "test_lemmas.py", "test_kl.py",
    "test_theory_kl_form.py", "test_theory_so.py", "test_theory_runtime.py", "test_theory_extremes.py",
})
LOWERED = "NLBOUND_LOWERED_DISPATCH"  # set by `make test` for its second pass


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "numerics: depends on floating-point kernels (run again at the "
                                       "lowered dispatch by `make test`)")


def pytest_report_header(config: pytest.Config) -> str:
    return f"dispatch: {describe()}"


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get(LOWERED) and (numpy_dispatched() or torch_capability() != "DEFAULT"):
        pytest.exit(f"{LOWERED} is set but the dispatch did not drop ({describe()}): set "
                    "NPY_DISABLE_CPU_FEATURES to `python tests/cpu_dispatch.py` and ATEN_CPU_CAPABILITY=default",
                    returncode=3)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).name in NUMERICS_FILES:
            item.add_marker(pytest.mark.numerics)
