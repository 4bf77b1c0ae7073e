"""Shared fixtures: the command-line binary the Python results are compared with."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli():
    """Runs `memscape ARGS...` (MEMSCAPE_BIN, else the workspace's debug build, built once here
    when missing) and returns the completed process; fails on a non-zero exit."""
    binary = os.environ.get("MEMSCAPE_BIN") or str(ROOT / "target" / "debug" / "memscape")
    if not os.path.exists(binary):
        subprocess.run(["cargo", "build", "-q", "-p", "memscape-cli"], cwd=ROOT, check=True)

    def run(*args):
        done = subprocess.run([binary, *map(str, args)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done

    return run
