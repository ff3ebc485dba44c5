"""One harness over every rule: fixtures, fix output, example round-trip, documentation.

``fixtures/rules/<CODE>/before.py``: lines that must be flagged end with ``# <CODE>``; every
other line must not be flagged. ``after.py``: the byte-exact result of
``kmigrate fix --select <CODE> --unsafe-fixes``.
"""

from __future__ import annotations

import re
from pathlib import Path

import libcst as cst
import pytest

from kmigrate.catalogue import Rule, load_rules
from kmigrate.cli import explain_text
from kmigrate.diagnostics import FileError
from kmigrate.runner import check_text, process_source
from kmigrate.sources import read_source
from kmigrate.versions import Target

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "rules"
RULES = load_rules()
MARK = re.compile(r"#\s*((?:KM\d{3}[ ,]*)+)\s*$")


def expected_lines(text: str, code: str) -> set[int]:
    out = set()
    for number, line in enumerate(text.splitlines(), 1):
        m = MARK.search(line)
        if m and code in re.findall(r"KM\d{3}", m.group(1)):
            out.add(number)
    return out


def only(rule: Rule) -> dict[str, Rule]:
    return {rule.code: rule}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_fixture_flags_exactly_the_marked_lines(rule: Rule) -> None:
    before = FIXTURES / rule.code / "before.py"
    assert before.is_file(), f"{rule.code} has no {before.relative_to(ROOT)}"
    text = before.read_text(encoding="utf-8")
    expected = expected_lines(text, rule.code)
    assert expected, f"{before} marks no line with # {rule.code}"
    diags = check_text(text, str(before), only(rule), Target())
    assert not isinstance(diags, FileError), diags
    flagged = {d.span.line for d in diags}
    assert flagged == expected, (
        f"{rule.code}: missing {sorted(expected - flagged)}, unexpected {sorted(flagged - expected)}"
    )


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_fix_output_matches_after(rule: Rule) -> None:
    folder = FIXTURES / rule.code
    after = folder / "after.py"
    if rule.fix == "none":
        assert not after.exists(), f"{rule.code} has fix = none but an after.py"
        return
    assert after.is_file(), f"{rule.code} is fixable but has no after.py"
    source = read_source(folder / "before.py")
    assert not isinstance(source, FileError)
    result = process_source(source, only(rule), Target(), fix=True, unsafe=True)
    produced = result.fixed_text if result.fixed_text is not None else source.text
    assert produced == after.read_text(encoding="utf-8")
    assert not result.warnings
    cst.parse_module(produced)
    again = check_text(produced, "after.py", only(rule), Target())
    assert not isinstance(again, FileError)
    assert not [d for d in again if d.fix is not None], "re-checking after.py still finds fixable findings"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_example_round_trips(rule: Rule) -> None:
    from kmigrate.sources import SourceFile

    before = rule.example.before.strip("\n") + "\n"
    diags = check_text(before, "example.py", only(rule), Target())
    assert not isinstance(diags, FileError)
    assert any(d.code == rule.code for d in diags), f"{rule.code}: example.before is not flagged"
    if rule.example.after is None:
        return
    src = SourceFile(Path("example.py"), "example.py", before, "utf-8", False, before.encode())
    result = process_source(src, only(rule), Target(), fix=True, unsafe=True)
    assert result.fixed_text == rule.example.after.strip("\n") + "\n"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_explain_renders(rule: Rule, run_cli) -> None:
    text = explain_text(rule)
    assert rule.code in text and rule.title in text and "Fix safety" in text
    code, out, _ = run_cli("explain", rule.code)
    assert code == 0 and out == text


def test_every_rule_file_is_accounted_for() -> None:
    """A fixture folder without a rule is a typo; a TOML that does not load fails load_rules."""
    codes = {r.code for r in RULES}
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders - codes == set(), f"fixture folders without a rule: {sorted(folders - codes)}"
