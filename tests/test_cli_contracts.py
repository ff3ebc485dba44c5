"""The contracts of DESIGN.md: exit codes, positions in every format, fix never loses code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_names import SPELLINGS

ROOT = Path(__file__).resolve().parent.parent
ADAM = "keras.optimizers.Adam(lr=1e-3, decay=1e-5)"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def adam_file(tmp_path: Path) -> Path:
    return write(tmp_path, "train.py", f"from tensorflow import keras\n\nopt = {ADAM}\n")


def test_check_reports_entries_1_and_34_at_exact_positions(adam_file: Path, run_cli) -> None:
    code, out, _ = run_cli("check", adam_file, "--format", "json")
    assert code == 1
    payload = json.loads(out)
    assert payload["version"] == 1
    found = {(d["code"], d["line"], d["column"], d["end_line"], d["end_column"]) for d in payload["diagnostics"]}
    # opt = keras.optimizers.Adam(lr=1e-3, decay=1e-5)
    #                             ^29     ^38
    assert ("KM301", 3, 29, 3, 36) in found
    assert ("KM101", 3, 38, 3, 48) in found
    by_code = {d["code"]: d for d in payload["diagnostics"]}
    assert by_code["KM101"]["catalogue"] == [1]
    assert by_code["KM301"]["catalogue"] == [34]
    assert by_code["KM101"]["fix"]["safety"] == "safe"
    assert set(by_code["KM101"]) >= {
        "path", "line", "column", "end_line", "end_column", "cell", "code", "name", "breaks",
        "message", "catalogue", "fix",
    }

    code, out, _ = run_cli("check", adam_file, "--format", "concise")
    assert code == 1
    assert f"{adam_file}:3:29: KM301 " in out
    assert f"{adam_file}:3:38: KM101 " in out

    code, out, _ = run_cli("check", adam_file)
    assert code == 1
    assert f"{adam_file}:3:38: KM101" in out
    assert "opt = keras.optimizers.Adam(lr=1e-3, decay=1e-5)" in out  # the source line
    assert "fix (safe)" in out
    assert out.rstrip().splitlines()[-1] == "1 file checked, 2 findings, 2 fixable with `kmigrate fix --apply`."


def test_fix_prints_a_diff_and_writes_nothing(adam_file: Path, run_cli) -> None:
    before = adam_file.read_bytes()
    code, out, err = run_cli("fix", adam_file)
    assert code == 1
    assert out.startswith("--- a/")
    assert "+opt = keras.optimizers.Adam(learning_rate=keras.optimizers.schedules.InverseTimeDecay(" in out
    assert adam_file.read_bytes() == before
    assert "Would fix 2 findings in 1 file" in err


def test_fix_apply_rewrites_and_second_run_changes_nothing(adam_file: Path, run_cli) -> None:
    code, _, _ = run_cli("fix", adam_file, "--apply")
    assert code == 0
    text = adam_file.read_text()
    assert text == (
        "from tensorflow import keras\n\nopt = keras.optimizers.Adam(learning_rate="
        "keras.optimizers.schedules.InverseTimeDecay(1e-3, decay_steps=1, decay_rate=1e-5))\n"
    )
    code, out, _ = run_cli("check", adam_file, "--format", "json")
    assert code == 0 and json.loads(out)["diagnostics"] == []
    code, out, _ = run_cli("fix", adam_file, "--apply")
    assert code == 0 and adam_file.read_text() == text


@pytest.mark.parametrize("imports,expr", SPELLINGS)
def test_same_findings_behind_every_import_spelling(tmp_path: Path, imports: str, expr: str, run_cli) -> None:
    call = expr if expr.endswith("Adam") else expr
    path = write(tmp_path, "m.py", f"{imports}\nopt = {call}(lr=1e-3, decay=1e-5)\n")
    code, out, _ = run_cli("check", path, "--format", "json", "--select", "KM101,KM301")
    assert code == 1
    assert sorted(d["code"] for d in json.loads(out)["diagnostics"]) == ["KM101", "KM301"]


def test_no_keras_import_no_findings(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, "m.py", f"opt = {ADAM}\nimport torch\nopt = torch.optim.Adam(p, lr=1e-3)\n")
    code, out, _ = run_cli("check", path, "--format", "concise")
    assert code == 0 and out == ""


def test_syntax_error_exit_2_file_untouched_others_checked(tmp_path: Path, adam_file: Path, run_cli) -> None:
    broken = write(tmp_path, "broken.py", "import keras\nopt = keras.optimizers.Adam(lr=1e-3, decay=1e-5\n")
    before = broken.read_bytes()
    code, out, err = run_cli("check", tmp_path, "--format", "concise")
    assert code == 2
    assert f"{adam_file}:3:38: KM101" in out  # the other file is still checked
    lines = [l for l in err.splitlines() if "broken.py" in l]
    assert len(lines) == 1 and lines[0].startswith(f"{broken}:") and "cannot parse" in lines[0]
    code, _, _ = run_cli("fix", tmp_path, "--apply")
    assert code == 2
    assert broken.read_bytes() == before
    assert "InverseTimeDecay" in adam_file.read_text()


def test_exit_zero(adam_file: Path, run_cli) -> None:
    code, _, _ = run_cli("check", adam_file, "--exit-zero")
    assert code == 0


def test_select_and_ignore(adam_file: Path, run_cli) -> None:
    _, out, _ = run_cli("check", adam_file, "--select", "KM101", "--format", "json")
    assert [d["code"] for d in json.loads(out)["diagnostics"]] == ["KM101"]
    _, out, _ = run_cli("check", adam_file, "--ignore", "KM1", "--format", "json")
    assert [d["code"] for d in json.loads(out)["diagnostics"]] == ["KM301"]
    code, _, err = run_cli("check", adam_file, "--select", "KM999")
    assert code == 2 and "matches no rule" in err


def test_selecting_only_one_rule_fixes_only_its_part(adam_file: Path, run_cli) -> None:
    run_cli("fix", adam_file, "--apply", "--select", "KM301")
    assert "opt = keras.optimizers.Adam(learning_rate=1e-3, decay=1e-5)" in adam_file.read_text()


def test_bad_usage_is_one_line_exit_2(adam_file: Path, run_cli) -> None:
    for args in (["--format", "xml"], ["--target-keras", "banana"], ["--target-keras", "2.15"]):
        code, out, err = run_cli("check", adam_file, *args)
        assert code == 2, args
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    code, _, err = run_cli("explain", "KM999")
    assert code == 2 and "unknown rule" in err


def test_missing_path_is_an_error(tmp_path: Path, run_cli) -> None:
    code, _, err = run_cli("check", tmp_path / "nope.py")
    assert code == 2 and "no such file" in err


def test_unsafe_fix_needs_flag(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, "m.py", "import keras\nlr = get_lr()\nopt = keras.optimizers.SGD(lr, decay=1e-4)\n")
    run_cli("fix", path, "--apply")
    assert "decay=1e-4" in path.read_text()
    run_cli("fix", path, "--apply", "--unsafe-fixes")
    assert "InverseTimeDecay(lr, decay_steps=1, decay_rate=1e-4)" in path.read_text()


def test_fix_preserves_encoding_bom_and_newlines(tmp_path: Path, run_cli) -> None:
    latin = tmp_path / "latin.py"
    latin.write_bytes(
        b"# -*- coding: latin-1 -*-\r\nfrom tensorflow import keras\r\n# caf\xe9\r\n"
        b"opt = keras.optimizers.Adam(lr=0.1)\r\n"
    )
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbfimport keras\nopt = keras.optimizers.Adam(lr=0.1)\n")
    code, _, _ = run_cli("fix", tmp_path, "--apply")
    assert code == 0
    assert latin.read_bytes() == (
        b"# -*- coding: latin-1 -*-\r\nfrom tensorflow import keras\r\n# caf\xe9\r\n"
        b"opt = keras.optimizers.Adam(learning_rate=0.1)\r\n"
    )
    assert bom.read_bytes() == b"\xef\xbb\xbfimport keras\nopt = keras.optimizers.Adam(learning_rate=0.1)\n"


def test_fix_that_would_break_syntax_is_not_written(tmp_path: Path, monkeypatch) -> None:
    """The re-parse guard: a fix whose result does not parse is dropped, the file is untouched."""
    from kmigrate import fixes
    from kmigrate.catalogue import load_rules
    from kmigrate.runner import process_file
    from kmigrate.versions import Target

    path = write(tmp_path, "m.py", f"import keras\nopt = {ADAM}\n")
    real = fixes.apply_edits

    def broken(text, groups):
        new, n = real(text, groups)
        return new + "(\n", n

    monkeypatch.setattr("kmigrate.runner.apply_edits", broken)
    result = process_file(path, {r.code: r for r in load_rules()}, Target(), fix=True)
    assert result.fixed_text is None
    assert result.warnings and "does not parse" in result.warnings[0]


def test_discovery_skips_venvs_builds_and_gitignored(tmp_path: Path, run_cli) -> None:
    body = f"import keras\nopt = {ADAM}\n"
    (tmp_path / ".git").mkdir()
    write(tmp_path, ".gitignore", "generated/\n*_tmp.py\n!keep_tmp.py\n")
    write(tmp_path, "src/a.py", body)
    write(tmp_path, "src/b_tmp.py", body)
    write(tmp_path, "src/keep_tmp.py", body)
    write(tmp_path, "generated/c.py", body)
    write(tmp_path, "build/d.py", body)
    write(tmp_path, "node_modules/e.py", body)
    write(tmp_path, "myenv/pyvenv.cfg", "home = /usr\n")
    write(tmp_path, "myenv/lib/f.py", body)
    write(tmp_path, "src/__pycache__/g.py", body)
    code, out, _ = run_cli("check", tmp_path, "--format", "concise", "--select", "KM101")
    files = sorted({Path(l.split(":")[0]).name for l in out.splitlines()})
    assert files == ["a.py", "keep_tmp.py"]


def test_rules_json_lists_every_field(run_cli) -> None:
    code, out, _ = run_cli("rules", "--format", "json")
    assert code == 0
    rules = json.loads(out)
    km101 = next(r for r in rules if r["code"] == "KM101")
    assert km101["catalogue"] == [1] and km101["keras"] == ">=3.0" and km101["fix"] == "safe"
    for rule in rules:
        assert rule["catalogue"] and rule["keras"] and rule["title"]


@pytest.mark.skipif(os.environ.get("KMIGRATE_SKIP_WHEEL") == "1", reason="wheel test disabled")
def test_installed_wheel_ships_the_rules(tmp_path: Path) -> None:
    """`pip install .` (not editable) must carry rules/*.toml; run from outside the tree."""
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheel_dir), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(wheel_dir.glob("kmigrate-*.whl"))
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    assert list((target / "kmigrate" / "rules").glob("KM101-*.toml"))
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "kmigrate", *a], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    rules = run("rules", "--format", "json")
    assert rules.returncode == 0 and any(r["code"] == "KM101" for r in json.loads(rules.stdout))
    explain = run("explain", "KM101")
    assert explain.returncode == 0 and "optimizer-decay-ignored" in explain.stdout
    sample = write(tmp_path, "s.py", f"import keras\nopt = {ADAM}\n")
    check = run("check", str(sample), "--format", "concise")
    assert check.returncode == 1 and "KM101" in check.stdout
