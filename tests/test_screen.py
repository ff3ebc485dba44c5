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

import pytest


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


def test_a_rule_is_skipped_only_when_its_words_do_not_all_occur() -> None:
    rule = ALL_RULES["KM135"]  # keras.callbacks.ReduceLROnPlateau(epsilon=...)
    assert engine.rule_needles(rule) == {engine.AllOf({"epsilon", "callbacks", "ReduceLROnPlateau"})}
    rules = {"KM135": rule}
    call = "from keras.callbacks import ReduceLROnPlateau\nReduceLROnPlateau(epsilon=1e-4)\n"
    assert engine.screen(rules, call) == {"KM135"}
    assert engine.screen(rules, "import keras\nkeras.layers.Dense(3)\n") == frozenset()
    assert engine.screen(rules, call.replace("epsilon", "min_delta")) == frozenset()
    # The words count wherever they are: code, strings or comments (the screen is conservative).
    assert engine.screen(rules, "import keras  # callbacks ReduceLROnPlateau\nx = 'epsilon'\n") == {"KM135"}
    assert engine.screen(rules, call.replace("epsilon=", "**{'epsilon': 1}, x=")) == {"KM135"}
    # Only whole words count, but words spelled through string escapes count too.
    assert engine.screen(rules, call.replace("epsilon", "my_epsilon")) == frozenset()
    assert "hard_sigmoid" in engine.words("x = 'hard\\x5fsigmoid'\n")
    assert "hard_sigmoid" in engine.words("x = 'hard\\N{LOW LINE}sigmoid'\n")


def test_table_needles_are_every_spelled_component_of_a_name() -> None:
    km407 = engine.rule_needles(ALL_RULES["KM407"])
    assert km407 is not None
    # `keras.engine*.Layer`: the root may be spelled tf.keras or tf_keras; `engine*` is a word
    # that starts with `engine`.
    assert engine.AllOf({"engine*", "Layer"}) in km407
    rules = {"KM407": ALL_RULES["KM407"]}
    assert engine.screen(rules, "from tf_keras.src.engine.base_layer import Layer\n") == {"KM407"}
    assert engine.screen(rules, "from tf_keras.src.engine_utils import Layer\n") == {"KM407"}
    assert engine.screen(rules, "from tf_keras.src.my_engine import Layer\n") == frozenset()
    assert engine.AllOf({"utils", "np_utils"}) in km407
    for rule in ALL_RULES.values():
        if rule.has_table and not rule.checker:
            needles = engine.rule_needles(rule)
            assert needles, f"{rule.code}: a table rule should have needle words"
            for sym in rule.symbols:
                last = sym.name.rsplit(".", 1)[-1]
                assert any(last in n for n in needles), (rule.code, sym.name)


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


def test_the_fast_parse_gives_libcsts_tree_and_restores_validation() -> None:
    import gc

    import libcst as cst

    from kmigrate.runner import parse_module

    for path in sorted((ROOT / "kmigrate").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert parse_module(text).deep_equals(cst.parse_module(text)), path
    assert gc.isenabled()
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")  # hand-built nodes are still checked afterwards
    with pytest.raises(cst.ParserSyntaxError):
        parse_module("def f(a=1, b): pass\n")
    assert gc.isenabled()


def test_needles_are_ascii_identifiers() -> None:
    import re

    plain = re.compile(r"\*?[A-Za-z_][A-Za-z0-9_]*\*?\Z")
    for rule in ALL_RULES.values():
        for needle in engine.rule_needles(rule) or ():
            for word in [needle] if isinstance(needle, str) else sorted(needle):
                assert plain.match(word), (rule.code, word)
    # Every whole ASCII identifier is found; a non-ASCII letter only splits off extra words.
    assert "decay" in engine.words("Adam(decay=1)  # é\n")
    assert "decay" in engine.words("x = édecay\n")
