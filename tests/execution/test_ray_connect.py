"""The Ray backend off its happy path: nothing to train starts nothing; a connection failure is one
line within seconds naming the address and the likely cause."""

from __future__ import annotations

import socket
import time

import pytest

from nlbound.execution.ray_connect import connect, parse_address

ray = pytest.importorskip("ray")


class _NoRay:
    """Stands in for the ray module: any use is a failure (nothing may start)."""

    def __getattr__(self, name):
        raise AssertionError(f"ray.{name} used although every run is cached")


def test_nothing_to_train_starts_no_ray(monkeypatch):
    import sys

    from nlbound.execution.backends import RayBackend

    monkeypatch.setitem(sys.modules, "ray", _NoRay())
    RayBackend(address="auto").execute([], lambda *a: None, "/nonexistent", None, report=None)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # released on close: nothing listens there


@pytest.mark.parametrize("form", ["{}", "ray://{}"])
def test_unreachable_address_is_one_line_within_seconds(form):
    address = form.format(f"127.0.0.1:{_closed_port()}")
    start = time.perf_counter()
    with pytest.raises(ValueError) as err:
        connect(ray, address, None, timeout=2.0)
    assert time.perf_counter() - start < 5.0
    text = str(err.value)
    assert "\n" not in text and f"--address == {address!r}" in text and "cannot reach" in text
    assert "ray start --head" in text
    assert not ray.is_initialized()


@pytest.mark.parametrize("bad", ["nohost", "host:", "host:99999", "ray://:10001"])
def test_malformed_address(bad):
    with pytest.raises(ValueError, match="must be 'auto', HOST:PORT or ray://HOST:PORT"):
        parse_address(bad)


def test_auto_without_a_cluster_is_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # no ray_current_cluster file of another session here
    start = time.perf_counter()
    with pytest.raises(ValueError) as err:
        connect(ray, "auto", None)
    text = str(err.value)
    assert time.perf_counter() - start < 30.0
    assert "\n" not in text and "--address == 'auto'" in text and "ray start --head" in text


# --- the README's recipe for a cluster with token authentication, run end to end -------------------

def _free_port() -> int:
    return _closed_port()


@pytest.fixture(scope="module")
def token_head(tmp_path_factory):
    """A one-CPU Ray head with RAY_AUTH_MODE=token and its own token file, in its own process group
    (stopped by signalling that group: nothing else is touched). Yields (address, token path)."""
    import os
    import secrets
    import signal
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    token = tmp_path_factory.mktemp("auth") / "token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="nlray")  # short: Ray's socket paths must stay under ~107 characters
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token), "OMP_NUM_THREADS": "1"}
    ray_cli = Path(sys.executable).with_name("ray")
    head = subprocess.Popen([str(ray_cli), "start", "--head", "--block", "--port", str(port), "--num-cpus", "1",
                             "--include-dashboard=false", "--temp-dir", temp, "--disable-usage-stats"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or head.poll() is not None:
                    pytest.skip("could not start a local Ray head here")
                time.sleep(1)
        time.sleep(3)  # the GCS answers before the raylet has registered
        yield f"127.0.0.1:{port}", token
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)


def _sweep(tmp_path, address: str, env: dict):
    import os
    import subprocess
    import sys

    spec = tmp_path / "s.toml"
    spec.write_text('[fixed]\ndataset = "synthetic"\nwidth = 4\n[sweep]\neps = [0.0]\n[horizon]\nt_end = 0.5\n')
    full = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    return subprocess.run([sys.executable, "-m", "nlbound", "sweep", str(spec), "--backend", "ray", "--address",
                           address, "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
                           "--no-progress"], env={**full, "OMP_NUM_THREADS": "1", **env}, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_token_cluster_refuses_without_the_token_in_one_line(token_head, tmp_path):
    address, _ = token_head
    proc = _sweep(tmp_path, address, {})
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "token authentication" in proc.stderr and address in proc.stderr


@pytest.mark.slow
def test_token_cluster_trains_with_the_token(token_head, tmp_path):
    address, token = token_head
    proc = _sweep(tmp_path, address, {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)})
    assert proc.returncode == 0, proc.stderr
    assert "(1 runs trained, 0 cached)" in proc.stdout
