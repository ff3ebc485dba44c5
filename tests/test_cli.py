"""Adoption features of the CLI: statistics, quiet/silent, progress, exit codes, shared options."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

KERAS2 = """\
from tensorflow import keras
a = keras.optimizers.SGD(0.1, decay=1e-4)
b = keras.optimizers.SGD(0.1, decay=1e-3)
c = keras.optimizers.Adam(lr=0.1)
"""


@pytest.fixture
def src(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "train.py"
    path.write_text(KERAS2)
    return path


def test_statistics(src: Path, run_cli) -> None:
    rc, out, _ = run_cli("check", "--isolated", "--select", "KM101,KM301", "--statistics", src.name)
    assert rc == 1
    lines = out.splitlines()
    assert lines[0] == "2  KM101  [*] optimizer-decay-ignored"
    assert lines[1] == "1  KM301  [*] optimizer-lr-keyword"
    assert lines[2].startswith("Found 3 findings in 1 file checked; 3 fixable")
    rc, out, _ = run_cli("check", "--isolated", "--select", "KM101,KM301", "--statistics", "-f", "json", src.name)
    assert json.loads(out) == [
        {"code": "KM101", "name": "optimizer-decay-ignored", "count": 2, "fixable": 2},
        {"code": "KM301", "name": "optimizer-lr-keyword", "count": 1, "fixable": 1},
    ]


def test_quiet_and_silent(src: Path, run_cli) -> None:
    rc, loud, _ = run_cli("check", "--isolated", src.name)
    assert "3 findings" in loud
    rc, quiet, _ = run_cli("check", "--isolated", "-q", src.name)
    assert rc == 1 and "3 findings" not in quiet and quiet.count("KM101") == loud.count("KM101")
    rc, out, err = run_cli("check", "--isolated", "--silent", src.name)
    assert rc == 1 and out == "" and err == ""
    rc, out, err = run_cli("fix", "--isolated", "-q", src.name)
    assert rc == 1 and out.startswith("--- a/train.py") and err == ""


def test_exit_non_zero_on_fix(src: Path, run_cli) -> None:
    rc, _, _ = run_cli("fix", "--isolated", "--apply", "--select", "KM101", src.name)
    assert rc == 0  # fixed, nothing of KM101 remains
    src.write_text(KERAS2)
    rc, _, _ = run_cli("fix", "--isolated", "--apply", "--select", "KM101", "--exit-non-zero-on-fix", src.name)
    assert rc == 1
    rc, _, _ = run_cli("fix", "--isolated", "--apply", "--select", "KM101", "--exit-non-zero-on-fix", src.name)
    assert rc == 0  # nothing left to change


def test_show_files_respects_excludes(src: Path, run_cli) -> None:
    (src.parent / "venv").mkdir()
    (src.parent / "venv" / "x.py").write_text("import keras\n")
    (src.parent / "nb.ipynb").write_text('{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}\n')
    rc, out, _ = run_cli("check", "--isolated", "--show-files", ".")
    assert rc == 0 and out.split() == ["nb.ipynb", "train.py"]


def test_progress_only_on_a_terminal_for_long_runs(src: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kmigrate import cli

    run = cli.Run(settings=None, rules=(), enabled={}, files=[], discovery_errors=[], options=cli.Options())  # type: ignore[arg-type]

    class TTY:
        def isatty(self) -> bool:
            return True

    with cli._progress(run, 100) as progress:
        assert progress is None  # stderr is not a terminal under test
    monkeypatch.setattr(cli.sys, "stderr", TTY())
    with cli._progress(run, 5) as progress:
        assert progress is None  # too few files to bother
    quiet = cli.Run(None, (), {}, [], [], cli.Options(quiet=True))  # type: ignore[arg-type]
    with cli._progress(quiet, 100) as progress:
        assert progress is None


def test_progress_bar_draws_on_a_terminal(src: Path) -> None:
    """A real pseudo-terminal: the bar appears on stderr, stdout keeps the findings only."""
    import os
    import pty
    import subprocess
    import sys

    for i in range(25):
        (src.parent / f"m{i}.py").write_text(KERAS2)
    master, slave = pty.openpty()
    proc = subprocess.run(
        [sys.executable, "-m", "kmigrate", "check", "--isolated", "--no-cache", "-f", "concise", "-j", "1", "."],
        cwd=src.parent, stdout=subprocess.PIPE, stderr=slave, timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "COLUMNS": "80"},
    )
    os.close(slave)
    err = b""
    try:
        while chunk := os.read(master, 65536):
            err += chunk
    except OSError:
        pass
    os.close(master)
    assert proc.returncode == 1
    assert b"checking" in err and b"/26" in err
    assert proc.stdout.decode().count("KM101") == 52 and b"checking" not in proc.stdout


def test_common_options_reach_every_command() -> None:
    from kmigrate import cli

    for command in (cli.check, cli.fix):
        params = inspect.signature(command).parameters
        for name, _, _ in cli.COMMON:
            assert name in params
        assert set(cli.Options.__dataclass_fields__) == {name for name, _, _ in cli.COMMON}


def test_help_lists_the_new_flags(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    rc, out, _ = run_cli("check", "--help")
    text = re.sub(r"\s+", " ", out)
    for flag in (
        "--config", "--isolated", "--show-settings", "--statistics", "--add-suppressions",
        "--report-unused-suppressions", "--quiet", "--force-exclude", "--per-file-ignores", "--jobs",
    ):
        assert flag in text, flag
    assert "json-lines" in text and "sarif" in text and "github" in text


def test_add_suppressions_leaves_unparsable_files_alone(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "bad.py"
    path.write_text("import keras\ndef f(:\n")
    rc, _, err = run_cli("check", "--isolated", "--add-suppressions", path)
    assert rc == 2 and "cannot parse" in err
    assert path.read_text() == "import keras\ndef f(:\n"
