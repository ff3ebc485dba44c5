"""Processing of one file, in isolation: read, parse, check, and (optionally) fix."""

from __future__ import annotations

import ast
import dataclasses
import gc
import re
import warnings
from dataclasses import dataclass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import libcst as cst

from kmigrate import suppressions
from kmigrate.catalogue import Rule
from kmigrate.diagnostics import Diagnostic, FileError
from kmigrate.engine import analyse, screen
from kmigrate.positions import python_tree
from kmigrate.fixes import MAX_ITERATIONS, apply_edits, fixable
from kmigrate.sources import SourceFile, read_source
from kmigrate.results import FileResult, Vetter
from kmigrate.versions import Target


_MARKERS = ("keras", "tensorflow")


def mentions_keras(text: str) -> bool:
    """Cheap pre-filter: rules only fire in files that name Keras or TensorFlow somewhere."""
    return any(marker in text for marker in _MARKERS)


_LIBCST_AT = re.compile(r"^(?:parser error: )?error at \d+:\d+: ")


def _python_syntax_error(text: str) -> tuple[str, int, int] | None:
    """Python's own message and position for a syntax error (libcst's point at the next token)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except SyntaxError as exc:
        if exc.lineno is None:
            return None
        return exc.msg, exc.lineno, max(1, exc.offset or 1)
    except (ValueError, RecursionError, MemoryError):
        return None
    return None


def _skip_validation(_node: cst.CSTNode) -> None:
    pass


def parse_module(text: str) -> cst.Module:
    """``libcst.parse_module``, a fifth cheaper.

    libcst checks every node it builds (``CSTNode.__post_init__``), which guards trees written
    by hand, not the parser's; and the cyclic garbage collector keeps scanning the growing tree,
    which holds no cycles. Both are switched off while the parser runs (measured on tf_keras:
    validation 13 %, collection 8 % of the parse). A hand-built node (a fix) is still checked.
    """
    node_class = cst.CSTNode
    checked = node_class.__dict__.get("__post_init__")
    if checked is not None:
        node_class.__post_init__ = _skip_validation  # type: ignore[method-assign]
    try:
        with _gc_paused():
            return cst.parse_module(text)
    finally:
        if checked is not None:
            node_class.__post_init__ = checked  # type: ignore[method-assign]


def parse(text: str, display: str) -> cst.Module | FileError:
    try:
        return parse_module(text)
    except cst.ParserSyntaxError as exc:
        precise = _python_syntax_error(text)
        if precise is not None:
            message, line, column = precise
            return FileError(display, f"cannot parse: {message}", line, column)
        first = str(exc.message).splitlines()[0] if exc.message else "invalid syntax"
        first = _LIBCST_AT.sub("", first)
        return FileError(display, f"cannot parse: {first}", exc.editor_line, exc.editor_column)
    except (RecursionError, MemoryError):
        return FileError(display, "cannot parse: source too deeply nested")


def _map(source: SourceFile, diags: list[Diagnostic]) -> tuple[Diagnostic, ...]:
    if not source.is_notebook:
        return tuple(diags)
    out = []
    for d in diags:
        cell, span = source.map_span(d.span)
        fix = d.fix
        if fix is not None:
            edits = []
            for e in fix.edits:
                edit_cell, edit_span = source.map_span(e.span)
                edits.append(dataclasses.replace(e, span=edit_span, cell=edit_cell))
            fix = dataclasses.replace(fix, edits=tuple(edits))
        out.append(dataclasses.replace(d, span=span, cell=cell, fix=fix))
    return tuple(out)


def check_text(
    text: str,
    display: str,
    rules: dict[str, Rule],
    target: Target,
    *,
    report_unused: bool = False,
    use_screen: bool = True,
) -> list[Diagnostic] | FileError:
    """Findings in ``text``, minus those silenced by ``# kmigrate: ignore`` comments.

    ``use_screen=False`` runs every rule on the whole file (the screen must not change the
    result; tests compare both ways).
    """
    active = screen(rules, text) if use_screen else frozenset(rules)
    if not active and python_tree(text) is not None:
        # No rule can fire here, and the file is valid Python (Python's own parser, ~10x
        # cheaper than libcst's): nothing to find, no libcst tree needed.
        return suppressions.apply(text, display, [], rules, report_unused=report_unused)
    with _gc_paused():
        module = parse(text, display)
        if isinstance(module, FileError):
            return module
        diags = analyse(module, display, rules, target, text=text, active=active)
        del module
    return suppressions.apply(text, display, diags, rules, report_unused=report_unused)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while one file is analysed.

    A libcst tree is a million small objects without cycles, which reference counting frees
    when the analysis drops the tree; left on, the collector would scan the live tree over and
    over as it grows (8 % of the parse alone). Cycles made meanwhile wait for the next file.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def process_file(
    path: Path,
    rules: dict[str, Rule],
    target: Target,
    *,
    fix: bool = False,
    unsafe: bool = False,
    display: str | None = None,
    vet: Vetter | None = None,
    report_unused: bool = False,
) -> FileResult:
    display = display or str(path)
    source = read_source(path, display)
    if isinstance(source, FileError):
        return FileResult(display, error=source)
    return process_source(
        source, rules, target, fix=fix, unsafe=unsafe, vet=vet, report_unused=report_unused
    )


def process_source(
    source: SourceFile,
    rules: dict[str, Rule],
    target: Target,
    *,
    fix: bool = False,
    unsafe: bool = False,
    vet: Vetter | None = None,
    report_unused: bool = False,
    use_screen: bool = True,
) -> FileResult:
    """Check ``source``; with ``fix``, apply fixes until stable.

    ``vet`` (used by ``--verify``) sees each pass's diagnostics with the text they refer to and
    returns them with verdicts attached; fixes whose verdict is ``differs`` are then held back.
    """
    display = source.display
    if not mentions_keras(source.text):
        # No Keras or TensorFlow name can resolve in this file: skip parsing it.
        return FileResult(display, (), source=source, initial=())
    first = check_text(source.text, display, rules, target, report_unused=report_unused, use_screen=use_screen)
    if isinstance(first, FileError):
        error = source_error(source, first)
        if source.is_notebook and not fix:
            return _check_other_cells(source, error, rules, target, report_unused)
        return FileResult(display, error=error, source=source)
    if not fix:
        return FileResult(display, _map(source, first), source=source)

    text = source.text
    diags = first
    applied = 0
    codes: list[str] = []
    warnings: list[str] = []
    initial: list[Diagnostic] | None = None
    for _ in range(MAX_ITERATIONS):
        if vet is not None:
            diags = vet(text, diags)
        if initial is None:
            initial = diags
        todo = fixable(diags, unsafe)
        if not todo:
            break
        new_text, n = apply_edits(text, (d.fix.edits for d in todo if d.fix is not None))
        if new_text == text:
            break
        again = check_text(new_text, display, rules, target, report_unused=report_unused, use_screen=use_screen)
        if isinstance(again, FileError):
            warnings.append(
                f"{display}: fixes for {', '.join(sorted({d.code for d in todo}))} would produce "
                f"code that does not parse ({again.message}); not applied"
            )
            break
        applied += n
        codes.extend(d.code for d in todo)
        text, diags = new_text, again
    else:
        if fixable(diags, unsafe):
            warnings.append(f"{display}: fixes did not converge after {MAX_ITERATIONS} passes")
    return FileResult(
        display,
        _map(source.reframe(text), diags),
        source=source,
        fixed_text=text if text != source.text else None,
        fixes_applied=applied,
        fixed_codes=tuple(sorted(set(codes))),
        warnings=tuple(warnings),
        initial=_map(source, initial if initial is not None else diags),
    )


def _check_other_cells(
    source: SourceFile,
    error: FileError,
    rules: dict[str, Rule],
    target: Target,
    report_unused: bool,
) -> FileResult:
    """A notebook with cells that do not parse: report them, and check the others.

    Each bad cell is replaced by ``pass`` lines in the analysed text (same line count, so every
    other position stays right). Only for reporting: a notebook with a bad cell is never fixed.
    """
    from kmigrate.notebooks import BOUNDARY

    sep = "\n" + BOUNDARY + "\n"
    text = source.text
    errors = [error]
    for _ in range(20):
        bad = errors[-1].cell
        cells = getattr(source, "cells", ())
        chunks = text.split(sep)
        index = next((i for i, c in enumerate(cells) if c.index == bad), None)
        if index is None or len(chunks) != len(cells):
            break
        lines = chunks[index].count("\n") + 1
        chunks[index] = "\n".join(["pass"] * lines)
        text = sep.join(chunks)
        found = check_text(text, source.display, rules, target, report_unused=report_unused)
        if not isinstance(found, FileError):
            diags = _map(source, [d for d in found if _cell_of(source, d) not in {e.cell for e in errors}])
            message = "; ".join(f"cell {e.cell}: {e.message}" for e in errors[1:])
            first = errors[0]
            if message:
                first = dataclasses.replace(first, message=f"{first.message} (also {message})")
            return FileResult(source.display, diags, error=first, source=source)
        errors.append(source_error(source, found))
    return FileResult(source.display, error=error, source=source)


def _cell_of(source: SourceFile, d: Diagnostic) -> int | None:
    return source.map_span(d.span)[0]


def source_error(source: SourceFile, error: FileError) -> FileError:
    if not source.is_notebook or error.line is None:
        return error
    from kmigrate.diagnostics import Span

    cell, span = source.map_span(Span(error.line, error.column or 1, error.line, error.column or 1))
    return dataclasses.replace(error, cell=cell, line=span.line, column=span.column)
