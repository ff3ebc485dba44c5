"""What processing one file produces; kept free of libcst so cached runs never import it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kmigrate.diagnostics import Diagnostic, FileError
from kmigrate.sources import SourceFile

Vetter = Callable[[str, list[Diagnostic]], list[Diagnostic]]


@dataclass(frozen=True)
class FileResult:
    display: str
    diagnostics: tuple[Diagnostic, ...] = ()
    error: FileError | None = None
    source: SourceFile | None = None
    fixed_text: str | None = None  # the rewritten text, when fixing changed something
    fixes_applied: int = 0
    fixed_codes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    initial: tuple[Diagnostic, ...] = ()  # with ``fix``: the findings before fixing

    @property
    def changed(self) -> bool:
        return self.fixed_text is not None
