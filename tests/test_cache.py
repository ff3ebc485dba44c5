"""The result cache: what keys it, what survives damage, and what a warm run never does."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

from kmigrate import cache
from kmigrate.catalogue import load_rules

ROOT = Path(__file__).resolve().parent.parent
ADAM = "opt = keras.optimizers.Adam(lr=1e-3, decay=1e-5)"
NESTED = """\
import keras
a = keras.Input((1,), name="a")
b = keras.Input((1,), name="b")
nested = keras.Model({"pair": {"a": a, "b": b}}, keras.layers.Add()([a, b]))
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def codes(out: str) -> list[str]:
    return sorted(d["code"] for d in json.loads(out)["diagnostics"])


def test_every_setting_that_changes_results_keys_the_cache(tmp_path: Path, monkeypatch, run_cli) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "m.py", f"import keras\n{ADAM}\nx = 1  # kmigrate: ignore[KM101]\n")
    check = lambda *args: run_cli("check", "--isolated", "-f", "json", *args, path)  # noqa: E731
    plain = codes(check()[1])
    assert "KM101" in plain and "KM001" not in plain
    assert "KM001" in codes(check("--report-unused-suppressions")[1])
    assert codes(check()[1]) == plain
    assert "KM101" not in codes(check("--per-file-ignores", "m.py:KM101")[1])
    assert codes(check()[1]) == plain

    write(path, NESTED)
    assert "KM317" in codes(check("--target-keras", "3.3")[1])  # KM317 applies below Keras 3.4
    assert "KM317" not in codes(check("--target-keras", "3.4")[1])
    assert "KM317" in codes(check("--target-keras", "3.3")[1])
    # The same rules for both, but an unknown target says where the rule applies.
    messages = lambda out: [d["message"] for d in json.loads(out)["diagnostics"] if d["code"] == "KM317"]  # noqa: E731
    assert all("(applies to Keras >=3.0,<3.4)" in m for m in messages(check()[1]))
    assert not any("(applies to" in m for m in messages(check("--target-keras", "3.3")[1]))


def test_results_carry_the_path_they_were_checked_under(tmp_path: Path, monkeypatch, run_cli) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "m.py", f"import keras\n{ADAM}\n")
    for shown in ("m.py", str(tmp_path / "m.py"), "m.py"):
        _, out, _ = run_cli("check", "--isolated", "-f", "json", shown)
        assert {d["path"] for d in json.loads(out)["diagnostics"]} == {shown}


def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path: Path, monkeypatch, run_cli) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "m.py", f"import keras\n{ADAM}\n")
    first = run_cli("check", "--isolated", "-f", "json", path)
    files = [p for p in (tmp_path / cache.CACHE_DIR_NAME).rglob("*.pickle")]
    assert {p.name.split("-")[0] for p in files} == {"results", "rules"}
    for p in files:
        p.write_bytes(b"not a pickle")
    load_rules.cache_clear()
    assert run_cli("check", "--isolated", "-f", "json", path) == first
    for p in files:  # rewritten whole
        assert pickle.loads(p.read_bytes())


def test_an_index_keeps_the_entries_of_other_runs(tmp_path: Path, monkeypatch, run_cli) -> None:
    monkeypatch.chdir(tmp_path)
    a = write(tmp_path / "a.py", f"import keras\n{ADAM}\n")
    b = write(tmp_path / "b.py", f"import keras\n\n{ADAM}\n")
    run_cli("check", "--isolated", a)
    run_cli("check", "--isolated", b)
    (index,) = (tmp_path / cache.CACHE_DIR_NAME).rglob("results-*.pickle")
    assert set(pickle.loads(index.read_bytes())) == {str(a), str(b)}


def test_only_check_writes_a_cache(tmp_path: Path, monkeypatch, run_cli) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "m.py", f"import keras\n{ADAM}\n")
    run_cli("fix", "--isolated", path)
    run_cli("check", "--isolated", "--no-cache", path)
    assert not (tmp_path / cache.CACHE_DIR_NAME).exists()
    run_cli("check", "--isolated", path)
    assert (tmp_path / cache.CACHE_DIR_NAME).is_dir()


def test_the_fingerprint_follows_the_content_of_kmigrate(tmp_path: Path) -> None:
    package = tmp_path / "kmigrate"
    rules = tmp_path / "rules"
    module = write(package / "checkers" / "m.py", "x = 1\n")
    rule = write(rules / "KM101-x.toml", 'code = "KM101"\n')
    before = cache.fingerprint(str(package), str(rules))
    write(package / "__pycache__" / "m.py", "ignored\n")
    os.utime(module, ns=(0, 0))  # a fresh checkout elsewhere: other stats, same content
    assert cache.fingerprint(str(package), str(rules)) == before

    stat = module.stat()
    module.write_text("x = 2\n")  # same size, mtime put back
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cache.fingerprint(str(package), str(rules)) != before

    before = cache.fingerprint(str(package), str(rules))
    write(rules / "KM102-y.toml", 'code = "KM102"\n')
    assert cache.fingerprint(str(package), str(rules)) != before
    before = cache.fingerprint(str(package), str(rules))
    rule.write_text('code = "KM109"\n')
    assert cache.fingerprint(str(package), str(rules)) != before


def test_parsed_rules_are_kept_and_reused(tmp_path: Path, monkeypatch) -> None:
    shipped = load_rules()
    assert cache.rules(tmp_path, load_rules) == shipped
    (stored,) = tmp_path.rglob("rules-*.pickle")
    assert stored.name == f"rules-{cache.code_fingerprint()}.pickle"

    def refuse() -> tuple:
        raise AssertionError("the rules were parsed again")

    assert cache.rules(tmp_path, refuse) == shipped


def test_a_warm_run_parses_nothing(tmp_path: Path) -> None:
    write(tmp_path / "src" / "m.py", f"import keras\n{ADAM}\n")
    write(tmp_path / "src" / "n.py", NESTED)
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['kmigrate', 'check', 'src', '--isolated', '-f', 'json', '--exit-zero']\n"
        "try:\n"
        "    runpy.run_module('kmigrate', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = [m for m in ('libcst', 'rich', 'concurrent.futures.process') if m in sys.modules]\n"
        "sys.stderr.write('LOADED ' + ','.join(loaded) + '\\n')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run() -> tuple[str, str]:
        proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
        line = [l for l in proc.stderr.splitlines() if l.startswith("LOADED")]
        assert line, proc.stderr
        return proc.stdout, line[0]

    cold_out, cold = run()
    warm_out, warm = run()
    assert warm_out == cold_out and codes(warm_out)
    assert "libcst" in cold
    assert warm == "LOADED "
