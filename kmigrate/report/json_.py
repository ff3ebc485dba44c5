"""``--format json``: one object, ``{"version": 1, "diagnostics": [...], "summary": {...}}``."""

from __future__ import annotations

import json
from typing import Any

from kmigrate.diagnostics import Diagnostic, Fix
from kmigrate.report import Report


def fix_json(fix: Fix | None) -> dict[str, Any] | None:
    if fix is None:
        return None
    return {
        "safety": fix.safety,
        "title": fix.title,
        "edits": [
            {
                "line": e.span.line,
                "column": e.span.column,
                "end_line": e.span.end_line,
                "end_column": e.span.end_column,
                "content": e.content,
                **({"cell": e.cell} if e.cell is not None else {}),
            }
            for e in fix.edits
        ],
        "verified": fix.verified.to_json() if fix.verified is not None else None,
    }


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    return {
        "path": d.path,
        "line": d.span.line,
        "column": d.span.column,
        "end_line": d.span.end_line,
        "end_column": d.span.end_column,
        "cell": d.cell,
        "code": d.code,
        "name": d.name,
        "breaks": d.breaks,
        "message": d.message,
        "catalogue": list(d.catalogue),
        "fix": fix_json(d.fix),
    }


def render(report: Report) -> str:
    payload = {
        "version": 1,
        "diagnostics": [diagnostic_json(d) for d in report.diagnostics],
        "errors": [
            {"path": e.path, "cell": e.cell, "line": e.line, "column": e.column, "message": e.message}
            for e in report.errors
        ],
        "summary": {
            "command": report.command,
            "files": report.files_checked,
            "findings": len(report.diagnostics),
            "fixable": report.fixable,
            "unsafe_fixable": report.unsafe_fixable,
            "errors": len(report.errors),
            "fixes_applied": report.fixes_applied,
            "files_changed": report.files_changed,
        },
    }
    return json.dumps(payload, indent=2) + "\n"
