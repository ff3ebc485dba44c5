"""Positions of nodes, computed one statement at a time.

libcst's ``PositionProvider`` regenerates the whole module to find any node's position: on a
30,000-line file with one finding that is most of the run. kmigrate only needs the positions of
the nodes it reports and edits, which sit in a few statements. Python's ``ast`` (a C parser)
gives every statement's first line almost for free, so kmigrate renders just the innermost
class or function body statement that holds a finding, with the indentation of the blocks
around it, and shifts the result to that line. When anything does not line up (a file ``ast``
cannot parse, say), the whole-module provider is used, so results never differ (a test checks
this node for node).
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Sequence

import libcst as cst
from libcst._position import CodePosition, CodeRange
from libcst.metadata import MetadataWrapper, PositionProvider
from libcst.metadata.position_provider import PositionProvidingCodegenState

from kmigrate.walk import find_path

_DESCEND = (cst.ClassDef, cst.FunctionDef)


def _parse(text: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _pair(body: Sequence[cst.CSTNode], stmts: list[ast.stmt]) -> list[ast.stmt] | None:
    """For each libcst statement of a block, the first ``ast`` statement it corresponds to."""
    out: list[ast.stmt] = []
    i = 0
    for stmt in body:
        count = len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1
        if i + count > len(stmts):
            return None
        out.append(stmts[i])
        i += count
    return out if i == len(stmts) else None


def _first_line(node: ast.stmt) -> int:
    line = node.lineno
    for deco in getattr(node, "decorator_list", ()):
        line = min(line, deco.lineno)
    return line


class Positions:
    """``positions[node]`` -> ``CodeRange`` (1-based lines, 0-based columns), like libcst's."""

    def __init__(self, module: cst.Module, text: str | None) -> None:
        self.module = module
        self._ranges: dict[cst.CSTNode, CodeRange] = {}
        self._tree = _parse(text) if text is not None else None
        self._top = _pair(module.body, self._tree.body) if self._tree is not None else None
        self._full = False
        self._tables: list[tuple[dict[cst.CSTNode, CodeRange], int]] = []
        self._next = 0  # top-level statements before this index have been indexed

    # ------------------------------------------------------------------ indexing
    def _index_full(self) -> None:
        wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
        self._ranges = dict(wrapper.resolve(PositionProvider))
        self._tables = []
        self._full = True

    def _index(self, stmt: cst.CSTNode, line: int, indents: list[str]) -> None:
        """Positions of every node of ``stmt``, which starts on ``line`` inside ``indents``."""
        bare = stmt.with_changes(leading_lines=())
        provider = PositionProvider()
        state = PositionProvidingCodegenState(
            default_indent=self.module.default_indent,
            default_newline=self.module.default_newline,
            provider=provider,
            indent_tokens=list(indents),
        )
        bare._codegen(state)
        computed = provider._computed
        computed[stmt] = computed[bare]
        # Shifted lazily, on lookup: most of these positions are never asked for.
        self._tables.append((computed, line - 1))

    def _lookup(self, node: cst.CSTNode) -> CodeRange | None:
        found = self._ranges.get(node)
        if found is not None:
            return found
        for computed, offset in self._tables:
            rng = computed.get(node)
            if rng is not None:
                found = CodeRange(
                    CodePosition(rng.start.line + offset, rng.start.column),
                    CodePosition(rng.end.line + offset, rng.end.column),
                )
                self._ranges[node] = found
                return found
        return None

    def _known(self, node: cst.CSTNode) -> bool:
        return node in self._ranges or any(node in computed for computed, _ in self._tables)

    def hint(self, ancestors: Sequence[cst.CSTNode]) -> None:
        """Index the innermost class/function-body statement on this path from the module."""
        if self._full or self._top is None or len(ancestors) < 2 or ancestors[0] is not self.module:
            return
        body: Sequence[cst.CSTNode] = self.module.body
        pairs: list[ast.stmt] | None = self._top
        indents: list[str] = []
        i = 1
        while True:
            stmt = ancestors[i]
            try:
                index = next(k for k, s in enumerate(body) if s is stmt)
            except StopIteration:
                return
            node_ast = pairs[index]  # type: ignore[index]
            # Descend into a class or function body when the path goes on into one of its
            # statements: ancestors[i+1] is the IndentedBlock, ancestors[i+2] the statement.
            if (
                isinstance(stmt, _DESCEND)
                and isinstance(stmt.body, cst.IndentedBlock)
                and len(ancestors) > i + 2
                and ancestors[i + 1] is stmt.body
                and isinstance(node_ast, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            ):
                inner = _pair(stmt.body.body, node_ast.body)
                if inner is not None:
                    indents = [*indents, stmt.body.indent if stmt.body.indent is not None else self.module.default_indent]
                    body, pairs, i = stmt.body.body, inner, i + 2
                    continue
            if not self._known(stmt):
                self._index(stmt, _first_line(node_ast), indents)
            return

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._lookup(node)
        if found is not None:
            return found
        if self._full:
            raise KeyError(node)
        if self._top is None or node is self.module:
            self._index_full()
            return self._ranges[node]
        # Find the statement that holds the node with a cheap walk, then render only that one.
        path = find_path(self.module, node)
        if path is not None:
            self.hint(path)
            found = self._lookup(node)
            if found is not None:
                return found
        body = self.module.body
        while self._next < len(body):
            stmt = body[self._next]
            if not self._known(stmt):
                self._index(stmt, _first_line(self._top[self._next]), [])
            self._next += 1
            found = self._lookup(node)
            if found is not None:
                return found
        self._index_full()
        return self._ranges[node]
