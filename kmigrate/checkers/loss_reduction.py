"""Loss reductions: `reduction="auto"` and the `Reduction` enum are gone (catalogue 48).

Keras 3 spells reductions as strings and has no "auto" (Keras 2's "auto" meant
"sum_over_batch_size" outside `tf.distribute` custom loops). Every enum member maps to one string.
"""

from __future__ import annotations

import re

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._train import enclosing_class, string_arg
from kmigrate.engine import Checker, FixSpec, NodeEdit
from kmigrate.names import canonical, dotted

KM_REDUCTION = "KM354"
KEYWORD = "reduction"

ENUMS = (
    "keras.losses.Reduction",
    "keras.losses.ReductionV2",
    "keras.utils.losses_utils.ReductionV2",
    "tensorflow.losses.Reduction",  # TF 2's tf.losses is the Keras losses module
)
MEMBERS = {
    "AUTO": "sum_over_batch_size",
    "SUM_OVER_BATCH_SIZE": "sum_over_batch_size",
    "NONE": "none",
    "SUM": "sum",
}


def _enum(name: str | None) -> tuple[str, str | None] | None:
    """``keras.losses.Reduction.NONE`` -> (enum, "NONE"); the bare enum -> (enum, None)."""
    if name is None:
        return None
    for enum in ENUMS:
        if name == enum:
            return enum, None
        if name.startswith(enum + "."):
            return enum, name[len(enum) + 1 :]
    return None


# A reference to the enum or one of its members ends in one of these names.
_ENUM_NAMES = frozenset(e.rsplit(".", 1)[-1] for e in ENUMS)
_LAST_PARTS = frozenset({*_ENUM_NAMES, *MEMBERS})


class LossReductionChecker(Checker):
    # ``reduction="auto"`` spells the keyword; a reference to the enum (or its import) resolves
    # to a name whose component ``Reduction``/``ReductionV2`` is spelled in the file.
    needles = _ENUM_NAMES | {KEYWORD}

    # ------------------------------------------------------------ reduction="auto"
    def visit_Call(self, node: cst.Call) -> None:
        arg = _calls.keyword(node, KEYWORD)
        if arg is None or string_arg(arg.value) != "auto":
            return
        callee = self.ctx.names.resolve_keras(node.func)
        if callee is None or not callee.startswith("keras.losses."):
            if not self._super_init_of_loss(node):
                return
            callee = "super().__init__"
        short = callee.rsplit(".", 1)[-1] if callee != "super().__init__" else callee
        quote = arg.value.quote  # type: ignore[attr-defined]
        self.ctx.report(
            KM_REDUCTION,
            arg.value,
            f'`{short}(reduction="auto")` raises `ValueError` in Keras 3, which has no "auto" '
            'reduction (Keras 2 used it for "sum_over_batch_size")',
            FixSpec(
                'Use "sum_over_batch_size"',
                (NodeEdit(arg.value, f"{quote}sum_over_batch_size{quote}"),),
            ),
        )

    def _super_init_of_loss(self, node: cst.Call) -> bool:
        func = node.func
        if not (
            isinstance(func, cst.Attribute)
            and func.attr.value == "__init__"
            and isinstance(func.value, cst.Call)
            and isinstance(func.value.func, cst.Name)
            and func.value.func.value == "super"
        ):
            return False
        cls = enclosing_class(self.ctx)
        return cls is not None and any(
            (self.ctx.names.resolve_keras(b.value) or "").startswith("keras.losses.")
            for b in cls.bases
        )

    # ------------------------------------------------------------ Reduction.X
    def visit_Attribute(self, node: cst.Attribute) -> None:
        value = node.value
        # `type(...) is`, not the slower isinstance() on libcst's ABC node classes.
        if node.attr.value not in _LAST_PARTS and not (
            type(value) is cst.Attribute and value.attr.value in _ENUM_NAMES
        ) and not (type(value) is cst.Name and value.value in _ENUM_NAMES):
            return  # cheap test first: this runs on every attribute of every file
        parent = self.ctx.parent()
        if isinstance(parent, cst.Attribute) and parent.value is node:
            return  # the longer chain is visited on its own
        if any(isinstance(a, (cst.Import, cst.ImportFrom)) for a in self.ctx.ancestors):
            return
        self._reference(node)

    def visit_Name(self, node: cst.Name) -> None:
        if node.value not in _LAST_PARTS:
            return
        parent = self.ctx.parent()
        if isinstance(parent, cst.Attribute) and (parent.value is node or parent.attr is node):
            return
        if any(isinstance(a, (cst.Import, cst.ImportFrom, cst.Param)) for a in self.ctx.ancestors):
            return
        if isinstance(parent, (cst.FunctionDef, cst.ClassDef, cst.AssignTarget)):
            return
        self._reference(node)

    def _reference(self, node: cst.Attribute | cst.Name) -> None:
        found = _enum(self.ctx.names.resolve(node))
        if found is None:
            return
        enum, member = found
        short = enum.rsplit(".", 1)[-1]
        if member in MEMBERS:
            value = MEMBERS[member]
            self.ctx.report(
                KM_REDUCTION,
                node,
                f"`{short}` is not in Keras 3's `keras.losses` (`AttributeError`/`ImportError`): "
                f'reductions are strings, `{short}.{member}` is "{value}"',
                FixSpec(f'Use the string "{value}"', (NodeEdit(node, f'"{value}"'),)),
            )
        else:
            self.ctx.report(
                KM_REDUCTION,
                node,
                f"`{short}` is not in Keras 3's `keras.losses` (`AttributeError`/`ImportError`): "
                "reductions are the strings \"sum_over_batch_size\", \"sum\", \"none\", \"mean\"",
            )

    # ------------------------------------------------------------ imports
    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return
        module_raw = dotted(node.module)
        if module_raw is None:
            return
        module = canonical(module_raw)
        for alias in node.names:
            name = f"{module}.{dotted(alias.name)}"
            if _enum(name) is None:
                continue
            local = alias.asname.name.value if alias.asname else dotted(alias.name)  # type: ignore[union-attr]
            fix = None
            if local is not None and not self._used(local, node):
                fix = self._drop_import(node, alias)
            self.ctx.report(
                KM_REDUCTION,
                alias,
                f"`{name.rsplit('.', 1)[-1]}` cannot be imported from `{module_raw}` in Keras 3 "
                "(`ImportError`): reductions are strings",
                fix,
            )

    def _used(self, local: str, imp: cst.ImportFrom) -> bool:
        """Whether ``local`` is referred to outside its import (after the other fixes)."""
        pattern = re.compile(rf"(?<![\w.]){re.escape(local)}\b")
        for stmt in self.ctx.module.body:
            if isinstance(stmt, cst.SimpleStatementLine) and any(s is imp for s in stmt.body):
                continue
            if pattern.search(self.ctx.code_for(stmt)):
                return True
        return False

    def _drop_import(self, node: cst.ImportFrom, alias: cst.ImportAlias) -> FixSpec | None:
        names = [a for a in node.names if a is not alias]  # type: ignore[union-attr]
        if names:
            last = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            new = node.with_changes(names=[*names[:-1], last])
            return FixSpec("Remove the import", (NodeEdit(node, new),))
        line, holder = self.ctx.parent(), self.ctx.parent(2)
        # Only a top-level import line may become empty: an emptied block would not parse.
        if (
            isinstance(line, cst.SimpleStatementLine)
            and len(line.body) == 1
            and isinstance(holder, cst.Module)
        ):
            return FixSpec("Remove the import", (NodeEdit(node, ""),))
        return None
