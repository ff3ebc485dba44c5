"""Positions of nodes, computed one statement at a time.

libcst's ``PositionProvider`` regenerates the whole module to find any node's position: on a
30,000-line file with one finding that is most of the run. kmigrate only needs the positions of
the nodes it reports and edits, which sit in a few statements. Python's ``ast`` (a C parser)
gives every statement's first line almost for free, so kmigrate renders just the innermost
statement that holds a finding (descending through the blocks of classes, functions, ``if``,
``try``, loops and ``with``), with the indentation of the blocks around it, and shifts the
result to that line. A node in the header of a compound statement (a decorator, a base class,
an ``if`` test) is found by rendering the header alone. Most findings need no ``ast`` at all:
when the rendered statement (or header) occurs exactly once in the file, at a line start, that
occurrence is the statement, and its offset gives the line. When anything does not line up (a file
``ast`` cannot parse, say), the whole-module provider is used, so results never differ (a test
checks this node for node).
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_right
import warnings
from collections.abc import Sequence

import libcst as cst
from libcst._position import CodePosition, CodeRange
from libcst.metadata import MetadataWrapper, PositionProvider
from libcst.metadata.position_provider import PositionProvidingCodegenState

from kmigrate.walk import find_path

# The ``ast`` statements a libcst statement may stand for; a pairing that disagrees is not used.
_AST_OF: dict[type, tuple[type, ...]] = {
    cst.ClassDef: (ast.ClassDef,),
    cst.FunctionDef: (ast.FunctionDef, ast.AsyncFunctionDef),
    cst.If: (ast.If,),
    cst.For: (ast.For, ast.AsyncFor),
    cst.While: (ast.While,),
    cst.With: (ast.With, ast.AsyncWith),
    cst.Try: (ast.Try,),
    cst.Match: (ast.Match,),
}
if hasattr(ast, "TryStar"):
    _AST_OF[cst.TryStar] = (ast.TryStar,)
_COMPOUND_AST = tuple({t for ts in _AST_OF.values() for t in ts})

# Statements whose header can be rendered without their body: the body (and any else/elif)
# comes after every header node, so replacing it moves none of them.
_HEADER = (
    cst.ClassDef,
    cst.FunctionDef,
    cst.If,
    cst.For,
    cst.While,
    cst.With,
    cst.ExceptHandler,
    cst.ExceptStarHandler,
)
_PLACEHOLDER = cst.SimpleStatementSuite(body=[cst.Pass()])
# Statements whose ``body`` block the ``ast``-free path may descend into.
_BODY_OWNERS = (*_HEADER[:6], cst.Try, cst.TryStar)


def _subtree(node: cst.CSTNode) -> list[cst.CSTNode]:
    out = [node]
    for child in node.children:
        out.extend(_subtree(child))
    return out


_PLACEHOLDER_NODES = _subtree(_PLACEHOLDER)
_NEWLINE = re.compile(r"\r\n?|\n")


def python_tree(text: str) -> ast.Module | None:
    """``text`` parsed by Python's own parser; None when it does not parse."""
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


def _matches(stmt: cst.CSTNode, node: ast.stmt) -> bool:
    kinds = _AST_OF.get(type(stmt))
    if kinds is None:
        return isinstance(stmt, cst.SimpleStatementLine) and not isinstance(node, _COMPOUND_AST)
    return isinstance(node, kinds)


def _index_of(items: Sequence[cst.CSTNode], node: cst.CSTNode) -> int:
    for k, item in enumerate(items):
        if item is node:
            return k
    return -1


def _indent(block: cst.IndentedBlock, default: str) -> str:
    return block.indent if block.indent is not None else default


class Positions:
    """``positions[node]`` -> ``CodeRange`` (1-based lines, 0-based columns), like libcst's.

    ``tree`` is the module's ``ast``, when the caller has parsed ``text`` already.
    """

    def __init__(self, module: cst.Module, text: str | None, tree: ast.Module | None = None) -> None:
        self.module = module
        self._text = text
        self._ranges: dict[cst.CSTNode, CodeRange] = {}
        self._tree = tree
        self._top = _pair(module.body, tree.body) if tree is not None else None
        # ``ast`` is parsed on first need: most findings sit in a simple statement whose text
        # occurs once in the file, which places it without any parse (see _hint_by_text).
        self._parsed = tree is not None or text is None
        self._full = False
        self._tables: list[tuple[dict[cst.CSTNode, CodeRange], int]] = []
        self._headers: set[cst.CSTNode] = set()  # statements whose header alone is indexed
        self._starts: list[int] | None = None
        self._next = 0  # top-level statements before this index have been indexed

    def _load(self) -> None:
        if not self._parsed:
            self._parsed = True
            self._tree = python_tree(self._text)  # type: ignore[arg-type]
            self._top = _pair(self.module.body, self._tree.body) if self._tree is not None else None

    # ------------------------------------------------------------------ lines
    def _line_starts(self) -> list[int]:
        starts = self._starts
        if starts is None:
            starts = self._starts = [0, *(m.end() for m in _NEWLINE.finditer(self._text))]  # type: ignore[arg-type]
        return starts

    def _first_line(self, node: ast.stmt) -> int:
        """The line of a statement's first token: its first decorator's ``@``, if any."""
        decorators = getattr(node, "decorator_list", None)
        if not decorators:
            return node.lineno
        line = min(node.lineno, *(d.lineno for d in decorators))
        # ``ast`` places a decorator at its expression, which may start lines below the ``@``
        # (``@(\n  name\n)``); only blank, bracket and comment lines lie in between.
        text = self._text
        starts = self._line_starts()
        for at in range(line, 0, -1):
            if text[starts[at - 1] : starts[at]].lstrip().startswith("@"):  # type: ignore[index]
                return at
        return line

    # ------------------------------------------------------------------ indexing
    def _index_full(self) -> None:
        wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
        self._ranges = dict(wrapper.resolve(PositionProvider))
        self._tables = []
        self._full = True

    def _index(
        self,
        stmt: cst.CSTNode,
        line: int,
        indents: list[str],
        *,
        header: bool = False,
        elif_: bool = False,
    ) -> None:
        """Positions of the nodes of ``stmt`` (of its header only, if ``header``), which
        starts on ``line`` inside ``indents``."""
        computed, _ = self._render(stmt, indents, header=header, elif_=elif_)
        self._store(stmt, computed, line, header=header)

    def _render(
        self,
        stmt: cst.CSTNode,
        indents: list[str],
        *,
        header: bool = False,
        elif_: bool = False,
    ) -> tuple[dict[cst.CSTNode, CodeRange], str]:
        """``stmt`` rendered inside ``indents``: its nodes' ranges from line 1, and its text."""
        changes: dict[str, object] = {"leading_lines": ()}
        if header:
            if isinstance(stmt.body, cst.IndentedBlock):  # type: ignore[attr-defined]
                changes["body"] = _PLACEHOLDER
            if getattr(stmt, "orelse", None) is not None:
                changes["orelse"] = None
        bare = stmt.with_changes(**changes)
        provider = PositionProvider()
        state = PositionProvidingCodegenState(
            default_indent=self.module.default_indent,
            default_newline=self.module.default_newline,
            provider=provider,
            indent_tokens=list(indents),
        )
        if elif_:
            bare._codegen(state, is_elif=True)
        else:
            bare._codegen(state)
        computed = provider._computed
        computed[stmt] = computed.pop(bare)
        return computed, "".join(state.tokens)

    def _store(
        self, stmt: cst.CSTNode, computed: dict[cst.CSTNode, CodeRange], line: int, *, header: bool
    ) -> None:
        own = computed.pop(stmt)
        if header:
            # The statement's own range ends with its body: not known from a header.
            for node in _PLACEHOLDER_NODES:
                computed.pop(node, None)
            self._headers.add(stmt)
        else:
            computed[stmt] = own
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

    def _step(
        self, unit: cst.CSTNode, tree: ast.AST, ancestors: Sequence[cst.CSTNode], i: int
    ) -> tuple | None:
        """Where the path goes below ``unit`` (``ancestors[i]``, paired with ``tree``).

        ("block", block, stmts, j): into a statement of ``block`` (``ancestors[j]``), whose
        ``ast`` statements are ``stmts``; ("clause", node, tree, elif): into an elif or
        except clause, rendered on its own; ("header",): into the header; None: elsewhere.
        """
        if len(ancestors) <= i + 1:
            return None
        child = ancestors[i + 1]
        body = getattr(unit, "body", None)
        orelse = getattr(unit, "orelse", None)
        if child is body:
            if isinstance(body, cst.IndentedBlock):
                return ("block", body, tree.body, i + 1)  # type: ignore[attr-defined]
        elif child is orelse and isinstance(orelse, cst.If):
            nested = tree.orelse  # type: ignore[attr-defined]
            if len(nested) == 1 and isinstance(nested[0], ast.If):
                return ("clause", orelse, nested[0], True)
            return None
        elif child is orelse or child is getattr(unit, "finalbody", None):
            # ``else:`` and ``finally:`` have no line of their own in ``ast``: only their body.
            stmts = tree.orelse if child is orelse else tree.finalbody  # type: ignore[attr-defined]
            block = child.body  # type: ignore[attr-defined]
            if isinstance(block, cst.IndentedBlock) and len(ancestors) > i + 2 and ancestors[i + 2] is block:
                return ("block", block, stmts, i + 2)
            return None
        elif isinstance(unit, (cst.Try, cst.TryStar)):
            k = _index_of(unit.handlers, child)
            handlers = tree.handlers  # type: ignore[attr-defined]
            if k >= 0 and len(handlers) == len(unit.handlers):
                return ("clause", child, handlers[k], False)
            return None
        if isinstance(unit, _HEADER) and _index_of(unit.leading_lines, child) < 0:  # type: ignore[attr-defined]
            return ("header",)
        return None

    def _hint_by_text(self, ancestors: Sequence[cst.CSTNode]) -> bool:
        """Index the innermost simple statement on this path without ``ast``, when its text
        occurs exactly once in the file (then that occurrence is the statement itself).

        Descends only through the bodies of compound statements; anything else (a header, an
        elif or except clause, a statement whose text repeats) is left to the ``ast`` path.
        """
        default = self.module.default_indent
        body: Sequence[cst.CSTNode] = self.module.body
        indents: list[str] = []
        header = False
        i = 1
        while True:
            if len(ancestors) <= i or _index_of(body, ancestors[i]) < 0:
                return False
            unit = ancestors[i]
            if type(unit) is cst.SimpleStatementLine:
                break
            block = getattr(unit, "body", None)
            child = ancestors[i + 1] if len(ancestors) > i + 1 else None
            if isinstance(unit, _BODY_OWNERS) and isinstance(block, cst.IndentedBlock) and child is block:
                if len(ancestors) <= i + 2:
                    return False
                indents.append(_indent(block, default))
                body, i = block.body, i + 2
                continue
            if (
                isinstance(unit, _HEADER[:6])
                and child is not None
                and child is not block
                and child is not getattr(unit, "orelse", None)
                and _index_of(unit.leading_lines, child) < 0  # type: ignore[attr-defined]
            ):
                header = True  # a decorator, a base class, an argument default, a test...
                break
            return False
        if unit in self._headers if header else self._known(unit):
            return True
        computed, code = self._render(unit, indents, header=header)
        if header:
            # The header's own text ends at its colon; the placeholder body follows.
            tail = self.module.code_for_node(_PLACEHOLDER)
            if not code.endswith(tail):
                return False
            code = code[: -len(tail)]
        text = self._text
        at = text.find(code)  # type: ignore[union-attr]
        if not code or at < 0 or text.find(code, at + 1) >= 0:  # type: ignore[union-attr]
            return False
        starts = self._line_starts()
        line = bisect_right(starts, at)
        if starts[line - 1] != at:
            return False
        self._store(unit, computed, line, header=header)
        return True

    def hint(self, ancestors: Sequence[cst.CSTNode]) -> None:
        """Index the innermost statement on this path from the module, or only its header
        when the path stays in the header."""
        if self._full or len(ancestors) < 2 or ancestors[0] is not self.module:
            return
        if not self._parsed and self._hint_by_text(ancestors):
            return
        self._load()
        if self._top is None:
            return
        default = self.module.default_indent
        body: Sequence[cst.CSTNode] = self.module.body
        pairs: list[ast.stmt] = self._top
        indents: list[str] = []
        i = 1
        while True:
            index = _index_of(body, ancestors[i])
            if index < 0:
                return
            unit: cst.CSTNode = ancestors[i]
            tree: ast.AST = pairs[index]
            if not _matches(unit, tree):  # type: ignore[arg-type]
                return
            elif_ = False
            # ``unit`` is what gets rendered: a statement, or an elif or except clause in one.
            while True:
                step = self._step(unit, tree, ancestors, i)
                if step is None or step[0] != "clause":
                    break
                _, unit, tree, elif_ = step
                i += 1
            if step is not None and step[0] == "block":
                _, block, stmts, j = step
                inner = None
                if len(ancestors) > j + 1 and _index_of(block.body, ancestors[j + 1]) >= 0:
                    inner = _pair(block.body, stmts)
                if inner is not None:
                    indents = [*indents, _indent(block, default)]
                    body, pairs, i = block.body, inner, j + 1
                    continue
                step = None
            if step is not None:  # the header
                if unit not in self._headers and not self._known(unit):
                    self._index(unit, self._first_line(tree), indents, header=True, elif_=elif_)  # type: ignore[arg-type]
            elif not self._known(unit):
                self._index(unit, self._first_line(tree), indents, elif_=elif_)  # type: ignore[arg-type]
            return

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._lookup(node)
        if found is not None:
            return found
        if self._full:
            raise KeyError(node)
        if node is self.module:
            self._index_full()
            return self._ranges[node]
        # Find the statement that holds the node with a cheap walk, then render only that one.
        path = find_path(self.module, node)
        if path is not None:
            self.hint(path)
            found = self._lookup(node)
            if found is not None:
                return found
        self._load()
        if self._top is None:
            self._index_full()
            return self._ranges[node]
        body = self.module.body
        while self._next < len(body):
            stmt = body[self._next]
            if not self._known(stmt):
                self._index(stmt, self._first_line(self._top[self._next]), [])
            self._next += 1
            found = self._lookup(node)
            if found is not None:
                return found
        self._index_full()
        return self._ranges[node]
