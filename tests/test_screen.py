"""The word screen (engine.screen) never changes a result, it only skips work.

A rule is skipped for a file when none of its needle words occurs in the file's text, and a
file in which no rule can fire is never parsed by libcst. Each test below compares the findings
and fixes with the screen on and off, over every kind of input kmigrate has: the rule fixtures
and examples, the bundled cases, the Keras snippets inside this test suite, and (in
test_real_code.py) the installed tf_keras and keras package sources.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path


from kmigrate import engine
from kmigrate.catalogue import Rule, load_rules
from kmigrate.diagnostics import FileError
from kmigrate.runner import check_text, mentions_keras
from kmigrate.sources import read_source
from kmigrate.versions import Target

ROOT = Path(__file__).resolve().parent.parent
ALL_RULES = {r.code: r for r in load_rules()}  # default-disabled rules included
TARGET = Target()


def findings(text: str, screened: bool, rules: dict[str, Rule] = ALL_RULES):
    found = check_text(text, "x.py", rules, TARGET, use_screen=screened)
    if isinstance(found, FileError):
        return ("error", found.message, found.line, found.column)
    return [(d.code, d.span, d.message, d.fix) for d in found]


def assert_same(texts: dict[str, str]) -> int:
    """Screen on == screen off for every text; returns how many texts had findings."""
    with_findings = 0
    for name, text in texts.items():
        on, off = findings(text, True), findings(text, False)
        assert on == off, f"{name}: the screen changed the result"
        with_findings += bool(off) and not isinstance(off, tuple)
    return with_findings


def test_rule_fixtures_and_examples() -> None:
    texts = {str(p): p.read_text(encoding="utf-8") for p in sorted((ROOT / "fixtures" / "rules").glob("*/*.py"))}
    for rule in ALL_RULES.values():
        texts[f"{rule.code} example"] = rule.example.before
    assert len(texts) > 150
    assert assert_same(texts) > 80


def test_bundled_cases() -> None:
    texts = {}
    for path in sorted((ROOT / "fixtures" / "cases").rglob("*")):
        if path.suffix in (".py", ".ipynb"):
            source = read_source(path, str(path))
            assert not isinstance(source, FileError)
            texts[str(path)] = source.text
    assert assert_same(texts) >= 2


def _snippets() -> dict[str, str]:
    """Every string literal in the test suite that is a Keras program."""
    out = {}
    for path in sorted((ROOT / "tests").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value:
                text = textwrap.dedent(node.value)
                if not mentions_keras(text):
                    continue
                try:
                    ast.parse(text)
                except (SyntaxError, ValueError):
                    continue
                out[f"{path.name}:{node.lineno}"] = text
    return out


def test_snippets_of_the_test_suite() -> None:
    snippets = _snippets()
    assert len(snippets) > 200
    assert assert_same(snippets) > 60


# ---------------------------------------------------------------- the screen itself


def test_a_rule_is_skipped_only_when_none_of_its_words_occurs() -> None:
    rule = ALL_RULES["KM135"]  # ReduceLROnPlateau(epsilon=...)
    needles = engine.rule_needles(rule)
    assert needles is not None and "epsilon" in needles
    rules = {"KM135": rule}
    assert engine.screen(rules, "import keras\nkeras.layers.Dense(3)\n") == frozenset()
    # The word counts wherever it is: code, string or comment (the screen is conservative).
    assert engine.screen(rules, "import keras\n# epsilon\n") == {"KM135"}
    assert engine.screen(rules, "import keras\nx = 'epsilon'\n") == {"KM135"}
    assert engine.screen(rules, "import keras\nx = f'{epsilon}'\n") == {"KM135"}
    # Only whole words count.
    assert engine.screen(rules, "import keras\nmy_epsilon = 1\n") == frozenset()


def test_table_rules_get_needles_from_their_tables() -> None:
    for rule in ALL_RULES.values():
        if rule.has_table and not rule.checker:
            needles = engine.rule_needles(rule)
            assert needles, f"{rule.code}: a table rule should have needle words"
            for sym in rule.symbols:
                assert sym.name.rsplit(".", 1)[-1] in needles


def test_a_file_no_rule_can_fire_in_is_not_parsed_by_libcst(monkeypatch) -> None:
    import kmigrate.runner as runner

    def boom(*_args, **_kwargs):
        raise AssertionError("libcst parse")

    monkeypatch.setattr(runner, "parse", boom)
    assert check_text("import keras\nx = 1\n", "x.py", {"KM135": ALL_RULES["KM135"]}, TARGET) == []


def test_a_screened_file_with_a_syntax_error_is_still_reported() -> None:
    found = check_text("import keras\nx = (\n", "x.py", {"KM135": ALL_RULES["KM135"]}, TARGET)
    assert isinstance(found, FileError) and found.message.startswith("cannot parse")


def test_needles_may_be_given_per_rule(monkeypatch) -> None:
    from kmigrate.engine import Checker

    class Probe(Checker):
        needles = {"KM101": frozenset({"decay"}), "KM102": None}

    monkeypatch.setattr(engine, "checker_class", lambda name: Probe)
    monkeypatch.setattr(engine, "_NEEDLES", {})
    km101, km102 = ALL_RULES["KM101"], ALL_RULES["KM102"]
    assert engine.rule_needles(km101) == {"decay"}
    assert engine.rule_needles(km102) is None
    rules = {"KM101": km101, "KM102": km102}
    assert engine.screen(rules, "import keras\n") == {"KM102"}
    assert engine.screen(rules, "import keras\nx = 'decay'\n") == {"KM101", "KM102"}
