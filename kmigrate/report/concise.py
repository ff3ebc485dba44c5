"""``path:line:col: CODE message`` — one line per finding (editors, grep, problem matchers)."""

from __future__ import annotations

from kmigrate.diagnostics import Diagnostic
from kmigrate.report import Report, location


def _verified(d: Diagnostic) -> str:
    """`` [fix equivalent, max abs diff 0]`` after ``fix --verify``; nothing otherwise."""
    v = d.fix.verified if d.fix is not None else None
    if v is None:
        return ""
    diff = f", max abs diff {v.max_abs_diff:.3g}" if v.max_abs_diff is not None else ""
    return f" [fix {v.kind}{diff}]"


def render(report: Report) -> str:
    lines = [f"{location(d)}: {d.code} {d.message}{_verified(d)}" for d in report.diagnostics]
    return "\n".join(lines) + ("\n" if lines else "")
