"""Render the result of ``kmigrate verify``: pure functions from a VerifyReport to text."""

from __future__ import annotations

import json
from collections.abc import Sequence

from kmigrate.diagnostics import Diagnostic
from kmigrate.verify.api import VerifyReport
from kmigrate.verify.spec import ProbeOutcome

FORMATS = ("full", "concise", "json")


def _where(o: ProbeOutcome) -> str:
    if o.cell is not None:
        return f"{o.path}:cell {o.cell}:{o.span.line}:{o.span.column}"
    return f"{o.path}:{o.span.line}:{o.span.column}"


def numbers(o: ProbeOutcome) -> str:
    v = o.verdict
    parts = []
    if v.max_abs_diff is not None:
        parts.append(f"max abs diff {v.max_abs_diff:.3g}")
    if v.max_rel_diff is not None:
        parts.append(f"max rel diff {v.max_rel_diff:.3g}")
    if v.where:
        parts.append(f"at {v.where}")
    if v.tolerance is not None:
        parts.append(f"atol {v.tolerance:g}")
    if o.shape is not None:
        parts.append(f"input {tuple(o.shape)} from {o.shape_source or 'the probe'}")
    return ", ".join(parts)


def concise(report: VerifyReport) -> str:
    lines = []
    for o in report.outcomes:
        extra = numbers(o)
        line = f"{_where(o)}: {o.verdict.kind} {o.label}" + (f" ({extra})" if extra else "")
        if o.verdict.detail and (o.verdict.kind == "unverifiable" or o.verdict.max_abs_diff is None):
            line += f": {o.verdict.detail}"
        lines.append(line)
    return "\n".join(lines) + ("\n" if lines else "")


def summary(report: VerifyReport) -> str:
    n = len(report.outcomes)
    text = (
        f"{report.files} file{'s' if report.files != 1 else ''} verified, {n} construct"
        f"{'s' if n != 1 else ''} probed: {report.count('equivalent')} equivalent, "
        f"{report.count('differs')} differ, {report.count('unverifiable')} unverifiable"
    )
    if report.errors:
        text += f"; {len(report.errors)} file{'s' if len(report.errors) != 1 else ''} could not be read"
    return text + "."


def full(report: VerifyReport) -> str:
    out = []
    for o in report.outcomes:
        out.append(f"{_where(o)}: {o.verdict.kind.upper()} {o.label}")
        if o.kind:
            out.append(f"  = probe: {o.kind}, {o.seconds:.2f} s")
        extra = numbers(o)
        if extra:
            out.append(f"  = numbers: {extra}")
        if o.verdict.detail:
            out.append(f"  = {o.verdict.detail}")
        out.append("")
    if report.startup_seconds is not None:
        versions = ", ".join(f"{k} {v}" for k, v in report.versions)
        out.append(f"Worker start-up {report.startup_seconds:.1f} s ({versions}).")
    out.append(summary(report))
    return "\n".join(out) + "\n"


def as_json(report: VerifyReport) -> str:
    payload = {
        "version": 1,
        "outcomes": [o.to_json() for o in report.outcomes],
        "errors": [{"path": e.path, "message": e.message} for e in report.errors],
        "summary": {
            "files": report.files,
            "probed": len(report.outcomes),
            "equivalent": report.count("equivalent"),
            "differs": report.count("differs"),
            "unverifiable": report.count("unverifiable"),
            "worker_startup_seconds": report.startup_seconds,
            "versions": dict(report.versions),
        },
    }
    return json.dumps(payload, indent=2) + "\n"


def render(report: VerifyReport, fmt: str) -> str:
    return {"full": full, "concise": concise, "json": as_json}[fmt](report)


def fix_verdicts(diagnostics: Sequence[Diagnostic], fmt: str) -> str:
    """One line per verified fix (``fix --verify`` in the text formats), held-back ones marked."""
    lines = []
    for d in diagnostics:
        v = d.fix.verified if d.fix is not None else None
        if v is None or d.fix is None:
            continue
        where = f"{d.path}:cell {d.cell}:{d.line}:{d.column}" if d.cell is not None else f"{d.path}:{d.line}:{d.column}"
        parts = [f"max abs diff {v.max_abs_diff:.3g}"] if v.max_abs_diff is not None else []
        if v.where:
            parts.append(f"at {v.where}")
        if v.tolerance is not None:
            parts.append(f"atol {v.tolerance:g}")
        held = " (not applied)" if v.kind == "differs" else ""
        line = f"{where}: {d.code} fix {v.kind}{held}" + (f" ({', '.join(parts)})" if parts else "")
        if fmt == "full" or v.kind == "unverifiable" or (v.kind == "differs" and v.max_abs_diff is None):
            line += f": {v.detail}" if v.detail else ""
        lines.append(line)
    return "\n".join(lines) + ("\n" if lines else "")
