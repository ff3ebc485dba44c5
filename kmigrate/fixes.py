"""Applying edits: non-overlapping, re-parsed, repeated until stable."""

from __future__ import annotations

from collections.abc import Iterable

from kmigrate.diagnostics import Diagnostic, Edit
from kmigrate.engine import _line_starts, offset_of

MAX_ITERATIONS = 10


def fixable(diagnostics: Iterable[Diagnostic], unsafe: bool) -> list[Diagnostic]:
    return [
        d
        for d in diagnostics
        if d.fix is not None
        and d.fix.edits
        and (d.fix.safety == "safe" or unsafe)
        and (d.fix.verified is None or d.fix.verified.kind != "differs" or unsafe)
    ]


def apply_edits(text: str, groups: Iterable[tuple[Edit, ...]]) -> tuple[str, int]:
    """Apply each group of edits atomically (all of a fix, or none); skip groups that overlap.

    Returns the new text and the number of groups applied.
    """
    starts = _line_starts(text)
    taken: list[tuple[int, int]] = []
    chosen: list[tuple[int, int, str]] = []
    applied = 0
    seen: set[tuple[int, int, str]] = set()
    for group in groups:
        ranges = []
        for edit in group:
            s = offset_of(starts, edit.span.line, edit.span.column)
            e = offset_of(starts, edit.span.end_line, edit.span.end_column)
            if not edit.content:
                s, e = _whole_lines(text, s, e)
            ranges.append((s, e, edit.content))
        fresh = [r for r in ranges if r not in seen]
        if not fresh:
            applied += 1  # identical edits already chosen for another diagnostic
            continue
        if any(_overlaps(r, t) for r in fresh for t in taken):
            continue
        for r in fresh:
            seen.add(r)
            taken.append((r[0], r[1]))
            chosen.append(r)
        applied += 1
    # Insertions at the same offset keep their order of arrival.
    chosen.sort(key=lambda r: (r[0], r[1]))
    out = []
    pos = 0
    for s, e, content in chosen:
        out.append(text[pos:s])
        out.append(content)
        pos = e
    out.append(text[pos:])
    return "".join(out), applied


def _whole_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """A deletion that empties its lines (a whole statement) takes the lines with it, rather
    than leaving their indentation behind as a whitespace-only line; a trailing comment stays,
    as a comment line at the statement's indentation."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end + 1
    rest = text[end:line_end]
    if text[line_start:start].strip():
        return start, end
    if rest.lstrip().startswith("#"):
        return start, end + len(rest) - len(rest.lstrip())
    if rest.strip():
        return start, end
    return line_start, line_end


def _overlaps(a: tuple[int, int, str] | tuple[int, int], b: tuple[int, int]) -> bool:
    a0, a1 = a[0], a[1]
    b0, b1 = b
    if a0 == a1 or b0 == b1:  # insertions conflict only strictly inside a replaced range
        return b0 < a0 < b1 or a0 < b0 < a1
    return a0 < b1 and b0 < a1
