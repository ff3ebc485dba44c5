"""``build(input_shape)`` treating its argument as a ``TensorShape`` (catalogue 39).

Keras 3 passes plain tuples to ``build`` and ``compute_output_shape``. The common TensorShape
idioms have exact tuple forms (``as_list()`` -> ``list(s)``, ``rank``/``ndims`` -> ``len(s)``,
``s[i].value`` -> ``s[i]``, ``s[:-1] + [n]`` -> ``tuple(s[:-1]) + (n,)``); any other TensorShape method
is reached through ``tf.TensorShape(s)``, which accepts a tuple.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from kmigrate.checkers._classes import keras_classes
from kmigrate.engine import Checker, Context, FixSpec, InsertImport, NodeEdit

KM_BUILD_SHAPE = "KM324"
METHODS = ("build", "compute_output_shape")
SHAPE_METHODS = frozenset(
    {
        "num_elements", "is_fully_defined", "merge_with", "concatenate", "with_rank",
        "with_rank_at_least", "with_rank_at_most", "is_compatible_with", "assert_has_rank",
        "assert_is_compatible_with", "assert_is_fully_defined", "assert_same_rank",
        "most_specific_compatible_shape", "dims", "is_subtype_of",
    }
)


@dataclass
class _Frame:
    """One ``build``/``compute_output_shape``: its shape parameter and the findings in it."""

    name: str
    rebound: bool = False
    pending: list[tuple[cst.CSTNode, str, FixSpec]] = field(default_factory=list)


class BuildShapeChecker(Checker):
    """Collects during the shared visit; reports when the method ends, unless the shape
    parameter was rebound in it (then it may well be a TensorShape again)."""

    # Findings are only made inside a method of one of these names (``s[:-1] + [n]`` has no
    # word of its own).
    needles = frozenset(METHODS)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._frames: list[_Frame | None] = []  # one per enclosing def

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._frames.append(self._frame_for(node))

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        frame = self._frames.pop()
        if frame is not None and not frame.rebound:
            for where, message, fix in frame.pending:
                self.ctx.report(KM_BUILD_SHAPE, where, message, fix)

    def _frame_for(self, node: cst.FunctionDef) -> _Frame | None:
        if node.name.value not in METHODS or not self.ctx.enabled(KM_BUILD_SHAPE):
            return None
        owner = self.ctx.parent(2)
        if not (isinstance(self.ctx.parent(), cst.IndentedBlock) and isinstance(owner, cst.ClassDef)):
            return None
        info = keras_classes(self.ctx).of(owner)
        if info is None or info.kind == "metric":
            return None
        params = node.params.params
        return _Frame(params[1].name.value) if len(params) == 2 else None

    # ------------------------------------------------------------ rebinding
    def _bind(self, target: cst.BaseExpression) -> None:
        frame = self._frames[-1] if self._frames else None
        if frame is None:
            return
        if isinstance(target, cst.Name) and target.value == frame.name:
            frame.rebound = True
        elif isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._bind(el.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._bind(node.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target)

    # ------------------------------------------------------------ findings
    def _current(self) -> str | None:
        frame = self._frames[-1] if self._frames else None
        return frame.name if frame is not None else None

    def _is_shape(self, node: cst.BaseExpression) -> bool:
        name = self._current()
        return name is not None and isinstance(node, cst.Name) and node.value == name

    def _method_name(self) -> str:
        for anc in reversed(self.ctx.ancestors):
            if isinstance(anc, cst.FunctionDef):
                return anc.name.value
        return "build"

    def _report(self, node: cst.CSTNode, what: str, new: str, imports: tuple[InsertImport, ...] = ()) -> None:
        frame = self._frames[-1]
        assert frame is not None
        frame.pending.append((
            node,
            f"Keras 3 passes `{self._method_name()}` a tuple, not a `TensorShape`: {what}",
            FixSpec(f"Use the tuple form `{new}`", (NodeEdit(node, new), *imports)),
        ))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self._current() is None:
            return
        code = self.ctx.code_for
        attr = node.attr.value
        if self._is_shape(node.value):
            shape = code(node.value)
            parent = self.ctx.parent()
            called = isinstance(parent, cst.Call) and parent.func is node
            if attr == "as_list" and called and not parent.args:  # type: ignore[union-attr]
                self._report(parent, f"`{shape}.as_list()` raises `AttributeError`", f"list({shape})")  # type: ignore[arg-type]
            elif attr in ("rank", "ndims") and not called:
                self._report(node, f"`{shape}.{attr}` raises `AttributeError`", f"len({shape})")
            elif attr in SHAPE_METHODS:
                wrapper, imports = self.ctx.spell("tensorflow.TensorShape")
                self._report(
                    node.value,
                    f"`{shape}.{attr}{'()' if called else ''}` raises `AttributeError`",
                    f"{wrapper}({shape})",
                    imports,
                )
        elif attr == "value" and isinstance(node.value, cst.Subscript) and self._is_shape(node.value.value):
            item = code(node.value)
            self._report(node, f"`{item}` is already an int or None: `.value` raises `AttributeError`", item)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if self._current() is None or not isinstance(node.operator, cst.Add):
            return
        left, right = node.left, node.right
        code = self.ctx.code_for
        # tuple(...) also covers a list shape (``model.build([None, 3])``) and a TensorShape.
        if self._is_shape_slice(left) and isinstance(right, cst.List):
            new = f"tuple({code(left)}) + {_as_tuple(right, code)}"
            self._report(node, "a tuple plus a list raises `TypeError`", new)
        elif isinstance(left, cst.List) and self._is_shape_slice(right):
            new = f"{_as_tuple(left, code)} + tuple({code(right)})"
            self._report(node, "a list plus a tuple raises `TypeError`", new)

    def _is_shape_slice(self, node: cst.BaseExpression) -> bool:
        if self._is_shape(node):
            return True
        return (
            isinstance(node, cst.Subscript)
            and self._is_shape(node.value)
            and any(isinstance(s.slice, cst.Slice) for s in node.slice)
        )


def _as_tuple(node: cst.List, code_for: Callable[[cst.CSTNode], str]) -> str:
    items = [("*" if isinstance(el, cst.StarredElement) else "") + code_for(el.value)
             for el in node.elements]
    if len(items) == 1:
        return f"({items[0]},)"
    return "(" + ", ".join(items) + ")"
