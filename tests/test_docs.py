"""The generated docs are current, and the rules cover the whole catalogue."""

from __future__ import annotations

import json
from pathlib import Path

from kmigrate import docs
from kmigrate.catalogue import CATALOGUE_SIZE, load_rules

ROOT = Path(__file__).resolve().parent.parent


def test_generated_pages_are_current() -> None:
    for rel, text in docs.pages().items():
        path = ROOT / rel
        assert path.is_file(), f"{rel} is missing: run `python -m kmigrate.docs`"
        assert path.read_text(encoding="utf-8") == text, f"{rel} is stale: run `python -m kmigrate.docs`"


def test_check_mode_reports_a_stale_page(tmp_path: Path) -> None:
    assert docs.main(["--check", "--root", str(tmp_path)]) == 1
    assert docs.main(["--root", str(tmp_path)]) == 0
    assert docs.main(["--check", "--root", str(tmp_path)]) == 0


def test_rules_cover_every_catalogue_entry(run_cli) -> None:
    """`kmigrate rules --format json` covers 1..62 except the entries that are deliberately no finding."""
    code, out, _ = run_cli("rules", "--format", "json")
    assert code == 0
    covered = {e for rule in json.loads(out) for e in rule["catalogue"]}
    no_finding = {int(k) for k in docs.NO_FINDING if k.isdigit()}
    missing = set(range(1, CATALOGUE_SIZE + 1)) - covered - no_finding
    assert not missing, f"catalogue entries without a rule: {sorted(missing)}"
    assert not covered & no_finding, "an entry documented as 'no finding' is cited by a rule"


def test_catalogue_titles_and_guide_sections_are_consistent() -> None:
    assert set(docs.CATALOGUE) == set(range(1, CATALOGUE_SIZE + 1))
    for _, sections in docs.GUIDE:
        for section in sections:
            assert all(1 <= e <= CATALOGUE_SIZE for e in section.entries), section.title
            assert section.note, section.title
    index = docs.rule_index(load_rules())
    for rule in load_rules():
        assert f"| {rule.code} | `{rule.name}` |" in index
    assert "| 15 |" in index and "no finding" in index.split("| 15 |")[1].splitlines()[0]
