"""Cut a runnable unit out of a module: the construct plus the module-level names it needs.

The module's top-level statements become a table of what each binds and what it refers to
(free names come from :mod:`symtable`, so scoping is Python's own). A unit is the transitive
closure of the construct's free names over that table, emitted in module order. Statements that
only do work (``model.fit(...)``, ``if __name__ == "__main__":``) are never included.
"""

from __future__ import annotations

import builtins
import symtable
from dataclasses import dataclass

import libcst as cst

_BUILTINS = frozenset(dir(builtins)) | {"__file__", "__name__", "__doc__"}


@dataclass(frozen=True)
class Statement:
    index: int
    code: str
    binds: frozenset[str]
    refers: frozenset[str]
    star: bool = False  # ``from x import *``: binds names we cannot see
    future: bool = False


def free_names(code: str) -> frozenset[str]:
    """Names ``code`` reads from the module namespace (minus builtins)."""
    try:
        table = symtable.symtable(code, "<kmigrate unit>", "exec")
    except SyntaxError:
        return frozenset()
    out: set[str] = set()

    def walk(t: symtable.SymbolTable) -> None:
        for s in t.get_symbols():
            if not s.is_referenced():
                continue
            if t.get_type() == "module" or s.is_global() or (
                t.get_type() == "class" and not s.is_local() and not s.is_free()
            ):
                out.add(s.get_name())
        for child in t.get_children():
            walk(child)

    walk(table)
    return frozenset(out - _BUILTINS)


def _bound_by(code: str) -> frozenset[str]:
    try:
        table = symtable.symtable(code, "<kmigrate unit>", "exec")
    except SyntaxError:
        return frozenset()
    return frozenset(s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported())


def _is_main_guard(node: cst.If) -> bool:
    test = node.test
    return (
        isinstance(test, cst.Comparison)
        and isinstance(test.left, cst.Name)
        and test.left.value == "__name__"
    )


def _import_alias_code(module: cst.Module, node: cst.Import | cst.ImportFrom, alias: cst.ImportAlias) -> str:
    alias_code = module.code_for_node(alias.with_changes(comma=cst.MaybeSentinel.DEFAULT))
    if isinstance(node, cst.Import):
        return f"import {alias_code}"
    dots = "." * len(node.relative)
    where = module.code_for_node(node.module) if node.module is not None else ""
    return f"from {dots}{where} import {alias_code}"


def _alias_binding(alias: cst.ImportAlias, is_from: bool) -> str:
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    name: cst.BaseExpression = alias.name
    while isinstance(name, cst.Attribute) and not is_from:
        name = name.value  # ``import a.b.c`` binds ``a``
    if isinstance(name, cst.Name):
        return name.value
    return name.attr.value if isinstance(name, cst.Attribute) else ""


def table(module: cst.Module) -> list[Statement]:
    """One entry per importable piece of the module's top level (an import alias is a piece)."""
    out: list[Statement] = []
    for index, stmt in enumerate(module.body):
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    out.extend(_imports(module, index, small))
                elif isinstance(small, (cst.Assign, cst.AnnAssign)):
                    code = module.code_for_node(small)
                    out.append(Statement(index, code, _bound_by(code), free_names(code)))
        elif isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
            code = module.code_for_node(stmt)
            out.append(Statement(index, code, frozenset({stmt.name.value}), free_names(code)))
        elif isinstance(stmt, (cst.If, cst.Try)) and not (isinstance(stmt, cst.If) and _is_main_guard(stmt)):
            code = module.code_for_node(stmt)
            out.append(Statement(index, code, _bound_by(code), free_names(code)))
    return out


def _imports(module: cst.Module, index: int, node: cst.Import | cst.ImportFrom) -> list[Statement]:
    if isinstance(node, cst.ImportFrom):
        future = node.module is not None and module.code_for_node(node.module) == "__future__"
        if isinstance(node.names, cst.ImportStar):
            return [Statement(index, module.code_for_node(node), frozenset(), frozenset(), star=True)]
        return [
            Statement(index, _import_alias_code(module, node, a), frozenset({_alias_binding(a, True)}),
                      frozenset(), future=future)
            for a in node.names
        ]
    return [
        Statement(index, _import_alias_code(module, node, a), frozenset({_alias_binding(a, False)}), frozenset())
        for a in node.names
    ]


@dataclass(frozen=True)
class Closure:
    source: str
    unresolved: frozenset[str]  # free names no module-level statement binds


def closure(statements: list[Statement], entry: str, before: int | None = None,
            extra: frozenset[str] = frozenset()) -> Closure:
    """The source that defines every module-level name ``entry`` (transitively) needs.

    ``before``: index of the statement holding the construct; among several bindings of a name
    the last one before it wins (the one in effect when the construct ran).
    """
    chosen: dict[int, Statement] = {}
    unresolved: set[str] = set()
    todo = list(free_names(entry) | extra)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        binders = [(i, s) for i, s in enumerate(statements) if name in s.binds]
        if not binders:
            unresolved.add(name)
            continue
        earlier = [b for b in binders if before is None or b[1].index < before or b[1].index == before]
        pos, stmt = (earlier or binders)[-1]
        if pos not in chosen:
            chosen[pos] = stmt
            todo.extend(stmt.refers - stmt.binds)
    stars = [(i, s) for i, s in enumerate(statements) if s.star]
    if unresolved and stars:
        chosen.update(dict(stars))
    futures = {i: s for i, s in enumerate(statements) if s.future}
    parts = [s.code.strip("\n") for _, s in sorted({**chosen, **futures}.items())]
    source = "\n".join(p for p in parts if p) + "\n"
    return Closure(source, frozenset(unresolved) if not stars else frozenset())
