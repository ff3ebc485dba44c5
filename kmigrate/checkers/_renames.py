"""Replacing a removed Keras class by another one, at its call sites and in its import.

``keras.layers.ThresholdedReLU(theta=t)`` -> ``keras.layers.ReLU(threshold=t)``: an attribute
chain is re-spelled through the same root; a bare name bound by ``from x import Old`` needs its
import rewritten as well. Each call-site fix carries the import edit too (identical edits are
applied once), so that a call is never renamed without its import.
"""

from __future__ import annotations

import libcst as cst

from kmigrate.engine import Context, InsertImport, NodeEdit
from kmigrate.names import dotted, keras_origin
from kmigrate.walk import scan


def _top_level_import(ctx: Context, local: str) -> tuple[cst.ImportFrom, cst.ImportAlias] | None:
    for stmt in ctx.module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                for alias in small.names:
                    name = alias.asname.name.value if alias.asname else dotted(alias.name)  # type: ignore[union-attr]
                    if name == local:
                        return small, alias
    return None


def import_edit(
    ctx: Context, node: cst.ImportFrom, alias: cst.ImportAlias, new: str, top_level: bool = True
) -> NodeEdit | None:
    """Rewrite ``from <old module> import Old [as x]`` so that it imports canonical ``new``.

    With other names in the same statement, the statement is split in two lines, which needs
    no indentation only at the top level.
    """
    module_raw = dotted(node.module) if node.module is not None else None
    origin = keras_origin(module_raw) if module_raw else None
    if origin is None or node.relative or isinstance(node.names, cst.ImportStar):
        return None
    new_module, _, new_short = (origin + new[len("keras"):]).rpartition(".")
    old_short = dotted(alias.name)
    local = alias.asname.name.value if alias.asname else old_short  # type: ignore[union-attr]
    as_part = f" as {local}" if local not in (old_short, new_short) else ""
    if new_module == module_raw:  # same module: rename in place, keep the statement's layout
        return NodeEdit(alias, f"{new_short}{as_part}")
    line = f"from {new_module} import {new_short}{as_part}"
    others = [a for a in node.names if a is not alias]
    if others:
        if not top_level:
            return None
        kept = ", ".join(ctx.code_for(a.name) + (f" as {a.asname.name.value}" if a.asname else "")  # type: ignore[union-attr]
                         for a in others)
        line = f"from {module_raw} import {kept}{ctx.module.default_newline}{line}"
    return NodeEdit(node, line)


class _Uses(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.names = 0
        self.calls = 0

    def visit_Name(self, node: cst.Name) -> None:
        self.names += node.value == self.name

    def visit_Call(self, node: cst.Call) -> None:
        self.calls += isinstance(node.func, cst.Name) and node.func.value == self.name


def only_called(ctx: Context, local: str) -> bool:
    """Every use of ``local`` besides its import is a call (which the caller rewrites)."""
    uses = _Uses(local)
    scan(ctx.module, uses)
    return uses.names == uses.calls + 1


def swap_class(
    ctx: Context, func: cst.BaseExpression, new: str
) -> tuple[str, tuple[NodeEdit | InsertImport, ...]] | None:
    """(new callee text, extra edits) for a call whose callee ``func`` names a removed class."""
    if isinstance(func, cst.Attribute):
        text, imports = ctx.spell(new, like=func)
        return text, imports
    if not isinstance(func, cst.Name):
        return None
    found = _top_level_import(ctx, func.value)
    if found is None or not only_called(ctx, func.value):
        return None
    edit = import_edit(ctx, found[0], found[1], new)
    if edit is None:
        return None
    old_short = dotted(found[1].name)
    keep_alias = func.value != old_short
    return (func.value if keep_alias else new.rsplit(".", 1)[-1]), (edit,)


def report_import(ctx: Context, node: cst.ImportFrom, old: str) -> list[tuple[cst.ImportAlias, str]]:
    """The aliases of ``node`` that import canonical ``old`` (with their canonical names)."""
    if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
        return []
    module_raw = dotted(node.module)
    if module_raw is None or keras_origin(module_raw) is None:
        return []
    module = "keras" + module_raw[len(keras_origin(module_raw) or ""):]
    return [(a, f"{module}.{dotted(a.name)}") for a in node.names if f"{module}.{dotted(a.name)}" == old]


def import_fix(ctx: Context, node: cst.ImportFrom, alias: cst.ImportAlias, new: str) -> NodeEdit | None:
    """The import edit for the alias being visited, when every use of its name gets rewritten."""
    local = alias.asname.name.value if alias.asname else dotted(alias.name)  # type: ignore[union-attr]
    if local is None or not only_called(ctx, local):
        return None
    return import_edit(ctx, node, alias, new, top_level=len(ctx.ancestors) == 3)
