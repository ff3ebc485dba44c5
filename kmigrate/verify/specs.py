"""Build probe specifications: for one fix (original vs rewrite) or for unchanged code."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from kmigrate.diagnostics import Diagnostic, Edit, Span
from kmigrate.fixes import apply_edits
from kmigrate.names import Names
from kmigrate.verify import units
from kmigrate.verify.locate import Analysed, Construct, _calls
from kmigrate.verify.shapes import input_shapes
from kmigrate.verify.spec import Located, ProbeSpec, Unit, VerifySettings

#: Keywords only the legacy Keras 2 optimizers honour (Appendix B.5, catalogue 1, 11, 34).
LEGACY_KEYWORDS = frozenset({"lr", "decay", "schedule_decay"})


def needs_legacy(source: str, entry: str) -> bool:
    """Does the unit pass ``lr=``/``decay=`` to an optimizer (so Keras 2 meant the legacy ones)?"""
    try:
        module = cst.parse_module(f"{source}\n__kmigrate_entry__ = (\n{entry}\n)\n")
    except cst.ParserSyntaxError:
        return False
    names = Names(module)
    for call in _calls(module):
        name = names.resolve_keras(call.func) or ""
        if not name.startswith("keras.optimizers."):
            continue
        for a in call.args:
            if a.keyword is None:
                continue
            if a.keyword.value in LEGACY_KEYWORDS:
                return True
            # ``epsilon=None`` meant "the backend epsilon" only to the legacy optimizers (#26)
            if a.keyword.value == "epsilon" and isinstance(a.value, cst.Name) and a.value.value == "None":
                return True
    return False


def _span(c: Construct) -> Span:
    return Span(c.line, c.column, c.end_line, c.end_column)


def _unit(a: Analysed, entry: str, statement: int) -> tuple[units.Closure, Unit]:
    closure = units.closure(a.statements, entry, before=statement)
    return closure, Unit(closure.source, entry)


def for_construct(a: Analysed, c: Construct, path: str, settings: VerifySettings) -> Located:
    """Unchanged code: the same unit under Keras 2 and Keras 3."""
    closure, unit = _unit(a, c.entry, c.statement)
    shapes, source = input_shapes(a, c, settings)
    before = Unit(unit.source, unit.entry, needs_legacy(unit.source, unit.entry))
    spec = ProbeSpec(c.label, before, unit, shapes, source, settings.tolerances, settings.steps)
    return Located(path, _span(c), c.label, spec)


def _edit_offsets(a: Analysed, edits: tuple[Edit, ...]) -> list[tuple[int, int, str]]:
    return sorted(
        (a.offset(e.span.line, e.span.column), a.offset(e.span.end_line, e.span.end_column), e.content)
        for e in edits
    )


def extend(start: int, end: int, edits: list[tuple[int, int, str]]) -> tuple[int, int]:
    """[start, end) grown to cover every edit that straddles it."""
    for s, e, _ in edits:
        if s < end and e > start and not (start <= s and e <= end):
            start, end = min(start, s), max(end, e)
    return start, end


def map_range(start: int, end: int, edits: list[tuple[int, int, str]]) -> tuple[int, int]:
    """Where [start, end) of the original lands in the rewritten text.

    The range first grows to cover any edit that straddles it; an insertion exactly at
    ``start`` counts as before the construct (an import or helper placed above it).
    """
    start, end = extend(start, end, edits)
    new_start = start + sum(len(t) - (e - s) for s, e, t in edits if e <= start and s <= start)
    new_end = end + sum(len(t) - (e - s) for s, e, t in edits if s < end)
    return new_start, new_end


def _foreign_edit(a: Analysed, c: Construct, edits: list[tuple[int, int, str]]) -> int | None:
    """The line of an edit outside the construct that is neither whole lines (an import or a
    helper put above) nor inside an import statement; None when there is none."""
    imports = [a.offsets(s) for s in a.module.body
               if isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], (cst.Import, cst.ImportFrom))]
    for s, e, _ in edits:
        if s < c.end and e > c.start:
            continue
        whole_lines = (s == 0 or a.text[s - 1] in "\r\n") and (e == 0 or a.text[e - 1] in "\r\n" or e == len(a.text))
        if whole_lines or any(i0 <= s and e <= i1 for i0, i1 in imports):
            continue
        return a.text.count("\n", 0, s) + 1
    return None


def _rewritten_call(a: Analysed, b: Analysed, c: Construct, edits: list[tuple[int, int, str]],
                    new_start: int, new_end: int) -> tuple[str, int] | None:
    """The rewritten call and its offset, when the fix changed that call and nothing around it.

    A fix may replace more than the call (the whole statement): the call is found again in the
    rewritten region and accepted only when the text around it did not change.
    """
    xs, xe = extend(c.start, c.end, edits)
    prefix, suffix = a.text[xs : c.start], a.text[c.end : xe]
    region = b.text[new_start:new_end]
    if not prefix and not suffix:
        try:
            expr = cst.parse_expression(region)
        except cst.ParserSyntaxError:
            expr = None
        if isinstance(expr, cst.Call) and not isinstance(expr.func, cst.Call):
            return region, new_start
    for k in b.all_constructs():
        if k.kind == "call" and k.name == c.name and new_start <= k.start and k.end <= new_end:
            if b.text[new_start : k.start] == prefix and b.text[k.end : new_end] == suffix:
                return k.entry, k.start
    return None


def _statement_at(b: Analysed, offset: int) -> int:
    for i, stmt in enumerate(b.module.body):
        s, e = b.offsets(stmt)
        if s <= offset < max(e, s + 1):
            return i
    return len(b.module.body)


def _inside(a: Analysed, d: Diagnostic, c: Construct) -> bool:
    span = d.source_span or d.span
    return c.start <= a.offset(span.line, span.column) and a.offset(span.end_line, span.end_column) <= c.end


def _joint_edits(text: str, groups: list[tuple[Edit, ...]]) -> list[tuple[Edit, ...]]:
    """The groups that apply together (first one always), as :func:`apply_edits` would pick them."""
    chosen = groups[:1]
    for group in groups[1:]:
        if apply_edits(text, [*chosen, group])[1] == len(chosen) + 1:
            chosen.append(group)
    return chosen


def for_fix(text: str, diag: Diagnostic, settings: VerifySettings,
            companions: Sequence[Diagnostic] = ()) -> Located:
    """The construct a fix touches, before (Keras 2) and after the fix (Keras 3).

    ``companions`` are the other fixes of the same pass: those inside the same construct are
    applied with this one, because they will be applied together (fixing one ``.lr`` of a
    callback and not the next would measure a state nobody will run).
    """
    span = diag.source_span or diag.span
    assert diag.fix is not None
    try:
        a = Analysed(text)
    except cst.ParserSyntaxError:
        return Located(diag.path, diag.span, diag.code, None, "the module does not parse")
    start = a.offset(span.line, span.column)
    end = a.offset(span.end_line, span.end_column)
    found = a.enclosing(start, end)
    if not found:
        return Located(diag.path, diag.span, diag.code, None,
                       "no layer, optimizer, callback, custom class or top-level function that can be "
                       "rebuilt from module-level names encloses this fix")
    c = found[0]
    others = [d.fix.edits for d in companions
              if d is not diag and d.fix is not None and d.fix.edits and _inside(a, d, c)]
    groups = _joint_edits(text, [diag.fix.edits, *others])
    edits = sorted(set(_edit_offsets(a, tuple(e for g in groups for e in g))))
    new_text, _ = apply_edits(text, groups)
    try:
        b = Analysed(new_text)
    except cst.ParserSyntaxError:
        return Located(diag.path, diag.span, c.label, None, "the rewritten module does not parse")
    outside = _foreign_edit(a, c, edits)
    if outside is not None:
        return Located(diag.path, diag.span, c.label, None,
                       f"the fix also changes code outside {c.label} (line {outside}); the probe "
                       "cannot follow a change to how the construct is used")
    new_start, new_end = map_range(c.start, c.end, edits)
    entry_after = c.entry
    if c.kind == "call":
        found_after = _rewritten_call(a, b, c, edits, new_start, new_end)
        if found_after is None:
            return Located(diag.path, diag.span, c.label, None,
                           "the fix changes the code around the call, not only the call; the probe "
                           "cannot follow a change to how the construct is used")
        entry_after, new_start = found_after
    closure_before, before = _unit(a, c.entry, c.statement)
    closure_after, after = _unit(b, entry_after, _statement_at(b, new_start))
    shapes, source = input_shapes(a, c, settings)
    before = Unit(before.source, before.entry, needs_legacy(before.source, before.entry))
    label = c.label if c.kind != "call" else f"{c.label} -> {' '.join(entry_after.split())[:70]}"
    if len(groups) > 1:
        label += f" (with {len(groups) - 1} other fix{'es' if len(groups) > 2 else ''} in it)"
    spec = ProbeSpec(label, before, after, shapes, source, settings.tolerances, settings.steps)
    return Located(diag.path, diag.span, label, spec)
