"""``# kmigrate: ignore[...]`` comments: reading them, honouring them, adding them.

- ``# kmigrate: ignore[KM101]`` / ``# kmigrate: ignore[KM101,KM334]`` / ``# kmigrate: ignore``
  silence findings that start on that line. On a statement that spans several lines, the
  comment may also sit on the statement's first or last line.
- ``# kmigrate: ignore-file`` (or ``ignore-file[KM101]``) anywhere in a file silences the file.
- With ``--report-unused-suppressions`` a line-level suppression that silenced nothing is
  reported as ``KM001 unused-suppression``, with a safe fix that removes it (like ruff's
  RUF100). ``KM0xx`` codes belong to kmigrate itself, not to the rule catalogue, so they are not
  listed by ``kmigrate rules``, and ``--select`` does not take them.

Comments are found with the tokenizer, so text inside strings never counts.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kmigrate.catalogue import Rule, load_rules
from kmigrate.diagnostics import Diagnostic, Edit, Fix, Span

UNUSED_CODE = "KM001"
UNUSED_NAME = "unused-suppression"
_DIRECTIVE = re.compile(
    r"#\s*kmigrate\s*:\s*(?P<kind>ignore-file|ignore)\b(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE
)

EXPLAIN_UNUSED = """# KM001 unused-suppression

A `# kmigrate: ignore[...]` comment that silences nothing, or names a code that has no
finding on its line.

Reported only with `--report-unused-suppressions` (or `report-unused-suppressions = true` in
`[tool.kmigrate]`). It keeps a baseline made with `--add-suppressions` honest: when a line is
migrated, its suppression is flagged so that it can go.

Codes of rules that are not enabled for the file (by `--select`, `--ignore`,
`per-file-ignores` or the target Keras version) are never reported as unused; unknown codes
are. File-level `ignore-file` comments are not checked.

## Fix safety: safe

`kmigrate fix --report-unused-suppressions` removes the unused codes, or the whole comment
when nothing in it is used; other text in the comment is kept.
"""


@dataclass(frozen=True)
class Suppression:
    line: int
    start: int  # 1-based column of the directive's "#"
    end: int  # 1-based column just past the directive
    codes: tuple[str, ...] | None  # None: every code
    comment_start: int  # 1-based column of the comment token
    whole_comment: bool  # the comment holds nothing but the directive


@dataclass(frozen=True)
class Suppressions:
    lines: Mapping[int, tuple[Suppression, ...]]
    file_codes: tuple[str, ...] | None  # None: no ignore-file; () : the whole file
    statements: Mapping[int, tuple[int, int]]  # physical line -> (first, last) of its statement

    def candidates(self, line: int) -> tuple[int, ...]:
        first, last = self.statements.get(line, (line, line))
        return tuple(dict.fromkeys((line, first, last)))


def _codes(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(c.strip().upper() for c in text.split(",") if c.strip())


def _tokens(text: str) -> list[tokenize.TokenInfo] | None:
    try:
        return list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None


def _statements(tokens: Sequence[tokenize.TokenInfo]) -> dict[int, tuple[int, int]]:
    out: dict[int, tuple[int, int]] = {}
    first: int | None = None
    skip = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING)
    for tok in tokens:
        if first is None:
            if tok.type in skip or tok.type == tokenize.ENDMARKER:
                continue
            first = tok.start[0]
        if tok.type == tokenize.NEWLINE:
            last = tok.start[0]
            if last > first:
                for line in range(first, last + 1):
                    out[line] = (first, last)
            first = None
    return out


def scan(text: str) -> Suppressions | None:
    """The suppressions in ``text``; None when it has none (the common, cheap case)."""
    if not _DIRECTIVE.search(text):
        return None
    tokens = _tokens(text)
    if tokens is None:
        return None
    lines: dict[int, list[Suppression]] = {}
    file_codes: list[str] | None = None
    file_all = False
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            continue
        for m in _DIRECTIVE.finditer(tok.string):
            codes = _codes(m.group("codes"))
            if m.group("kind").lower() == "ignore-file":
                if codes is None:
                    file_all = True
                else:
                    file_codes = [*(file_codes or []), *codes]
                continue
            col = tok.start[1] + 1
            lines.setdefault(tok.start[0], []).append(
                Suppression(
                    line=tok.start[0],
                    start=col + m.start(),
                    end=col + m.end(),
                    codes=codes,
                    comment_start=col,
                    whole_comment=tok.string[: m.start()].strip() == "" and tok.string[m.end() :].strip() == "",
                )
            )
    return Suppressions(
        lines={k: tuple(v) for k, v in lines.items()},
        file_codes=() if file_all else (tuple(file_codes) if file_codes is not None else None),
        statements=_statements(tokens) if lines else {},
    )


def _covers(codes: tuple[str, ...] | None, code: str) -> bool:
    return codes is None or code in codes


def apply(
    text: str,
    path: str,
    diagnostics: list[Diagnostic],
    rules: Mapping[str, Rule],
    *,
    report_unused: bool = False,
) -> list[Diagnostic]:
    """Drop suppressed findings; with ``report_unused``, add KM001 for suppressions that did nothing."""
    sup = scan(text)
    if sup is None:
        return diagnostics
    if sup.file_codes is not None:
        if not sup.file_codes:
            return []
        diagnostics = [d for d in diagnostics if d.code not in sup.file_codes]
    used: dict[tuple[int, int], set[str]] = {}
    kept = []
    for d in diagnostics:
        hit = None
        for line in sup.candidates((d.source_span or d.span).line):
            for s in sup.lines.get(line, ()):
                if _covers(s.codes, d.code):
                    hit = s
                    break
            if hit:
                break
        if hit is None:
            kept.append(d)
        else:
            used.setdefault((hit.line, hit.start), set()).add(d.code)
    if report_unused:
        for line_sups in sup.lines.values():
            for s in line_sups:
                unused = _unused(s, used.get((s.line, s.start), set()), rules)
                if unused is not None:
                    kept.append(_unused_diagnostic(path, text, s, *unused))
        kept.sort(key=Diagnostic.sort_key)
    return kept


def _unused(
    s: Suppression, used: set[str], rules: Mapping[str, Rule]
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(unused codes, codes to keep), or None when the suppression is in use."""
    if s.codes is None:
        return ((), ()) if not used else None
    catalogue = {r.code for r in load_rules()}
    known = {c for c in s.codes if c in catalogue}
    unknown = [c for c in s.codes if c not in known]
    # A code whose rule is off for this file may well be needed by another configuration.
    unused = [c for c in s.codes if c in known and c not in used and c in rules]
    if not unused and not unknown:
        return None
    bad = tuple(dict.fromkeys([*unused, *unknown]))
    keep = tuple(c for c in dict.fromkeys(s.codes) if c not in bad)
    return bad, keep


def _unused_diagnostic(
    path: str, text: str, s: Suppression, bad: tuple[str, ...], keep: tuple[str, ...]
) -> Diagnostic:
    line_text = text.splitlines()[s.line - 1] if s.line <= len(text.splitlines()) else ""
    if not bad:
        message = "Unused `kmigrate: ignore` suppression: nothing on this line is reported"
    else:
        listed = ", ".join(f"`{c}`" for c in bad)
        message = f"Unused suppression code{'s' if len(bad) > 1 else ''} {listed}: no such finding on this line"
    if keep:
        edit = Edit(Span(s.line, s.start, s.line, s.end), f"# kmigrate: ignore[{','.join(keep)}]")
        title = "Remove the unused codes"
    elif s.whole_comment:
        # Drop the comment and the blanks before it.
        before = line_text[: s.comment_start - 1]
        col = len(before.rstrip()) + 1
        edit = Edit(Span(s.line, col, s.line, s.end), "")
        title = "Remove the unused suppression"
    elif s.start == s.comment_start:
        # The comment goes on after the directive: keep it a comment.
        edit = Edit(Span(s.line, s.start, s.line, s.end), "#")
        title = "Remove the unused suppression"
    else:
        before = line_text[: s.start - 1]
        edit = Edit(Span(s.line, len(before.rstrip()) + 1, s.line, s.end), "")
        title = "Remove the unused suppression"
    span = Span(s.line, s.start, s.line, s.end)
    return Diagnostic(
        path=path,
        span=span,
        code=UNUSED_CODE,
        name=UNUSED_NAME,
        breaks="info",
        message=message,
        catalogue=(),
        fix=Fix("safe", title, (edit,)),
        source_span=span,
    )


# --- Adding suppressions (--add-suppressions) ------------------------------------------------


def _comment_lines(text: str) -> tuple[set[int], dict[int, tuple[int, int]]] | None:
    """(lines whose end cannot take a comment, statement extents)."""
    tokens = _tokens(text)
    if tokens is None:
        return None
    blocked: set[int] = set()
    for tok in tokens:
        if tok.start[0] < tok.end[0] and tok.type not in (tokenize.NEWLINE, tokenize.NL):
            blocked.update(range(tok.start[0], tok.end[0]))  # inside a multi-line string
    for number, line in enumerate(text.splitlines(), 1):
        if line.rstrip().endswith("\\") and number not in blocked:
            blocked.add(number)  # a backslash continuation cannot be followed by a comment
    return blocked, _statements(tokens)


def add(text: str, diagnostics: Iterable[Diagnostic]) -> tuple[str, int]:
    """``text`` with ``# kmigrate: ignore[CODE]`` on the lines that silence ``diagnostics``.

    Returns the new text and the number of lines that got a new or extended comment. Existing
    directives on a line are extended rather than repeated.
    """
    info = _comment_lines(text)
    if info is None:
        return text, 0
    blocked, statements = info
    wanted: dict[int, set[str]] = {}
    for d in diagnostics:
        if d.code == UNUSED_CODE:
            continue
        line = (d.source_span or d.span).line
        first, last = statements.get(line, (line, line))
        target = next((n for n in (line, first, last) if n not in blocked), last)
        wanted.setdefault(target, set()).add(d.code)
    if not wanted:
        return text, 0
    existing = scan(text)
    lines = text.splitlines(keepends=True)
    changed = 0
    for number, codes in sorted(wanted.items()):
        if number > len(lines):
            continue
        raw = lines[number - 1]
        body = raw.rstrip("\r\n")
        ending = raw[len(body) :]
        current = existing.lines.get(number, ()) if existing is not None else ()
        if any(s.codes is None for s in current):
            continue
        if current:
            s = current[0]
            merged = sorted({*(s.codes or ()), *codes})
            if set(merged) == set(s.codes or ()):
                continue
            body = body[: s.start - 1] + f"# kmigrate: ignore[{','.join(merged)}]" + body[s.end - 1 :]
        else:
            body = body.rstrip() + f"  # kmigrate: ignore[{','.join(sorted(codes))}]"
        lines[number - 1] = body + ending
        changed += 1
    return "".join(lines), changed

