"""The data that flows between stages: diagnostics, fixes, edits, verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Safety = Literal["safe", "unsafe"]
VerdictKind = Literal["equivalent", "differs", "unverifiable"]


@dataclass(frozen=True, order=True)
class Span:
    """1-based, end-exclusive text range (line, column) -> (end_line, end_column)."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True, order=True)
class Edit:
    """Replace the text of ``span`` with ``content`` (an insertion when the span is empty)."""

    span: Span
    content: str
    cell: int | None = None  # notebooks: the cell ``span`` is in (set only on reported copies)


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    detail: str = ""
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    tolerance: float | None = None
    where: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.kind,
            "detail": self.detail,
            "max_abs_diff": self.max_abs_diff,
            "max_rel_diff": self.max_rel_diff,
            "tolerance": self.tolerance,
            "where": self.where,
        }


@dataclass(frozen=True)
class Fix:
    safety: Safety
    title: str
    edits: tuple[Edit, ...]
    verified: Verdict | None = None

    def with_verdict(self, verdict: Verdict) -> Fix:
        return replace(self, verified=verdict)


@dataclass(frozen=True)
class Diagnostic:
    path: str
    span: Span
    code: str
    name: str
    breaks: str
    message: str
    catalogue: tuple[int, ...]
    fix: Fix | None = None
    cell: int | None = None
    # Position inside the analysed text (for notebooks: the concatenated cells); kept so that
    # fixes and suppressions can be matched to lines after the span was mapped to a cell.
    source_span: Span | None = field(default=None, compare=False)

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def column(self) -> int:
        return self.span.column

    def sort_key(self) -> tuple[str, int, int, int, str]:
        return (self.path, self.cell or 0, self.span.line, self.span.column, self.code)


@dataclass(frozen=True)
class FileError:
    """A file that could not be read, decoded or parsed. Exit code 2."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    cell: int | None = None  # notebooks: 1-based cell index; line/column are in that cell

    def render(self) -> str:
        where = self.path
        if self.cell is not None:
            where += f":cell {self.cell}"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: error: {self.message}"
