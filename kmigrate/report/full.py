"""``--format full``: each finding with its source line, consequence and fix, then a summary."""

from __future__ import annotations

import re

from kmigrate.diagnostics import Diagnostic
from kmigrate.report import Report, location, summary_line

_BREAK = re.compile(r"\r\n|\r|\n")


def _source_lines(report: Report, d: Diagnostic) -> list[str]:
    text = report.sources.get(d.path)
    if text is None:
        return []
    lines = _BREAK.split(text)
    span = d.source_span or d.span
    if not 1 <= span.line <= len(lines):
        return []
    number = d.span.line
    src = lines[span.line - 1].expandtabs(1)
    width = len(str(number))
    gutter = " " * width
    start = span.column - 1
    end = span.end_column - 1 if span.end_line == span.line else len(src)
    end = max(end, start + 1)
    caret = " " * start + "^" * min(end - start, max(1, len(src) - start))
    return [
        f"{gutter} |",
        f"{number} | {src}",
        f"{gutter} | {caret} {d.code}",
        f"{gutter} |",
    ]


def _fix_line(report: Report, d: Diagnostic) -> str:
    rule = report.rules.get(d.code)
    if d.fix is None:
        reason = "no automatic fix: needs a decision (see `kmigrate explain " + d.code + "`)"
        if rule is not None and rule.fix != "none":
            reason = "no automatic fix here: the rewrite is not certain in this context"
        return f"  = fix: {reason}"
    text = f"  = fix ({d.fix.safety}): {d.fix.title}"
    if d.fix.safety == "unsafe" and not report.unsafe_fixes:
        text += " [needs --unsafe-fixes]"
    if d.fix.verified is not None:
        v = d.fix.verified
        text += f" [verified: {v.kind}"
        if v.max_abs_diff is not None:
            text += f", max abs diff {v.max_abs_diff:.3g}"
        text += "]"
    return text


def render(report: Report) -> str:
    out: list[str] = []
    for d in report.diagnostics:
        marker = " [*]" if d.fix is not None and (d.fix.safety == "safe" or report.unsafe_fixes) else ""
        out.append(f"{location(d)}: {d.code}{marker} {d.message}")
        out.extend(_source_lines(report, d))
        rule = report.rules.get(d.code)
        if rule is not None:
            out.append(f"  = keras 2: {rule.keras2}")
            out.append(f"  = keras 3: {rule.keras3}")
        out.append(_fix_line(report, d))
        entries = ", ".join(str(c) for c in d.catalogue)
        out.append(f"  = catalogue: {entries}; `kmigrate explain {d.code}`")
        out.append("")
    out.append(summary_line(report))
    return "\n".join(out) + "\n"
