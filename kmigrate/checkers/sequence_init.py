"""`Sequence` subclasses whose `__init__` skips `super().__init__(**kwargs)` (catalogue 54)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from kmigrate.checkers._sequences import (
    SEQUENCE_BASES,
    SequenceClass,
    sequence_classes,
    super_init_fixable,
)
from kmigrate.checkers._train import statement_indent, string_arg
from kmigrate.engine import Checker, FixSpec, NodeEdit

KM_SUPER = "KM355"


def _last_param_tail(params: cst.Parameters) -> cst.CSTNode | None:
    """The right-most node of the last parameter (its default, annotation or name)."""
    order: list[cst.Param] = [*params.posonly_params, *params.params]
    if isinstance(params.star_arg, cst.Param):
        order.append(params.star_arg)
    order += list(params.kwonly_params)
    if not order or (params.posonly_params and order[-1] is params.posonly_params[-1]):
        return None  # nothing, or a trailing `/`: leave the signature to the author
    last = order[-1]
    if last.default is not None:
        return last.default
    if last.annotation is not None:
        return last.annotation.annotation
    return last.name


class SequenceInitChecker(Checker):
    # Only classes whose base chain starts at a resolved `Sequence` are judged.
    needles: ClassVar[frozenset[str]] = frozenset(n.rpartition(".")[2] for n in SEQUENCE_BASES)
    _sequences: dict[str, SequenceClass] | None = None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.name.value != "__init__":
            return
        cls = self.ctx.parent(2)
        if not isinstance(cls, cst.ClassDef):
            return
        if self._sequences is None:
            self._sequences = sequence_classes(self.ctx)
        seq = self._sequences.get(cls.name.value)
        if seq is None or seq.init is not node or seq.calls_super:
            return
        message = (
            f"`{cls.name.value}.__init__` does not call `super().__init__(**kwargs)`: Keras 3 "
            "warns on every use, and its `workers`/`use_multiprocessing`/`max_queue_size` "
            "settings can only be passed through that call"
        )
        if not seq.direct:
            # A local parent's constructor needs its own arguments: that call is for the author.
            message += " (call the parent class's `__init__` with its arguments)"
        self.ctx.report(
            KM_SUPER, node.name, message, self._fix(node) if super_init_fixable(seq) else None
        )

    def _fix(self, fn: cst.FunctionDef) -> FixSpec | None:
        body = fn.body
        assert isinstance(body, cst.IndentedBlock)
        star = fn.params.star_kwarg
        edits: list[NodeEdit] = []
        if isinstance(star, cst.Param):
            kwargs = star.name.value
        else:
            kwargs = "kwargs"
            tail = _last_param_tail(fn.params)
            if tail is None:
                return None
            # An edit at the end of the last parameter keeps the signature's own layout.
            edits.append(NodeEdit(tail, f"{self.ctx.code_for(tail)}, **{kwargs}"))
        step = body.indent if body.indent is not None else self.ctx.module.default_indent
        indent = statement_indent(self.ctx) + step
        nl = self.ctx.module.default_newline
        call = f"super().__init__(**{kwargs})"
        first = body.body[0]
        if (
            isinstance(first, cst.SimpleStatementLine)
            and isinstance(first.body[0], cst.Expr)
            and string_arg(first.body[0].value) is not None
        ):
            docstring = "".join(self.ctx.code_for(s) for s in first.body)
            edits.append(NodeEdit(first, f"{docstring}{nl}{indent}{call}"))
        else:
            header = self.ctx.code_for(body.header)
            edits.append(NodeEdit(body.header, f"{header}{indent}{call}{nl}"))
        return FixSpec("Call `super().__init__(**kwargs)` first", tuple(edits))
