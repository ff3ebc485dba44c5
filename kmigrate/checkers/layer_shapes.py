"""Layer shapes Keras 3 no longer infers or exposes (catalogue 33).

``Embedding(input_length=N)`` used to give a Sequential model its input shape; Keras 3 ignores
it, so the model stays unbuilt. ``layer.input_shape``/``layer.output_shape`` are gone from
layers (models keep them).
"""

from __future__ import annotations

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.engine import Checker, Context, FixSpec, NodeEdit

KM_INPUT_LENGTH, KM_SHAPE_ATTR = "KM306", "KM307"
SEQUENTIAL = ("keras.Sequential", "keras.models.Sequential")
SHAPE_ATTRS = {"input_shape": "input", "output_shape": "output"}
SHAPE_KWARGS = ("input_shape", "batch_input_shape", "input_dim")
INPUT_LENGTH = "input_length"
_EMBEDDING = ("Embedding",)
_COMPS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)


def _layers_attr(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Attribute) and node.attr.value == "layers"


class LayerShapeChecker(Checker):
    # KM307 reads one of the shape attributes, KM306 passes the keyword.
    needles = frozenset(SHAPE_ATTRS) | {INPUT_LENGTH}

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.layer_vars: list[str] = []  # loop variables over ``model.layers``

    # ------------------------------------------------------------ layer.output_shape
    def _push_loop(self, target: cst.BaseExpression, iterable: cst.BaseExpression) -> None:
        self.layer_vars.append(target.value if isinstance(target, cst.Name) and _layers_attr(iterable) else "")

    def visit_For(self, node: cst.For) -> None:
        self._push_loop(node.target, node.iter)

    def leave_For(self, node: cst.For) -> None:
        self.layer_vars.pop()

    def _visit_comp(self, node: cst.BaseExpression) -> None:
        self._push_loop(node.for_in.target, node.for_in.iter)  # type: ignore[attr-defined]

    def _leave_comp(self, node: cst.BaseExpression) -> None:
        self.layer_vars.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_comp
    leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comp

    def _is_layer(self, node: cst.BaseExpression) -> bool:
        if type(node) is cst.Subscript:  # model.layers[i]
            return _layers_attr(node.value)
        if type(node) is cst.Call:  # model.get_layer("name")
            return type(node.func) is cst.Attribute and node.func.attr.value == "get_layer"
        if type(node) is cst.Name:
            if node.value in self.layer_vars:
                return True
            return (self.ctx.names.instance_of(node) or "").startswith("keras.layers.")
        return False

    def visit_Attribute(self, node: cst.Attribute) -> None:
        new = SHAPE_ATTRS.get(node.attr.value)
        if new is None or not self._is_layer(node.value):
            return
        parent = self.ctx.parent()
        if isinstance(parent, (cst.AssignTarget, cst.AugAssign)) or (
            isinstance(parent, cst.AnnAssign) and parent.target is node
        ):
            return
        if not self.ctx.names.imports_keras:
            return
        self.ctx.report(
            KM_SHAPE_ATTR,
            node,
            f"Keras 3 layers have no `{node.attr.value}` attribute (`AttributeError`); "
            f"use `{new}.shape` (models still have `{node.attr.value}`)",
            FixSpec(f"Use `.{new}.shape`", (NodeEdit(node.attr, f"{new}.shape"),)),
        )

    # ------------------------------------------------------------ Embedding(input_length=)
    def visit_Call(self, node: cst.Call) -> None:
        if not _calls.may_resolve_to(node.func, _EMBEDDING) or (
            self.ctx.names.resolve_keras(node.func) != "keras.layers.Embedding"
        ):
            return
        arg = _calls.keyword(node, INPUT_LENGTH)
        if arg is None:
            return
        fix = self._input_length_fix(node, arg)
        self.ctx.report(
            KM_INPUT_LENGTH,
            arg,
            "`Embedding(input_length=...)` is ignored by Keras 3 (with a warning): a Sequential model "
            "that starts with it stays unbuilt, so `summary()`, `count_params()` and `.output_shape` "
            "fail until it has seen data",
            fix,
        )

    def _input_length_fix(self, node: cst.Call, arg: cst.Arg) -> FixSpec | None:
        ctx = self.ctx
        without = ctx.code_for(_calls.remove(node, "input_length"))
        drop = FixSpec("Remove `input_length=`", (NodeEdit(node, without),))
        parent, grand = ctx.parent(), ctx.parent(2)
        if isinstance(parent, cst.Call) and parent.func is node:
            return drop  # applied right away (functional): the length never mattered
        first = self._first_of_sequential()
        if first is None:
            return None
        if not first or any(_calls.keyword(node, k) is not None for k in SHAPE_KWARGS):
            return drop
        length = ctx.code_for(arg.value)
        input_fn, imports = ctx.spell("keras.Input", like=self._keras_like(node))
        new_input = f"{input_fn}(shape=({length},))"
        if isinstance(parent, cst.Element):  # Sequential([Embedding(...), ...])
            lst = grand
            sep = ", "
            if isinstance(lst, cst.List) and isinstance(lst.lbracket.whitespace_after, cst.ParenthesizedWhitespace):
                sep = "," + ctx.module.default_newline + self._indent(lst.lbracket.whitespace_after)
            text = f"{new_input}{sep}{without}"
            return FixSpec("Start the model with `keras.Input(shape=(input_length,))`",
                           (NodeEdit(node, text), *imports))
        add_call, stmt = grand, ctx.parent(3)
        assert isinstance(add_call, cst.Call) and isinstance(add_call.func, cst.Attribute)
        obj = ctx.code_for(add_call.func.value)
        text = (f"{obj}.add({new_input})" + ctx.module.default_newline + self._indent(None)
                + f"{obj}.add({without})")
        return FixSpec("Start the model with `keras.Input(shape=(input_length,))`", (NodeEdit(stmt, text), *imports))

    def _keras_like(self, node: cst.Call) -> cst.BaseExpression | None:
        # ``layers.Embedding`` -> spell Input through the same Keras; a bare imported name
        # has no root to follow, so the module's own spelling is used.
        return node.func if isinstance(node.func, cst.Attribute) else None

    def _indent(self, ws: cst.ParenthesizedWhitespace | None) -> str:
        blocks = "".join(
            (a.indent if a.indent is not None else self.ctx.module.default_indent)
            for a in self.ctx.ancestors
            if isinstance(a, cst.IndentedBlock)
        )
        if ws is None:
            return blocks
        return (blocks if ws.indent else "") + ws.last_line.value

    def _first_of_sequential(self) -> bool | None:
        """True: first layer of a Sequential; False: a later layer; None: cannot tell."""
        ctx = self.ctx
        parent, grand = ctx.parent(), ctx.parent(2)
        if isinstance(parent, cst.Element) and isinstance(grand, (cst.List, cst.Tuple)):
            arg, call = ctx.parent(3), ctx.parent(4)
            if isinstance(arg, cst.Arg) and isinstance(call, cst.Call) and (
                ctx.names.resolve_keras(call.func) in SEQUENTIAL
            ):
                return grand.elements[0] is parent
            return None
        if not (isinstance(parent, cst.Arg) and isinstance(grand, cst.Call)):
            return None
        func = grand.func
        expr, line, block = ctx.parent(3), ctx.parent(4), ctx.parent(5)
        if not (isinstance(func, cst.Attribute) and func.attr.value == "add" and isinstance(func.value, cst.Name)
                and isinstance(expr, cst.Expr) and isinstance(line, cst.SimpleStatementLine)
                and isinstance(block, (cst.Module, cst.IndentedBlock)) and len(line.body) == 1):
            return None
        name = func.value.value
        for stmt in reversed(list(block.body[: list(block.body).index(line)])):
            if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
                return None
            small = stmt.body[0]
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                f = small.value.func
                if isinstance(f, cst.Attribute) and f.attr.value == "add" and ctx.code_for(f.value) == name:
                    return False
                continue
            if isinstance(small, cst.Assign) and any(
                isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets
            ):
                value = small.value
                if isinstance(value, cst.Call) and ctx.names.resolve_keras(value.func) in SEQUENTIAL:
                    return not any(a.keyword is None or a.keyword.value == "layers" for a in value.args)
                return None
        return None
