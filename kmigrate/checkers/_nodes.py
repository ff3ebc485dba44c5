"""Cheap ways to look at a libcst tree, for code that runs on every node or every statement.

libcst nodes are ABCs: an ``isinstance`` test that fails runs ``ABCMeta.__instancecheck__`` in
Python, which dominates a tree walk. Hot paths test ``type(node)`` instead: ``is`` against a
concrete class (one with no subclasses: ``Name``, ``Call``, ``Attribute``, ...) or ``in`` one of
the sets of classes below for an abstract base. :func:`statements` lists a module's statements
without a walk through its expressions.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst


def subclasses(*bases: type) -> frozenset[type]:
    """``bases`` and every class derived from them (libcst defines all its nodes on import)."""
    out: set[type] = set()
    todo = list(bases)
    while todo:
        cls = todo.pop()
        if cls not in out:
            out.add(cls)
            todo.extend(cls.__subclasses__())
    return frozenset(out)


NODES = subclasses(cst.CSTNode)
EXPRESSIONS = subclasses(cst.BaseExpression)
SMALL_STATEMENTS = subclasses(cst.BaseSmallStatement)
SUITES = subclasses(cst.BaseSuite)
STATEMENTS = subclasses(cst.BaseStatement, cst.BaseSmallStatement, cst.BaseSuite)

_BLOCK_FIELDS = ("body", "handlers", "orelse", "finalbody", "cases")


def statements(root: cst.Module | cst.BaseCompoundStatement) -> list[cst.CSTNode]:
    """Every statement in ``root``'s body, at any depth, in source order: the compound
    statements and the small statements of each line (``Assign``, ``Expr``, ``Return``...).

    Statements never sit inside expressions, so this finds every ``Assign`` or ``For`` that a
    full walk finds, while touching a small part of the tree.
    """
    out: list[cst.CSTNode] = []
    if isinstance(root, cst.Module):
        _collect(root.body, out)
    else:
        _collect(root.body.body, out)
    return out


def _collect(body: Sequence[cst.CSTNode], out: list[cst.CSTNode]) -> None:
    for stmt in body:
        cls = type(stmt)
        if cls is cst.SimpleStatementLine:
            out.extend(stmt.body)  # type: ignore[attr-defined]
            continue
        out.append(stmt)
        if cls in SMALL_STATEMENTS:
            continue  # in a one-line suite: `if x: y = 1`
        for name in _BLOCK_FIELDS:
            part = getattr(stmt, name, None)
            if part is None:
                continue
            if type(part) is cst.If:  # elif
                _collect((part,), out)
            elif isinstance(part, (tuple, list)):  # except handlers, match cases
                for clause in part:
                    _collect(clause.body.body, out)
            else:  # a suite, or `else:`/`finally:` holding one
                suite = part if type(part) in SUITES else part.body
                _collect(suite.body, out)
