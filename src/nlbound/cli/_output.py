"""Writing a subcommand's results to stdout, quietly ending when the reader has gone."""

from __future__ import annotations

import os
import sys


def write_stdout(text: str) -> bool:
    """Write to stdout; False when the reader has gone (`nlbound bound ... | head -1`): the caller
    then ends quietly with status 0.

    Standard recipe: after BrokenPipeError, point stdout at /dev/null so that the interpreter's
    final flush does not raise again (and print "Exception ignored ... BrokenPipeError")."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # stdout without a file descriptor (e.g. captured)
            pass
        return False

