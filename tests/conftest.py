from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@pytest.fixture
def run_cli():
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    from kmigrate.cli import app

    def run(*args: str) -> tuple[int, str, str]:
        runner = CliRunner()
        result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run
