"""Positions of nodes, computed one top-level statement at a time.

libcst's ``PositionProvider`` regenerates the whole module to find any node's position: on a
30,000-line file with one finding that is most of the run. kmigrate only needs the positions of
the nodes it reports and edits, which usually sit in a few statements. Python's ``ast`` (a C
parser) gives each top-level statement's first line almost for free; positions inside a
statement come from rendering that statement alone. When anything does not line up (a file
``ast`` cannot parse, say), the whole-module provider is used, so results never differ.
"""

from __future__ import annotations

import ast
import warnings

import libcst as cst
from libcst._position import CodePosition, CodeRange
from libcst.metadata import MetadataWrapper, PositionProvider


def _ast_start_lines(text: str, module: cst.Module) -> list[int] | None:
    """First line of each statement in ``module.body``, from ``ast``; None if they disagree."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    body = tree.body
    out: list[int] = []
    i = 0
    for stmt in module.body:
        count = len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1
        if i + count > len(body):
            return None
        first = body[i]
        line = first.lineno
        for deco in getattr(first, "decorator_list", ()):
            line = min(line, deco.lineno)
        out.append(line)
        i += count
    if i != len(body):
        return None
    return out


class Positions:
    """``positions[node]`` -> ``CodeRange`` (1-based lines, 0-based columns), like libcst's."""

    def __init__(self, module: cst.Module, text: str | None) -> None:
        self.module = module
        self._ranges: dict[cst.CSTNode, CodeRange] = {}
        self._starts = _ast_start_lines(text, module) if text is not None else None
        self._next = 0  # statements before this index have been indexed
        self._full = False
        self._index_of = {id(stmt): i for i, stmt in enumerate(module.body)}

    def _index_full(self) -> None:
        wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
        self._ranges = dict(wrapper.resolve(PositionProvider))
        self._full = True

    def _index_statement(self, index: int) -> None:
        assert self._starts is not None
        stmt = self.module.body[index]
        bare = stmt.with_changes(leading_lines=())
        sub = cst.Module(
            body=[bare],
            header=[],
            footer=[],
            encoding=self.module.encoding,
            default_indent=self.module.default_indent,
            default_newline=self.module.default_newline,
            has_trailing_newline=True,
        )
        ranges = MetadataWrapper(sub, unsafe_skip_copy=True).resolve(PositionProvider)
        offset = self._starts[index] - 1
        for node, rng in ranges.items():
            if node is sub:
                continue
            key = stmt if node is bare else node
            self._ranges[key] = CodeRange(
                CodePosition(rng.start.line + offset, rng.start.column),
                CodePosition(rng.end.line + offset, rng.end.column),
            )

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._ranges.get(node)
        if found is not None:
            return found
        if self._full:
            raise KeyError(node)
        if self._starts is None or node is self.module:
            self._index_full()
            return self._ranges[node]
        while self._next < len(self.module.body):
            if self.module.body[self._next] not in self._ranges:
                self._index_statement(self._next)
            self._next += 1
            found = self._ranges.get(node)
            if found is not None:
                return found
        self._index_full()
        return self._ranges[node]

    def statement_of_hint(self, stmt: cst.CSTNode) -> None:
        """Index the top-level statement ``stmt`` first (it holds the nodes about to be asked)."""
        if self._starts is None or self._full or stmt in self._ranges:
            return
        index = self._index_of.get(id(stmt))
        if index is not None:
            self._index_statement(index)
