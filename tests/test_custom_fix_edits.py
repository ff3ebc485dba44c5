"""Deleting a whole statement removes its line (kmigrate/fixes.py), used by the KM115 fix."""

from __future__ import annotations

from kmigrate.diagnostics import Edit, Span
from kmigrate.fixes import apply_edits

TEXT = "def f():\n    a = 1\n    b = 2  # note\n    return a\n"


def test_deleting_a_statement_removes_its_line() -> None:
    out, n = apply_edits(TEXT, [(Edit(Span(2, 5, 2, 10), ""),)])
    assert (out, n) == ("def f():\n    b = 2  # note\n    return a\n", 1)


def test_a_trailing_comment_stays_as_a_comment_line() -> None:
    out, _ = apply_edits(TEXT, [(Edit(Span(3, 5, 3, 10), ""),)])
    assert out == "def f():\n    a = 1\n    # note\n    return a\n"


def test_deleting_part_of_a_line_keeps_the_rest() -> None:
    out, _ = apply_edits(TEXT, [(Edit(Span(4, 12, 4, 13), ""),)])
    assert out == "def f():\n    a = 1\n    b = 2  # note\n    return \n"
