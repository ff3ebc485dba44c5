"""Output formats: github workflow commands, SARIF 2.1.0 (schema-validated), json-lines, and
the shipped problem matchers applied to real ``concise`` output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from tests.test_notebooks import KERAS2, notebook

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

PY = """\
import tensorflow as tf
from tensorflow import keras

opt = keras.optimizers.SGD(0.1, decay=1e-4)
adam = tf.keras.optimizers.Adam(
    lr=1e-3,
)
rate = opt.lr
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(PY, encoding="utf-8")
    (tmp_path / "src" / "broken.py").write_text("import keras\ndef f(:\n", encoding="utf-8")
    (tmp_path / "translate.ipynb").write_text(notebook(KERAS2), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- github --------------------------------------------------------------------------------

WORKFLOW = re.compile(
    r"^::(?P<level>error|warning|notice)"
    r"(?: (?P<props>[a-zA-Z]+=[^,:]*(?:,[a-zA-Z]+=[^,:]*)*))?"
    r"::(?P<message>[^\r\n]*)$"
)
ALLOWED = {"file", "line", "col", "endLine", "endColumn", "title"}


def _props(text: str | None) -> dict[str, str]:
    return dict(p.split("=", 1) for p in text.split(",")) if text else {}


def test_github_lines_are_workflow_commands(project: Path, run_cli) -> None:
    rc, out, err = run_cli("check", "--isolated", "--format", "github", ".")
    assert rc == 2  # broken.py
    lines = out.splitlines()
    assert lines
    seen = []
    for line in lines:
        m = WORKFLOW.match(line)
        assert m, line
        props = _props(m.group("props"))
        assert set(props) <= ALLOWED, line
        for key in ("line", "col", "endLine", "endColumn"):
            if key in props:
                assert props[key].isdigit() and int(props[key]) >= 1, line
        if "col" in props and "endLine" in props:  # only one-line findings carry columns
            assert props["line"] == props["endLine"], line
        seen.append((m.group("level"), props.get("file"), props.get("line"), props.get("col"), props.get("title")))
    assert ("error", "src/train.py", "4", "33", "KM101") in seen
    assert ("error", "src/train.py", "6", "5", "KM301") in seen
    # Notebook findings point at the .ipynb line that holds the cell line.
    nb = next(line for line in lines if "translate.ipynb" in line and "KM301" in line)
    raw = (project / "translate.ipynb").read_text().splitlines()
    line_no = int(_props(WORKFLOW.match(nb).group("props"))["line"])  # type: ignore[union-attr]
    assert "keras.optimizers.Adam(lr=1e-3)" in raw[line_no - 1]
    assert "::cell 4, line 1, col 29: " in nb
    # The unparsable file is an error annotation too.
    assert any("file=src/broken.py" in line and line.startswith("::error") for line in lines)
    assert "src/broken.py" in err  # the log says it too


def test_github_escapes_and_caps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:
    from kmigrate.report.github import escape_data, escape_property

    assert escape_data("50%\nnext\r") == "50%25%0Anext%0D"
    assert escape_property("a:b,c") == "a%3Ab%2Cc"
    many = "from tensorflow import keras\n" + "".join(f"o{i} = keras.optimizers.Adam(lr=0.{i + 1})\n" for i in range(12))
    (tmp_path / "m.py").write_text(many)
    monkeypatch.chdir(tmp_path)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    rc, out, _ = run_cli("check", "--isolated", "--format", "github", "m.py")
    assert rc == 1
    lines = out.splitlines()
    assert len(lines) == 13 and lines[-1].startswith("::notice title=kmigrate::")
    assert "at most" not in lines[-1] and "only 10 annotations" in lines[-1]
    text = summary.read_text()
    assert text.count("| `m.py:") == 12 and "KM301" in text


def test_github_severity_follows_breaks() -> None:
    from kmigrate.report.github import LEVELS

    assert LEVELS["silent"] == LEVELS["late"] == LEVELS["construction"] == LEVELS["import"] == "error"
    assert LEVELS["portability"] == "warning" and LEVELS["info"] == "notice"


# --- SARIF ---------------------------------------------------------------------------------


def _sarif(run_cli, *args: str) -> dict:
    rc, out, err = run_cli("check", "--isolated", "--format", "sarif", *args)
    assert err == ""
    return json.loads(out)


def test_sarif_validates_against_the_2_1_0_schema(project: Path, run_cli) -> None:
    log = _sarif(run_cli, ".")
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert run["columnKind"] == "unicodeCodePoints"
    from kmigrate.catalogue import load_rules

    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {r.code for r in load_rules()}
    km101 = rules["KM101"]
    assert km101["name"] == "optimizer-decay-ignored"
    assert "# KM101 optimizer-decay-ignored" in km101["help"]["text"] and km101["help"]["markdown"]
    assert km101["properties"]["catalogue"] == [1] and km101["defaultConfiguration"]["level"] == "error"
    assert run["invocations"][0]["executionSuccessful"] is False  # broken.py
    assert "broken.py" in json.dumps(run["invocations"][0]["toolExecutionNotifications"])


def test_sarif_results_regions_and_fixes(project: Path, run_cli) -> None:
    run = _sarif(run_cli, "src/train.py")["runs"][0]
    results = run["results"]
    ids = [r["ruleId"] for r in results]
    assert ids.count("KM101") == 1 and "KM301" in ids
    by_rule = {r["ruleId"]: r for r in results}
    decay = by_rule["KM101"]
    loc = decay["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "src/train.py", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 4, "startColumn": 33, "endLine": 4, "endColumn": 43}
    assert run["tool"]["driver"]["rules"][decay["ruleIndex"]]["id"] == "KM101"
    replacement = decay["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["deletedRegion"] == {"startLine": 4, "startColumn": 7, "endLine": 4, "endColumn": 44}
    # Applying the SARIF replacement reproduces `kmigrate fix`.
    lines = PY.splitlines(keepends=True)
    line = lines[3]
    new = line[:6] + replacement["insertedContent"]["text"] + line[43:]
    assert new == "opt = keras.optimizers.SGD(keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=1e-4))\n"
    assert decay["partialFingerprints"]["kmigrateFinding/v1"]
    assert decay["properties"]["fix"]["safety"] == "safe"


def test_sarif_fingerprints_survive_moved_lines(project: Path, run_cli) -> None:
    first = _sarif(run_cli, "src/train.py")["runs"][0]["results"]
    (project / "src" / "train.py").write_text("# a new first line\n" + PY)
    second = _sarif(run_cli, "src/train.py")["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in first] == [r["partialFingerprints"] for r in second]
    assert first[0]["locations"] != second[0]["locations"]


def test_sarif_for_notebooks_points_at_the_ipynb_line(project: Path, run_cli) -> None:
    log = _sarif(run_cli, "translate.ipynb")
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    result = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "KM301")
    assert result["properties"]["cell"] == 4 and result["properties"]["cellLine"] == 1
    line = result["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert "Adam(lr=1e-3)" in (project / "translate.ipynb").read_text().splitlines()[line - 1]
    assert "fixes" not in result


def test_sarif_after_fix_apply_validates(project: Path, run_cli) -> None:
    rc, out, _ = run_cli("fix", "--isolated", "--apply", "--format", "sarif", "src/train.py")
    log = json.loads(out)
    jsonschema.Draft4Validator(SCHEMA).validate(log)


# --- json-lines ----------------------------------------------------------------------------


def test_json_lines_one_object_per_finding(project: Path, run_cli) -> None:
    rc, out, _ = run_cli("check", "--isolated", "--format", "json-lines", "src/train.py", "translate.ipynb")
    assert rc == 1
    objects = [json.loads(line) for line in out.splitlines()]
    _, whole, _ = run_cli("check", "--isolated", "--format", "json", "src/train.py", "translate.ipynb")
    assert objects == json.loads(whole)["diagnostics"]
    nb = [o for o in objects if o["cell"] is not None]
    assert {o["cell"] for o in nb} == {4, 6}
    # Edits in a notebook name their cell and are positioned inside it.
    edit = next(o for o in nb if o["code"] == "KM301")["fix"]["edits"][0]
    assert edit["cell"] == 4 and edit["line"] == 1


# --- problem matchers ----------------------------------------------------------------------


def _js_to_python(regexp: str) -> re.Pattern[str]:
    """The matcher regexes use the subset of JavaScript syntax that Python's re shares."""
    assert "(?<" not in regexp and "\\k<" not in regexp
    return re.compile(regexp)


def _matchers() -> list[tuple[str, dict]]:
    vscode = json.loads((ROOT / "editors" / "vscode" / "problem-matcher.json").read_text())
    tasks = json.loads((ROOT / "editors" / "vscode" / "tasks.json").read_text())
    github = json.loads((ROOT / "editors" / "github" / "kmigrate-matcher.json").read_text())
    return [
        ("vscode", vscode["pattern"]),
        ("tasks.json", tasks["tasks"][0]["problemMatcher"]["pattern"]),
        ("github", github["problemMatcher"][0]["pattern"][0]),
    ]


@pytest.mark.parametrize("name", ["vscode", "tasks.json", "github"])
def test_problem_matcher_captures_every_concise_line(project: Path, run_cli, name: str) -> None:
    pattern = dict(_matchers())[name]
    regex = _js_to_python(pattern["regexp"])
    rc, out, _ = run_cli("check", "--isolated", "--format", "concise", "src/train.py", "translate.ipynb")
    _, js, _ = run_cli("check", "--isolated", "--format", "json", "src/train.py", "translate.ipynb")
    expected = json.loads(js)["diagnostics"]
    lines = out.splitlines()
    assert len(lines) == len(expected) >= 5
    for line, d in zip(lines, expected):
        m = regex.match(line)
        assert m, f"{name} does not match {line!r}"
        assert m.group(pattern["file"]) == d["path"]
        assert int(m.group(pattern["line"])) == d["line"]
        assert int(m.group(pattern["column"])) == d["column"]
        assert m.group(pattern["code"]) == d["code"]
        assert m.group(pattern["message"]) == d["message"]
    assert any(d["cell"] for d in expected)


def test_problem_matcher_tolerates_the_fixable_marker_and_windows_paths() -> None:
    regex = _js_to_python(dict(_matchers())["vscode"]["regexp"])
    m = regex.match(r"C:\work\nb.ipynb:cell 3:2:5: KM101 [*] `decay=` is ignored")
    assert m and m.group(1) == r"C:\work\nb.ipynb" and m.group(2) == "3" and m.group(6) == "`decay=` is ignored"


def test_readme_tasks_snippet_matches_the_shipped_file() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shipped = json.loads((ROOT / "editors" / "vscode" / "tasks.json").read_text())
    block = re.search(r"```jsonc?\n(\{\n  \"version\": \"2\.0\.0\".*?)\n```", readme, re.S)
    assert block, "README has no tasks.json snippet"
    assert json.loads(block.group(1)) == shipped
