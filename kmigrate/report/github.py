"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

``::error file=src/m.py,line=3,col=7,endLine=3,endColumn=19,title=KM101::message``

Severity follows what breaks: a silent change, a late failure, a construction or an import
failure on Keras 3 is an ``error``; ``portability`` (matters only off the TensorFlow backend)
and unused suppressions are a ``warning``; ``info`` is a ``notice``. ``col``/``endColumn`` are
given only for one-line findings, as GitHub requires. In a notebook the annotation goes on the
.ipynb line that holds the cell's line (what a pull request shows), and the message starts
with ``cell N, line L``.

GitHub shows at most 10 annotations of each level per step; when there are more, a final
notice says so, and ``step_summary`` (written to ``$GITHUB_STEP_SUMMARY`` by the CLI) lists all.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from kmigrate.diagnostics import Diagnostic
from kmigrate.report import Report, location, summary_line

LEVELS = {
    "silent": "error",
    "late": "error",
    "construction": "error",
    "import": "error",
    "portability": "warning",
    "info": "notice",
}
ORDER = {"error": 0, "warning": 1, "notice": 2}
GITHUB_CAP = 10


def level(d: Diagnostic) -> str:
    if d.code.startswith("KM0"):
        return "warning"
    return LEVELS.get(d.breaks, "warning")


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _path(path: str) -> str:
    """GitHub wants paths relative to the workspace: make absolute ones relative to the cwd."""
    if os.path.isabs(path):
        try:
            return Path(path).relative_to(Path.cwd()).as_posix()
        except ValueError:
            return path
    return path[2:] if path.startswith("./") else path


def _command(kind: str, props: dict[str, object], message: str) -> str:
    shown = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items() if v is not None)
    return f"::{kind} {shown}::{escape_data(message)}" if shown else f"::{kind}::{escape_data(message)}"


def annotation(report: Report, d: Diagnostic) -> str:
    message = d.message
    if d.fix is not None:
        message += f" (fix: {d.fix.title}" + ("; needs --unsafe-fixes" if d.fix.safety == "unsafe" and not report.unsafe_fixes else "") + ")"
    props: dict[str, object] = {"file": _path(d.path)}
    if d.cell is not None:
        nb = report.notebooks.get(d.path)
        props["line"] = nb.json_line(d.cell, d.span.line) if nb is not None else None
        message = f"cell {d.cell}, line {d.span.line}, col {d.span.column}: {message}"
    else:
        props["line"] = d.span.line
        props["endLine"] = d.span.end_line
        if d.span.end_line == d.span.line:
            props["col"] = d.span.column
            props["endColumn"] = d.span.end_column
    props["title"] = d.code
    # GitHub reads the properties in any order; keep the documented one.
    ordered = {k: props.get(k) for k in ("file", "line", "col", "endLine", "endColumn", "title")}
    return _command(level(d), ordered, message)


def render(report: Report) -> str:
    diags = sorted(report.diagnostics, key=lambda d: (ORDER[level(d)], d.sort_key()))
    lines = [annotation(report, d) for d in diags]
    for e in report.errors:
        lines.append(_command("error", {"file": _path(e.path), "line": e.line, "col": e.column, "title": "kmigrate"}, e.message))
    counts = Counter(level(d) for d in diags)
    if any(n > GITHUB_CAP for n in counts.values()):
        lines.append(
            _command(
                "notice",
                {"title": "kmigrate"},
                f"{summary_line(report)} GitHub shows only {GITHUB_CAP} annotations of each level per step: "
                "the job summary lists every finding.",
            )
        )
    return "\n".join(lines) + ("\n" if lines else "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def step_summary(report: Report, limit: int = 1000) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: every finding, in a table."""
    out = ["## kmigrate", "", summary_line(report), ""]
    if report.diagnostics:
        out += ["| location | code | level | message |", "|---|---|---|---|"]
        for d in report.diagnostics[:limit]:
            out.append(f"| `{_cell(location(d))}` | {d.code} | {level(d)} | {_cell(d.message)} |")
        if len(report.diagnostics) > limit:
            out.append(f"| … | | | {len(report.diagnostics) - limit} more: run `kmigrate check` locally |")
    for e in report.errors:
        out.append(f"- error: `{_cell(e.path)}`: {_cell(e.message)}")
    return "\n".join(out) + "\n\n"
