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


@pytest.fixture(scope="session")
def keras_runner():
    """Run snippets under Keras 2 (``.k2(code)``) and Keras 3 (``.k3(code)``); see equivalence.py."""
    from tests.equivalence import Runner, have_verify_extra

    if not have_verify_extra():
        pytest.skip("the verify extra (tensorflow, tf-keras, keras) is not installed")
    runner = Runner()
    yield runner
    runner.close()


@pytest.fixture
def fix_code():
    """Apply kmigrate's fixes (all rules, unsafe included unless told) to a snippet."""
    from kmigrate.catalogue import load_rules
    from kmigrate.runner import process_source
    from kmigrate.sources import SourceFile
    from kmigrate.versions import Target

    def fix(code: str, select: tuple[str, ...] = (), unsafe: bool = True, target: Target | None = None) -> str:
        import textwrap

        code = textwrap.dedent(code)
        rules = {r.code: r for r in load_rules() if not select or r.code in select}
        src = SourceFile(Path("snippet.py"), "snippet.py", code, "utf-8", False, code.encode())
        result = process_source(src, rules, target or Target(), fix=True, unsafe=unsafe)
        return result.fixed_text if result.fixed_text is not None else code

    return fix
