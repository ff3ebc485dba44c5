"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

One rule descriptor per catalogue rule (plus ``KM001`` when it is reported), with the
``kmigrate explain`` text as help. Results carry 1-based regions (``columnKind`` is
``unicodeCodePoints``: columns count characters), a stable ``partialFingerprints`` entry (rule,
file and the text of the line, so it survives lines moving), and ``fixes`` whose replacements
delete a region and insert the new text. In a notebook the region is the .ipynb line that holds
the finding and the cell position is in ``properties``; its fixes are not given as
replacements, because the JSON text of a cell is not its Python text.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kmigrate import __version__
from kmigrate.catalogue import Rule
from kmigrate.diagnostics import Diagnostic, Edit, FileError
from kmigrate.explain import explain_text
from kmigrate.report import Report
from kmigrate.report.github import LEVELS, level

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"error": "error", "warning": "warning", "notice": "note"}
_BREAK = re.compile(r"\r\n|\r|\n")


def _uri(path: str) -> tuple[str, str | None]:
    """(uri, uriBaseId): relative to the current directory when possible."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(Path.cwd())
        except ValueError:
            return p.as_uri(), None
    text = p.as_posix()
    while text.startswith("./"):
        text = text[2:]
    return quote(text, safe="/"), "%SRCROOT%"


def _artifact(path: str) -> dict[str, Any]:
    uri, base = _uri(path)
    return {"uri": uri, "uriBaseId": base} if base else {"uri": uri}


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    help_text = explain_text(rule)
    full = f"Keras 2: {rule.keras2} Keras 3: {rule.keras3}"
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.title.replace("`", "")},
        "fullDescription": {"text": rule.message.replace("`", "") + " " + full.replace("`", "")},
        "help": {"text": help_text, "markdown": help_text},
        "defaultConfiguration": {"level": LEVEL[LEVELS.get(rule.breaks, "warning")], "enabled": rule.default_enabled},
        "properties": {
            "tags": ["keras-migration", rule.breaks],
            "catalogue": list(rule.catalogue),
            "breaks": rule.breaks,
            "keras": rule.keras,
            "fix": rule.fix,
            "keras2": rule.keras2,
            "keras3": rule.keras3,
            "precision": "high",
        },
    }


def _unused_descriptor() -> dict[str, Any]:
    from kmigrate.suppressions import EXPLAIN_UNUSED, UNUSED_CODE, UNUSED_NAME

    return {
        "id": UNUSED_CODE,
        "name": UNUSED_NAME,
        "shortDescription": {"text": "A kmigrate: ignore comment silences nothing"},
        "fullDescription": {"text": "A suppression comment names a code that has no finding on its line."},
        "help": {"text": EXPLAIN_UNUSED, "markdown": EXPLAIN_UNUSED},
        "defaultConfiguration": {"level": "warning", "enabled": False},
        "properties": {"tags": ["kmigrate"]},
    }


def _region(line: int, column: int | None = None, end_line: int | None = None, end_column: int | None = None) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": line}
    if column is not None:
        region["startColumn"] = column
    if end_line is not None:
        region["endLine"] = end_line
    if end_column is not None:
        region["endColumn"] = end_column
    return region


def _fingerprint(report: Report, d: Diagnostic) -> str:
    text = report.sources.get(d.path, "")
    lines = _BREAK.split(text)
    span = d.source_span or d.span
    line = lines[span.line - 1].strip() if 1 <= span.line <= len(lines) else ""
    digest = hashlib.sha256(f"{d.code}\0{d.path}\0{d.cell}\0{line}".encode()).hexdigest()
    return digest[:32]


def _replacement(edit: Edit) -> dict[str, Any]:
    s = edit.span
    return {
        "deletedRegion": _region(s.line, s.column, s.end_line, s.end_column),
        "insertedContent": {"text": edit.content},
    }


def result(report: Report, d: Diagnostic, index: int) -> dict[str, Any]:
    props: dict[str, Any] = {"name": d.name, "breaks": d.breaks, "catalogue": list(d.catalogue)}
    if d.cell is not None:
        nb = report.notebooks.get(d.path)
        json_line = nb.json_line(d.cell, d.span.line) if nb is not None else None
        region = _region(json_line) if json_line is not None else None
        props.update(cell=d.cell, cellLine=d.span.line, cellColumn=d.span.column,
                     cellEndLine=d.span.end_line, cellEndColumn=d.span.end_column)
    else:
        region = _region(d.span.line, d.span.column, d.span.end_line, d.span.end_column)
    physical: dict[str, Any] = {"artifactLocation": _artifact(d.path)}
    if region is not None:
        physical["region"] = region
    message = d.message if d.cell is None else f"cell {d.cell}, line {d.span.line}: {d.message}"
    out: dict[str, Any] = {
        "ruleId": d.code,
        "ruleIndex": index,
        "level": LEVEL[level(d)],
        "message": {"text": message},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {"kmigrateFinding/v1": _fingerprint(report, d)},
    }
    if d.fix is not None:
        props["fix"] = {
            "safety": d.fix.safety,
            "title": d.fix.title,
            "applied_by_default": d.fix.safety == "safe",
            "verified": d.fix.verified.to_json() if d.fix.verified is not None else None,
        }
        if d.cell is None and d.fix.edits:
            out["fixes"] = [
                {
                    "description": {"text": d.fix.title + ("" if d.fix.safety == "safe" else " (unsafe)")},
                    "artifactChanges": [
                        {
                            "artifactLocation": _artifact(d.path),
                            "replacements": [_replacement(e) for e in d.fix.edits],
                        }
                    ],
                }
            ]
    out["properties"] = props
    return out


def _notification(e: FileError) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": _artifact(e.path)}
    if e.line is not None:
        physical["region"] = _region(e.line, e.column)
    return {"level": "error", "message": {"text": e.message}, "locations": [{"physicalLocation": physical}]}


def sarif_log(report: Report) -> dict[str, Any]:
    rules = sorted(report.rules.values(), key=lambda r: r.code)
    descriptors = [rule_descriptor(r) for r in rules]
    index = {r.code: i for i, r in enumerate(rules)}
    if any(d.code not in index for d in report.diagnostics):
        from kmigrate.suppressions import UNUSED_CODE

        index[UNUSED_CODE] = len(descriptors)
        descriptors.append(_unused_descriptor())
    results = [result(report, d, index[d.code]) for d in report.diagnostics if d.code in index]
    root = Path.cwd().as_uri().rstrip("/") + "/"
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "kmigrate",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": "https://pypi.org/project/kmigrate/",
                "rules": descriptors,
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": root}},
        "columnKind": "unicodeCodePoints",
        "results": results,
        "invocations": [
            {
                "executionSuccessful": not report.errors,
                "toolExecutionNotifications": [_notification(e) for e in report.errors],
                "workingDirectory": {"uri": root},
                "commandLine": "kmigrate " + report.command,
                "properties": {"filesChecked": report.files_checked},
            }
        ],
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def render(report: Report) -> str:
    return json.dumps(sarif_log(report), indent=2, ensure_ascii=False) + "\n"

