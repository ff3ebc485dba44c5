"""The rule format: every shipped rule loads; malformed rules fail with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmigrate.catalogue import RuleError, load_rule_file, load_rules, rules_dir
from kmigrate.engine import checker_class

GOOD = '''
code = "KM199"
name = "example-pattern"
title = "Example"
catalogue = [1]
breaks = "silent"
keras = ">=3.0"
fix = "none"
keras2 = "a"
keras3 = "b"
references = []
[[keyword]]
callee = "keras.layers.Dense"
name = "foo"
[example]
before = "import keras\\nkeras.layers.Dense(1, foo=2)"
'''


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_rule_loads(tmp_path: Path) -> None:
    rule = load_rule_file(write(tmp_path, "KM199-example-pattern.toml", GOOD))
    assert rule.code == "KM199" and rule.keywords[0].name == "foo" and rule.message == "Example"


@pytest.mark.parametrize(
    "change,message",
    [
        (("code = \"KM199\"", "code = \"X199\""), "not of the form KMnnn"),
        (("code = \"KM199\"", "code = \"KM699\""), "first digit must be 1-5"),
        (("name = \"example-pattern\"", "name = \"Example_Pattern\""), "kebab-case"),
        (("name = \"example-pattern\"", "name = \"use-something\""), "must name the pattern"),
        (("catalogue = [1]", "catalogue = [99]"), "catalogue must list entries"),
        (("breaks = \"silent\"", "breaks = \"loud\""), "breaks must be one of"),
        (("fix = \"none\"", "fix = \"maybe\""), "fix must be one of"),
        (("fix = \"none\"", "fix = \"safe\""), "needs example.after"),
        (("keras = \">=3.0\"", "keras = \"three\""), "not a PEP 440 specifier"),
        (("title = \"Example\"\n", ""), "missing field `title`"),
        (("references = []", "references = []\ncolour = 1"), "unknown field(s) colour"),
        (("name = \"foo\"\n", "name = \"foo\"\nrenamed = \"x\"\n"), "unknown field(s) renamed"),
        (("[[keyword]]\ncallee = \"keras.layers.Dense\"\nname = \"foo\"\n", ""), "needs a `checker` or a declarative table"),
        (("catalogue = [1]", "catalogue = [1"), "invalid TOML"),
    ],
)
def test_malformed_rules_are_rejected_with_the_field_named(tmp_path: Path, change, message) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, "KM199-example-pattern.toml", GOOD.replace(old, new))
    with pytest.raises(RuleError) as info:
        load_rule_file(path)
    assert message in str(info.value) and "KM199-example-pattern.toml" in str(info.value)


def test_file_name_must_match_code(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="must start with the rule code"):
        load_rule_file(write(tmp_path, "KM100-other.toml", GOOD))


def test_duplicate_codes_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, "KM199-example-pattern.toml", GOOD)
    write(tmp_path, "KM199-example-two.toml", GOOD.replace("example-pattern", "example-two"))
    load_rules.cache_clear()
    with pytest.raises(RuleError, match="KM199 is also used"):
        load_rules(tmp_path)
    load_rules.cache_clear()


def test_every_shipped_rule_loads_and_names_an_existing_checker() -> None:
    rules = load_rules()
    assert rules and all(p.name.startswith(r.code) for r, p in zip(rules, sorted(rules_dir().glob("KM*.toml"))))
    for rule in rules:
        if rule.checker:
            checker_class(rule.checker)


def test_malformed_rule_is_a_clear_cli_error(tmp_path: Path, monkeypatch, run_cli) -> None:
    bad = tmp_path / "rules"
    bad.mkdir()
    write(bad, "KM199-example-pattern.toml", GOOD.replace("breaks = \"silent\"", "breaks = \"loud\""))
    monkeypatch.setattr("kmigrate.catalogue.rules_dir", lambda: bad)
    load_rules.cache_clear()
    try:
        code, _, err = run_cli("rules")
    finally:
        load_rules.cache_clear()
    assert code == 2
    assert err.startswith("error: invalid rule file: KM199-example-pattern.toml: breaks must be one of")
