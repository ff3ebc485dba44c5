"""Reporters: pure functions from results to text. Only the CLI prints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kmigrate.catalogue import Rule
from kmigrate.diagnostics import Diagnostic, FileError

if TYPE_CHECKING:
    from kmigrate.notebooks import NotebookSource


@dataclass(frozen=True)
class Report:
    """Everything a reporter may show about one run."""

    diagnostics: Sequence[Diagnostic]
    errors: Sequence[FileError]
    files_checked: int
    rules: dict[str, Rule]
    sources: dict[str, str]  # display path -> analysed text (for source lines in `full`)
    unsafe_fixes: bool = False
    command: str = "check"
    fixes_applied: int = 0
    files_changed: int = 0
    # display path -> the notebook as read, for formats that point into the .ipynb's own lines
    notebooks: Mapping[str, NotebookSource] = field(default_factory=dict)

    @property
    def fixable(self) -> int:
        return sum(1 for d in self.diagnostics if d.fix is not None and d.fix.safety == "safe")

    @property
    def unsafe_fixable(self) -> int:
        return sum(1 for d in self.diagnostics if d.fix is not None and d.fix.safety == "unsafe")


def location(d: Diagnostic) -> str:
    if d.cell is not None:
        return f"{d.path}:cell {d.cell}:{d.span.line}:{d.span.column}"
    return f"{d.path}:{d.span.line}:{d.span.column}"


def summary_line(report: Report) -> str:
    n = len(report.diagnostics)
    files = report.files_checked
    parts = [f"{files} file{'s' if files != 1 else ''} checked"]
    parts.append(f"{n} finding{'s' if n != 1 else ''}")
    if report.command == "check":
        if report.fixable:
            parts.append(f"{report.fixable} fixable with `kmigrate fix --apply`")
        if report.unsafe_fixable:
            parts.append(f"{report.unsafe_fixable} more with `--unsafe-fixes`")
    if report.errors:
        e = len(report.errors)
        parts.append(f"{e} file{'s' if e != 1 else ''} could not be checked")
    return ", ".join(parts) + "."
