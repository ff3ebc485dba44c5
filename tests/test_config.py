"""[tool.kmigrate]: discovery, every key, precedence of flags, and the error paths."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kmigrate.catalogue import load_rules
from kmigrate.config import ConfigError, Overrides, file_ignores, parse_table, resolve

ROOT = Path(__file__).resolve().parent.parent
RULES = load_rules()
KERAS2 = "from tensorflow import keras\nopt = keras.optimizers.SGD(0.1, decay=1e-4)\nadam = keras.optimizers.Adam(lr=0.1)\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(KERAS2)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_train.py").write_text(KERAS2)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pyproject(root: Path, body: str) -> None:
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n\n" + body)


def codes(out: str) -> list[str]:
    return re.findall(r"KM\d{3}", out)


def test_select_and_ignore_from_pyproject(project: Path, run_cli) -> None:
    pyproject(project, '[tool.kmigrate]\nselect = ["KM1"]\noutput-format = "concise"\n')
    rc, out, _ = run_cli("check", "src")
    assert rc == 1 and codes(out) == ["KM101"]
    # Flags override: --select replaces, --ignore adds.
    rc, out, _ = run_cli("check", "src", "--select", "KM301")
    assert codes(out) == ["KM301"]
    rc, out, _ = run_cli("check", "src", "--ignore", "KM101")
    assert rc == 0 and out == ""


def test_found_from_a_subdirectory_and_paths_are_relative_to_it(project: Path, run_cli, monkeypatch) -> None:
    pyproject(
        project,
        '[tool.kmigrate]\noutput-format = "concise"\nper-file-ignores = { "tests/*" = ["KM101"] }\n',
    )
    monkeypatch.chdir(project / "src")
    rc, out, _ = run_cli("check", "..")
    lines = out.splitlines()
    assert any("src/train.py" in line and "KM101" in line for line in lines)
    assert not any("tests/test_train.py" in line and "KM101" in line for line in lines)
    assert any("tests/test_train.py" in line and "KM301" in line for line in lines)


def test_per_file_ignores_match_names_and_directories(tmp_path: Path) -> None:
    settings = resolve(
        [tmp_path],
        Overrides(),
        RULES,
        config=_write(tmp_path, '[tool.kmigrate]\nper-file-ignores = { "tests" = ["KM1"], "conftest.py" = ["KM3"] }\n'),
    )
    assert file_ignores(settings, tmp_path / "tests" / "deep" / "x.py") == ("KM1",)
    assert file_ignores(settings, tmp_path / "pkg" / "conftest.py") == ("KM3",)
    assert file_ignores(settings, tmp_path / "src" / "x.py") == ()


def _write(root: Path, body: str, name: str = "pyproject.toml") -> Path:
    path = root / name
    path.write_text(body)
    return path


def test_exclude_and_extend_exclude(project: Path, run_cli) -> None:
    pyproject(project, '[tool.kmigrate]\nextend-exclude = ["tests/*"]\noutput-format = "concise"\n')
    rc, out, _ = run_cli("check", ".", "--show-files")
    assert out.split() == ["src/train.py"]
    # exclude replaces the defaults: a `build` directory is then checked.
    (project / "build").mkdir()
    (project / "build" / "gen.py").write_text(KERAS2)
    rc, out, _ = run_cli("check", ".", "--show-files")
    assert "build/gen.py" not in out
    pyproject(project, '[tool.kmigrate]\nexclude = ["src"]\n')
    rc, out, _ = run_cli("check", ".", "--show-files")
    assert sorted(out.split()) == ["build/gen.py", "tests/test_train.py"]


def test_force_exclude_applies_to_named_files(project: Path, run_cli) -> None:
    pyproject(project, '[tool.kmigrate]\nextend-exclude = ["tests"]\n')
    rc, out, _ = run_cli("check", "tests/test_train.py", "--show-files")
    assert out.split() == ["tests/test_train.py"]
    rc, out, _ = run_cli("check", "tests/test_train.py", "--force-exclude", "--show-files")
    assert out == ""
    rc, _, _ = run_cli("check", "tests/test_train.py", "--force-exclude")
    assert rc == 0


def test_unsafe_fixes_target_and_format_keys(project: Path, run_cli) -> None:
    pyproject(project, '[tool.kmigrate]\nunsafe-fixes = true\ntarget-keras = "3.4"\noutput-format = "json"\n')
    rc, out, _ = run_cli("check", "--show-settings", "src")
    assert "Keras 3.4 (pyproject.toml [tool.kmigrate] target-keras)" in out
    assert re.search(r"unsafe-fixes\s+true", out) and re.search(r"output-format\s+json", out)
    rc, out, _ = run_cli("check", "--show-settings", "src", "--no-unsafe-fixes", "--target-keras", "3.12", "-f", "concise")
    assert "Keras 3.12 (--target-keras)" in out and re.search(r"unsafe-fixes\s+false", out)
    assert re.search(r"output-format\s+concise", out)


def test_config_option_and_isolated(project: Path, run_cli) -> None:
    pyproject(project, '[tool.kmigrate]\nselect = ["KM3"]\noutput-format = "concise"\n')
    other = _write(project, 'select = ["KM1"]\noutput-format = "concise"\n', "custom.toml")
    assert codes(run_cli("check", "src", "--config", other)[1]) == ["KM101"]
    assert codes(run_cli("check", "src")[1]) == ["KM301"]
    rc, out, _ = run_cli("check", "src", "--isolated", "-f", "concise")
    assert set(codes(out)) == {"KM101", "KM301"}


def test_kmigrate_toml_is_found(project: Path, run_cli) -> None:
    _write(project, 'select = ["KM301"]\noutput-format = "concise"\n', "kmigrate.toml")
    assert codes(run_cli("check", "src")[1]) == ["KM301"]


def test_pyproject_without_the_table_is_skipped(project: Path, run_cli) -> None:
    pyproject(project, "[tool.black]\nline-length = 100\n")
    rc, out, _ = run_cli("check", "src", "--show-settings")
    assert re.search(r"config file\s+\(none\)", out)


def test_verify_keys_agree_with_the_verifier() -> None:
    from kmigrate.config import VERIFY_KEYS
    from kmigrate.verify.settings import VerifyConfigError, from_table

    samples = {"input-shapes": {"Dense": "(None, 4)"}, "tolerances": {"layer": 1e-5}, "timeout": 5, "steps": 3, "python": "python3"}
    assert set(samples) == set(VERIFY_KEYS)
    for key in VERIFY_KEYS:
        try:
            from_table({key: samples[key]})
        except VerifyConfigError as exc:
            assert "unknown key" not in str(exc), (key, exc)
    with pytest.raises(VerifyConfigError):
        from_table({"stepz": 3})


def test_verify_subtable_is_kept_for_the_verifier(tmp_path: Path) -> None:
    values = parse_table(
        {"verify": {"timeout": 30, "tolerances": {"layer": 1e-5}, "input-shapes": {"Dense": "(None, 4)"}}}, "cfg"
    )
    assert dict(values["verify"]) == {"timeout": 30, "tolerances": {"layer": 1e-5}, "input-shapes": {"Dense": "(None, 4)"}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[tool.kmigrate]\nselec = ['KM1']\n", "unknown key `selec` (did you mean `select`?)"),
        ("[tool.kmigrate]\nper_file_ignores = {}\n", "unknown key `per_file_ignores` (did you mean `per-file-ignores`?)"),
        ("[tool.kmigrate]\ncolour = true\n", "unknown key `colour` (known keys: select,"),
        ("[tool.kmigrate]\nselect = 'KM1'\n", "`select` must be a list of strings"),
        ("[tool.kmigrate]\nselect = ['KM999']\n", "select: 'KM999' matches no rule"),
        ("[tool.kmigrate]\nper-file-ignores = { 'x/*' = ['nope'] }\n", "per-file-ignores.x/*: 'nope' matches no rule"),
        ("[tool.kmigrate]\ntarget-keras = 3.10\n", '`target-keras` must be a string such as "3.4", got 3.1'),
        ("[tool.kmigrate]\ntarget-keras = '2.15'\n", "kmigrate targets Keras 3"),
        ("[tool.kmigrate]\nunsafe-fixes = 'yes'\n", "`unsafe-fixes` must be true or false"),
        ("[tool.kmigrate]\noutput-format = 'xml'\n", "`output-format` must be one of"),
        ("[tool.kmigrate]\nverify = 3\n", "`verify` must be a table"),
        ("[tool.kmigrate.verify]\nstepz = 3\n", "unknown key `stepz` in [tool.kmigrate.verify]"),
        ("[tool.kmigrate\n", "invalid TOML"),
    ],
)
def test_errors_are_one_line_naming_the_problem(project: Path, run_cli, body: str, message: str) -> None:
    (project / "pyproject.toml").write_text(body)
    rc, out, err = run_cli("check", "src")
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: pyproject.toml") and message in err, err


def test_flag_errors(project: Path, run_cli) -> None:
    for args, message in [
        (("--config", "missing.toml"), "--config: missing.toml: no such file"),
        (("--per-file-ignores", "nocolon"), "--per-file-ignores: expected GLOB:CODES"),
        (("--select", "KM9"), "--select: 'KM9' matches no rule"),
        (("-f", "xml"), "unknown format 'xml'"),
        (("--target-keras", "banana"), "invalid Keras version 'banana'"),
    ]:
        rc, out, err = run_cli("check", "src", *args)
        assert rc == 2 and err.count("\n") == 1 and message in err, (args, err)
    pyproject(project, "[tool.black]\n")
    rc, _, err = run_cli("check", "src", "--config", "pyproject.toml")
    assert rc == 2 and "has no [tool.kmigrate] table" in err


def test_readme_example_is_a_valid_configuration(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(\[tool\.kmigrate\]\n.*?)```", readme, re.S)
    assert block
    config = _write(tmp_path, block.group(1))
    settings = resolve([tmp_path], Overrides(), RULES, config=config)
    assert settings.output_format == "concise" and str(settings.target.version) == "3.4"


def test_bad_config_error_type() -> None:
    with pytest.raises(ConfigError):
        parse_table({"nope": 1}, "cfg")
