"""Answers kmigrate remembers (per file, or shared between files) equal the answers worked out
afresh: name resolution, the rule tables' symbol index, and the checkers' shortcuts."""

from __future__ import annotations

import itertools
from fnmatch import fnmatchcase

import libcst as cst
import pytest

from kmigrate.catalogue import load_rules
from kmigrate.checkers.table import _Tables
from kmigrate.names import KERAS_ORIGINS, Names


def _expr(module: cst.Module, line: int) -> cst.BaseExpression:
    stmt = module.body[line]
    return stmt.body[0].value  # type: ignore[attr-defined]


def test_an_assignment_chain_written_before_its_base_still_resolves() -> None:
    # `b = a.layers` is settled before `a` is bound: a resolution remembered then would be stale.
    module = cst.parse_module("b.Dense\nb = a.layers\na = tf.keras\nimport tensorflow as tf\n")
    names = Names(module)
    assert names.resolve(_expr(module, 0)) == "keras.layers.Dense"
    assert names.resolve(_expr(module, 0)) == "keras.layers.Dense"  # remembered now


def test_equal_chains_in_different_nodes_resolve_alike() -> None:
    module = cst.parse_module("import keras.backend as K\nK.sum\nK.sum\nk.sum\n")
    names = Names(module)
    assert [names.raw(_expr(module, i)) for i in (1, 2, 3, 1, 2, 3)] == ["keras.backend.sum"] * 2 + [None] + [
        "keras.backend.sum"] * 2 + [None]


def _first_match(symbols, name: str, origin: str | None):  # type: ignore[no-untyped-def]
    """The rule tables' matching as written down: the first entry, in rule order, that matches."""
    for rule, entry in symbols:
        if entry.origins and origin not in entry.origins:
            continue
        if name == entry.name or (entry.prefix and name.startswith(entry.name + ".")):
            return rule, entry
        if "*" in entry.name and fnmatchcase(name, entry.name):
            return rule, entry
    return None


def _probe_names(rules) -> list[str]:  # type: ignore[no-untyped-def]
    out: set[str] = {"keras", "keras.layers.Dense", "os.path"}
    for rule in rules:
        for entry in rule.symbols:
            parts = entry.name.split(".")
            out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
            out.update({entry.name + ".X", entry.name + ".a._b", entry.name + "x", entry.name.replace("*", "q")})
    return sorted(out)


@pytest.mark.parametrize("drop", [0, 1, 2, 3])
def test_the_symbol_index_finds_the_first_matching_entry(drop: int) -> None:
    rules = tuple(r for r in load_rules() if r.has_table)
    rules = tuple(r for i, r in enumerate(rules) if drop == 0 or i % (drop + 1))  # other active sets
    tables = _Tables(rules)
    for name, origin in itertools.product(_probe_names(rules), (*KERAS_ORIGINS, None)):
        expected = _first_match(tables.symbols, name, origin)
        for _ in range(2):  # worked out, then remembered
            found = tables.symbol_match(name, origin)
            assert found == expected and (found is None or found[1] is expected[1]), (name, origin)


def test_a_shadowed_keras_name_withholds_the_python_keras_fix_with_or_without_km150(fix_code) -> None:
    # ImportsChecker skips most names when KM150 is off; the name `keras` must still count.
    code = "import tensorflow as tf\nkeras = load()\nlayer = tf.python.keras.layers.Dense\n"
    for select in (("KM371",), ("KM371", "KM150")):
        assert fix_code(code, select=select) == code
    free = "import tensorflow as tf\nlayer = tf.python.keras.layers.Dense\n"
    for select in (("KM371",), ("KM371", "KM150")):
        assert "keras.layers.Dense" in fix_code(free, select=select)
        assert "python" not in fix_code(free, select=select)


def test_a_backend_name_is_judged_at_every_use(fix_code) -> None:
    # The backend checker decides once per spelling; each use is still reported.
    from kmigrate.catalogue import load_rules as rules_of
    from kmigrate.runner import check_text
    from kmigrate.versions import Target

    code = (
        "from keras.backend import sum as s, learning_phase\n"
        "x = other\nf = s\ng = [s, other, learning_phase]\nh = learning_phase\n"
    )
    rules = {r.code: r for r in rules_of() if r.code in ("KM250", "KM151")}
    found = check_text(code, "x.py", rules, Target())
    assert isinstance(found, list)
    assert sorted((d.span.line, d.span.column) for d in found if d.span.line > 1) == [
        (3, 5), (4, 6), (4, 16), (5, 5)]
