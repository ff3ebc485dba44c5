"""Acceptance on the NMT encoder-decoder notebook: findings in cells, and a fix whose git diff
holds only the edited source lines."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

CASE = Path(__file__).resolve().parent.parent / "fixtures" / "cases" / "nmt_encoder_decoder" / "translate.ipynb"

pytestmark = pytest.mark.skipif(not CASE.is_file() or shutil.which("git") is None, reason="needs the case and git")


def test_findings_carry_cell_positions(run_cli) -> None:
    rc, out, err = run_cli("check", "--isolated", "--no-cache", "-f", "concise", CASE)
    assert rc == 1, err
    assert out and all(f"{CASE}:cell " in line for line in out.splitlines())


def test_fix_apply_git_diff_shows_only_edited_source_lines(tmp_path: Path, run_cli) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    nb = repo / "translate.ipynb"
    shutil.copy(CASE, nb)

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=repo, check=True, capture_output=True, text=True,
        ).stdout

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "case")
    rc, diff, _ = run_cli("fix", "--isolated", "--no-cache", "--unsafe-fixes", nb)
    assert rc == 1 and ":cell " in diff
    removed = {line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")}
    added = {line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")}
    rc, _, err = run_cli("fix", "--isolated", "--no-cache", "--apply", "--unsafe-fixes", nb)
    assert rc in (0, 1), err
    changed = [
        line for line in git("diff", "-U0", "--no-color").splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed
    for line in changed:
        # Every changed line of the .ipynb is one element of a cell's `source` list ...
        assert line[1:].startswith('    "'), line
        text = json.loads(line[1:].strip().rstrip(","))
        # ... that the cell diff showed as removed or added (up to the newline that a new last
        # line gives the line before it).
        assert text.rstrip("\n") in (removed if line[0] == "-" else added), line
    json.loads(nb.read_text(encoding="utf-8"))
