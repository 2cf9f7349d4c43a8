"""Progress on stderr: off without a terminal, and an ETA only once something was measured."""

from __future__ import annotations

import sys
import time

import pytest

from nlbound.cli._progress import Status, progress_enabled
from nlbound.execution.runner import _Progress


def test_progress_is_off_without_a_terminal_or_with_no_progress(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert progress_enabled(False) is False
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert progress_enabled(False) is True and progress_enabled(True) is False


def test_runner_eta_waits_for_a_finished_run_then_uses_its_pace(tmp_path):
    bar = _Progress(tmp_path, 3, {"a": 1.0, "b": 3.0}, enabled=False)
    assert bar.eta() == "ETA after the first run finishes"
    bar.start = time.perf_counter() - 10.0  # run "a" (cost 1) took 10 s: "b" (cost 3) should take ~30 s
    bar.done("a")
    text = bar.eta()
    assert text.startswith("ETA 00:") and text.endswith("(pace of the 1 run finished)")
    assert int(text[7:9]) == pytest.approx(30, abs=1)


def test_status_counts_units_and_has_no_eta_before_the_first(capsys):
    with Status(True, "plan") as st:
        st.step("loading")
        assert st.bar.desc == "plan: loading"
        st.step("blocks", total=4)
        assert "0/4 (ETA after the first" in st.bar.desc
        st.t0 -= 2.0  # the first block took 2 s: 3 more ~ 6 s
        st.advance()
        st._show()
        assert "1/4 (ETA 00:06, measured on the ones done)" in st.bar.desc
    err = capsys.readouterr()
    assert "plan: blocks" in err.err and err.out == ""  # stderr only


def test_status_disabled_writes_nothing(capsys):
    with Status(False, "data") as st:
        st.step("x", total=2)
        st.advance()
    assert capsys.readouterr().err == ""
