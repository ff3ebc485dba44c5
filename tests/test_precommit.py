"""The repository's pre-commit hooks, installed by pre-commit itself from a copy of this tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
KERAS2 = "from tensorflow import keras\nopt = keras.optimizers.Adam(lr=0.1)\n"


def test_hook_file_declares_both_hooks() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"kmigrate-check", "kmigrate-fix"}
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["types_or"] == ["python", "jupyter"]
        assert "--force-exclude" in hook["entry"]
        assert hook["require_serial"] is True
    assert hooks["kmigrate-fix"]["entry"].startswith("kmigrate fix --apply")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=kmigrate", "-c", "user.email=kmigrate@example.invalid", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout


def _copy_tree(dest: Path) -> None:
    """This working tree as it is now (tracked and new files), without caches and builds."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        listed = _git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        files = [f for f in listed.split("\0") if f and (ROOT / f).is_file()]
    else:
        skip = {".git", "build", "__pycache__", ".pytest_cache", ".hypothesis"}
        files = [
            p.relative_to(ROOT).as_posix()
            for p in ROOT.rglob("*")
            if p.is_file() and not (skip & set(p.relative_to(ROOT).parts)) and ".egg-info" not in str(p)
        ]
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None or shutil.which("pre-commit") is None, reason="needs git and pre-commit")
def test_try_repo_flags_a_staged_keras2_file_and_fixes_it(tmp_path: Path) -> None:
    hooks_repo = tmp_path / "kmigrate"
    _copy_tree(hooks_repo)
    _git(hooks_repo, "init", "-q")
    _git(hooks_repo, "add", "-A")
    _git(hooks_repo, "commit", "-qm", "kmigrate")

    project = tmp_path / "project"
    project.mkdir()
    _git(project, "init", "-q")
    (project / "train.py").write_text(KERAS2)
    (project / "clean.py").write_text("import keras\nopt = keras.optimizers.Adam(learning_rate=0.1)\n")
    _git(project, "add", "train.py", "clean.py")

    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PRE_COMMIT_COLOR": "never"}
    env.pop("VIRTUAL_ENV", None)

    def try_repo(hook: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pre-commit", "try-repo", str(hooks_repo), hook, "--files", "train.py", "clean.py"],
            cwd=project, env=env, capture_output=True, text=True, timeout=900,
        )

    checked = try_repo("kmigrate-check")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "kmigrate check" in checked.stdout and "Failed" in checked.stdout
    assert "train.py:2:29: KM301 " in checked.stdout
    assert "clean.py" not in checked.stdout.split("- exit code")[1]
    assert (project / "train.py").read_text() == KERAS2

    fixed = try_repo("kmigrate-fix")
    assert fixed.returncode == 1, fixed.stdout + fixed.stderr  # it changed a file: the commit must stop
    assert (project / "train.py").read_text() == KERAS2.replace("lr=", "learning_rate=")
    again = try_repo("kmigrate-fix")
    assert again.returncode == 0, again.stdout + again.stderr
