"""Never lose user code: isolation, atomic writes, odd bytes and odd files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ADAM = "opt = keras.optimizers.Adam(lr=1e-3, decay=1e-5)"


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def errors_of(err: str) -> list[str]:
    return [l for l in err.splitlines() if ": error: " in l]


def test_one_files_crash_does_not_stop_the_run(tmp_path: Path, monkeypatch, run_cli) -> None:
    from kmigrate.checkers import optimizers

    good = write(tmp_path / "good.py", f"import keras\n{ADAM}\n")
    bad = write(tmp_path / "bad.py", "import keras\nboom = keras.optimizers.Adam(lr=1)\n")
    real = optimizers.OptimizerChecker.visit_Call

    def explode(self, node):
        if "boom" in self.ctx.module.code:
            raise RuntimeError("checker bug")
        return real(self, node)

    monkeypatch.setattr(optimizers.OptimizerChecker, "visit_Call", explode)
    code, out, err = run_cli("check", tmp_path, "--format", "concise", "--no-cache", "--jobs", "1")
    assert code == 2
    assert f"{good}:2:" in out
    [line] = errors_of(err)
    assert line.startswith(str(bad)) and "internal error: RuntimeError: checker bug" in line


def test_interrupted_write_leaves_the_original(tmp_path: Path, monkeypatch, run_cli) -> None:
    path = write(tmp_path / "m.py", f"import keras\n{ADAM}\n")
    before = path.read_bytes()

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    code, _, err = run_cli("fix", path, "--apply")
    assert code == 2 and "cannot write" in err
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]  # no temporary file left behind


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("binary.py", b"\x00\x01\x02ELF", "binary file"),
        ("latin.py", b"import keras\nx = '\xe9'\n", "cannot decode as utf-8"),
        ("badcodec.py", b"# -*- coding: klingon -*-\nimport keras\n", "unknown source encoding"),
    ],
)
def test_undecodable_files_get_a_clear_message(tmp_path: Path, name, data, message, run_cli) -> None:
    path = write(tmp_path / name, data)
    code, _, err = run_cli("check", path)
    assert code == 2
    [line] = errors_of(err)
    assert line.startswith(str(path)) and message in line and "Traceback" not in err
    assert path.read_bytes() == data


def test_broken_symlink_and_loop(tmp_path: Path, run_cli) -> None:
    write(tmp_path / "ok.py", f"import keras\n{ADAM}\n")
    (tmp_path / "dangling.py").symlink_to(tmp_path / "missing.py")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "loop").symlink_to(tmp_path / "sub")
    code, out, err = run_cli("check", tmp_path, "--format", "concise")
    assert code == 2
    assert "ok.py:2:" in out
    assert any("dangling.py" in l and "broken symbolic link" in l for l in errors_of(err))


def test_permission_error(tmp_path: Path, monkeypatch, run_cli) -> None:
    path = write(tmp_path / "secret.py", f"import keras\n{ADAM}\n")
    real = Path.read_bytes

    def deny(self):
        if self.name == "secret.py":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    code, _, err = run_cli("check", path, "--no-cache")
    assert code == 2 and "permission denied" in err


@pytest.mark.parametrize(
    "body",
    [
        "import keras\r\n" + ADAM + "\r\n",  # CRLF
        "import keras\n" + ADAM + "\r\nx = 1\r",  # mixed newlines, no final LF
        "import keras\n\x0c\n" + ADAM + "\n",  # form feed
        "import keras\nif True:\n\t" + ADAM + "\n",  # tabs
        "import keras\n" + ADAM + "  # " + "x" * 20000 + "\n",  # a very long line
    ],
)
def test_fix_preserves_bytes_around_the_edit(tmp_path: Path, body: str, run_cli) -> None:
    path = write(tmp_path / "m.py", body.encode())
    code, _, _ = run_cli("fix", path, "--apply")
    assert code == 0
    new = path.read_bytes().decode()
    expected = body.replace(
        "Adam(lr=1e-3, decay=1e-5)",
        "Adam(learning_rate=keras.optimizers.schedules.InverseTimeDecay(1e-3, decay_steps=1, decay_rate=1e-5))",
    )
    assert new == expected


def test_very_large_file(tmp_path: Path, run_cli) -> None:
    lines = ["import keras"] + [f"w{i} = {i} * 2" for i in range(30000)] + [ADAM]
    path = write(tmp_path / "big.py", "\n".join(lines) + "\n")
    code, out, _ = run_cli("check", path, "--format", "json", "--no-cache")
    assert code == 1
    found = json.loads(out)["diagnostics"]
    assert {d["line"] for d in found} == {30002}


def test_cache_is_used_and_invalidated(tmp_path: Path, monkeypatch, run_cli) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "m.py", f"import keras\n{ADAM}\n")
    first = run_cli("check", path, "--format", "concise")
    assert list((tmp_path / ".kmigrate_cache").rglob("*"))  # entries were written
    assert run_cli("check", path, "--format", "concise") == first
    write(path, "import keras\nopt = keras.optimizers.Adam(1e-3)\n")  # content changes
    code, out, _ = run_cli("check", path, "--format", "concise")
    assert code == 0 and out == ""
    code, out, _ = run_cli("check", path, "--format", "concise", "--target-keras", "3.4")
    assert code == 0


def test_pool_gives_the_same_results_as_serial(tmp_path: Path, run_cli) -> None:
    for i in range(40):
        write(tmp_path / f"m{i:02}.py", f"import keras\n# {i}\n{ADAM}\n")
        write(tmp_path / f"plain{i:02}.py", "x = 1\n")
    serial = run_cli("check", tmp_path, "--format", "json", "--jobs", "1", "--no-cache")
    pooled = run_cli("check", tmp_path, "--format", "json", "--jobs", "2", "--no-cache")
    assert serial == pooled
    assert json.loads(pooled[1])["summary"]["files"] == 80


def test_pool_returns_results_in_input_order_whatever_the_sizes(tmp_path: Path) -> None:
    from kmigrate.catalogue import load_rules
    from kmigrate.parallel import Job, process_files
    from kmigrate.versions import Target

    paths = []
    for i in range(60):  # sizes in no particular order: the pool schedules the largest first
        padding = "x = 1\n" * ((i * 37) % 50)
        paths.append(write(tmp_path / f"m{i:02}.py", f"import keras\n{padding}{ADAM}\n"))
    rules = {r.code: r for r in load_rules() if r.default_enabled}
    job = Job(rules, Target(), fix=False, unsafe=False, cache_dir=None)
    pooled = process_files(paths, job, jobs=2)
    serial = process_files(paths, job, jobs=1)
    assert [r.display for r in pooled] == [str(p) for p in paths]
    assert [r.diagnostics for r in pooled] == [r.diagnostics for r in serial]
    assert {d.span.line for r in pooled for d in r.diagnostics} == {2 + (i * 37) % 50 for i in range(60)}
