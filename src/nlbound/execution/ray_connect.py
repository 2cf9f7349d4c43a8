"""Joining or starting Ray for the Ray backend: a bounded reachability check, Ray's logs kept off the
terminal (the progress bar), and a failure as one line naming the address and the likely cause."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
from typing import Any, Iterator

__all__ = ["CONNECT_TIMEOUT_S", "connect", "parse_address", "quiet_ray"]

CONNECT_TIMEOUT_S = 5.0  # how long an address may stay silent before we say it is unreachable


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) of "HOST:PORT" (a GCS address) or "ray://HOST:PORT" (Ray Client)."""
    rest = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--address == {address!r}, must be 'auto', HOST:PORT or ray://HOST:PORT")
    return host.strip("[]"), int(port)


def _check_reachable(address: str, timeout: float) -> None:
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
        raise ValueError(f"--address == {address!r}: cannot reach {host}:{port} within {timeout:g} s ({why}); "
                         f"is the Ray head running there (`ray start --head --port {port}`), the host and port "
                         "right, the port open?") from None


def _chain(exc: BaseException) -> str:
    """The messages of exc and of the exceptions behind it (Ray wraps the real cause twice)."""
    out, seen = [], set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        out.append(str(e))
        e = e.__cause__ or e.__context__
    return " ".join(out)


def _cause(address: str | None, exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    first = text[:200] + ("…" if len(text) > 200 else "")
    if "InvalidAuthToken" in _chain(exc) or "authentication token" in _chain(exc).lower():
        return (f"--address == {address!r}: the cluster refused us ({first}); it uses token authentication: "
                "set RAY_AUTH_MODE=token and the head's token (RAY_AUTH_TOKEN or ~/.ray/auth_token), see README")
    if address == "auto":
        return (f"--address == 'auto': no running Ray cluster found on this machine ({first}); start one with "
                "`ray start --head`, or leave out --address to start a local Ray runtime")
    if address is None:
        return f"could not start a local Ray runtime ({first})"
    return f"--address == {address!r}: could not join the Ray cluster ({first})"


def quiet_ray(address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Before `import ray`: its C++ log lines (GCS retry warnings) off the terminal, and when joining,
    its GCS connection retries (~1 s each, 20 by default) bounded by `timeout`. An operator's own
    settings of these variables win."""
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    if address is not None:
        os.environ.setdefault("RAY_gcs_server_port_wait_time_s", str(max(1, int(timeout))))


def connect(ray: Any, address: str | None, local_cpus: int | None, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """ray.init for the backend: address None starts a local runtime with local_cpus CPUs. Ray's own
    log lines stay off the driver's terminal (tasks' output: log_to_driver=False; Ray's INFO lines:
    logging_level WARNING). Any failure: ValueError, one line."""
    if address not in (None, "auto"):
        _check_reachable(address, timeout)
    try:
        with _stderr_aside():
            ray.init(address=address, num_cpus=local_cpus if address is None else None, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.WARNING)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...: one line for each
        raise ValueError(_cause(address, exc)) from None


@contextlib.contextmanager
def _stderr_aside() -> Iterator[None]:
    """File descriptor 2 into a temporary file while Ray connects: its C++ core writes retry warnings
    there directly (not through Python's logging), one per second while an address is silent."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
