"""``path:line:col: CODE message`` — one line per finding (editors, grep, problem matchers)."""

from __future__ import annotations

from kmigrate.report import Report, location


def render(report: Report) -> str:
    lines = [f"{location(d)}: {d.code} {d.message}" for d in report.diagnostics]
    return "\n".join(lines) + ("\n" if lines else "")
