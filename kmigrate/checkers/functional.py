"""Functional-API construction: TF ops on KerasTensors (catalogue 40) and model inputs (52).

Which names hold KerasTensors is tracked in statement order, per function: the results of
``keras.Input(...)``, of layers applied to KerasTensors or to a function's parameters (a
helper that builds blocks), of ``model.output``/``.inputs`` and of anything computed from
them. Inside a layer's ``call`` the tensors are real and TF ops are fine, so nothing is seeded
there except explicit ``keras.Input`` calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

import libcst as cst

from kmigrate.checkers import _calls, _tf_ops
from kmigrate.engine import Checker, Context, FixSpec, NodeEdit

KM_TF_OP, KM_INPUTS, KM_NESTED = "KM308", "KM316", "KM317"

INPUTS = ("keras.Input", "keras.layers.Input")
INPUT_LAYER = "keras.layers.InputLayer"
MODELS = ("keras.Model", "keras.models.Model")
NOT_TENSORS = frozenset(
    "len int float str bool print isinstance hasattr getattr range type repr id sorted "
    "enumerate zip list tuple dict set".split()
)
SYMBOLIC_ATTRS = frozenset({"output", "outputs", "input", "inputs"})


@dataclass
class _Scope:
    params: frozenset[str] = frozenset()
    in_call: bool = False  # a layer's call(): tensors are real
    kt: set[str] = field(default_factory=set)


def _last(names: tuple[str, ...]) -> set[str]:
    return {n.rpartition(".")[2] for n in names}


class FunctionalChecker(Checker):
    # KM316/KM317 judge calls of `Input`/`InputLayer`/`Model`. KM308 needs a KerasTensor, and
    # every one starts from `Input(...)`, a `.input(s)`/`.output(s)` attribute, or a
    # `keras.layers` layer applied to a function's parameter (`layers` is spelled in its import).
    needles: ClassVar[frozenset[str]] = frozenset(
        _last((*INPUTS, INPUT_LAYER, *MODELS)) | SYMBOLIC_ATTRS | {"layers"}
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.scopes: list[_Scope] = [_Scope()]

    # ------------------------------------------------------------ scopes
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        params = node.params
        names = [p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)]
        method = type(self.ctx.parent(2)) is cst.ClassDef
        in_call = method and node.name.value in ("call", "__call__")
        # Methods' parameters are never seeded: `self` and real tensors in call()/build().
        self.scopes.append(_Scope(frozenset() if method else frozenset(names), in_call))

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.pop()

    # A lambda's parameters and a comprehension's targets shadow outer KerasTensor names
    # (`dataset.map(lambda x: tf.reshape(x, ...))` after `x = layers.Dense(...)(inputs)`).
    def _shadow(self, names: set[str]) -> None:
        outer = self.scopes[-1]
        self.scopes.append(_Scope(outer.params - names, outer.in_call, outer.kt - names))

    def visit_Lambda(self, node: cst.Lambda) -> None:
        params = node.params
        self._shadow({p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)})

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.scopes.pop()

    def _visit_comp(self, node: cst.BaseComp | cst.DictComp) -> None:
        names: set[str] = set()
        clause: cst.CompFor | None = node.for_in
        while clause is not None:
            names |= {n.value for n in _target_names(clause.target)}
            clause = clause.inner_for_in
        self._shadow(names)

    def _leave_comp(self, original_node: cst.BaseComp | cst.DictComp) -> None:
        self.scopes.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_comp
    leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comp

    # ------------------------------------------------------------ dataflow
    def is_kt(self, node: cst.BaseExpression | None) -> bool:
        # `type(node) is`: libcst nodes are ABCs, whose failing isinstance() is a Python-level
        # call, and this runs on every assigned value; none of these classes has subclasses.
        if type(node) is cst.Name:
            return node.value in self.scopes[-1].kt
        if type(node) is cst.Call:
            return self._call_is_kt(node)
        if type(node) is cst.Attribute:
            return node.attr.value in SYMBOLIC_ATTRS and self._is_keras_object(node.value)
        if type(node) is cst.List or type(node) is cst.Tuple or type(node) is cst.Set:
            return any(self.is_kt(e.value) for e in node.elements if type(e) is not cst.StarredElement)
        if type(node) is cst.Dict:
            return any(type(e) is cst.DictElement and self.is_kt(e.value) for e in node.elements)
        if type(node) is cst.Subscript:
            return self.is_kt(node.value)
        if type(node) is cst.BinaryOperation:
            return self.is_kt(node.left) or self.is_kt(node.right)
        if type(node) is cst.UnaryOperation:
            return self.is_kt(node.expression)
        if type(node) is cst.Comparison:
            return self.is_kt(node.left) or any(self.is_kt(c.comparator) for c in node.comparisons)
        if type(node) is cst.IfExp:
            return self.is_kt(node.body) or self.is_kt(node.orelse)
        return False

    def _is_keras_object(self, node: cst.BaseExpression) -> bool:
        names = self.ctx.names
        if type(node) is cst.Name:
            return (names.instance_of(node) or "").startswith("keras.")
        if type(node) is cst.Call:
            if type(node.func) is cst.Attribute and node.func.attr.value == "get_layer":
                return True
            return (names.resolve_keras(node.func) or "").startswith(("keras.applications.", *MODELS))
        if type(node) is cst.Subscript:  # model.layers[-1]
            return type(node.value) is cst.Attribute and node.value.attr.value == "layers"
        return False

    def _call_is_kt(self, node: cst.Call) -> bool:
        names = self.ctx.names
        scope = self.scopes[-1]
        if type(node.func) is cst.Name and node.func.value in NOT_TENSORS and names.raw(node.func) is None:
            return False
        callee = names.resolve(node.func)
        if callee in INPUTS:
            return True
        if callee is not None and callee.startswith(("keras.Model", "keras.models.", "keras.Sequential")):
            return False
        args = [a.value for a in node.args]
        if any(self.is_kt(a) for a in args):
            return True
        if scope.in_call or not any(type(a) is cst.Name and a.value in scope.params for a in args):
            return False
        # A layer applied to a helper function's parameter: the helper builds a functional block.
        func = node.func
        if type(func) is cst.Call:
            return (names.resolve_keras(func.func) or "").startswith("keras.layers.")
        return (names.instance_of(func) or "").startswith("keras.layers.")

    def _bind(self, target: cst.BaseExpression, kt: bool) -> None:
        scope = self.scopes[-1]
        if type(target) is cst.Name:
            (scope.kt.add if kt else scope.kt.discard)(target.value)
        elif type(target) is cst.Tuple or type(target) is cst.List:
            for el in target.elements:
                self._bind(el.value, kt)

    def leave_Assign(self, node: cst.Assign) -> None:
        kt = self.is_kt(node.value)
        for target in node.targets:
            self._bind(target.target, kt)

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, self.is_kt(node.value))

    def leave_AugAssign(self, node: cst.AugAssign) -> None:
        if self.is_kt(node.value):
            self._bind(node.target, True)

    # ------------------------------------------------------------ findings
    def visit_Call(self, node: cst.Call) -> None:
        callee = self.ctx.names.resolve(node.func)
        if callee is None:
            return
        # Canonical names from a Keras package start with `keras.`, so a `tensorflow.` callee is
        # a TF op, and the names below can only come from Keras.
        if callee.startswith("tensorflow."):
            if any(self.is_kt(a.value) for a in node.args):
                self._tf_op(node, callee)
            return
        if callee in INPUTS or callee == INPUT_LAYER:
            self._input(node, callee)
        elif callee in MODELS:
            self._nested(node)

    def _tf_op(self, node: cst.Call, callee: str) -> None:
        ctx = self.ctx
        short = ctx.code_for(node.func)
        message = (
            f"`{short}` on a KerasTensor raises `ValueError: A KerasTensor cannot be used as input to "
            "a TensorFlow function` when Keras 3 builds the model"
        )
        op = _tf_ops.lookup(callee)
        fix = None
        if op is not None:
            func, imports = ctx.spell(f"keras.ops.{op.new}")
            text = _tf_ops.rewrite(node, op, func, ctx.code_for)
            if text is not None:
                fix = FixSpec(f"Use `keras.ops.{op.new}`", (NodeEdit(node, text), *imports),
                              "safe" if op.safe else "unsafe")
        if fix is None:
            fix = self._lambda(node)
        ctx.report(KM_TF_OP, node, message, fix)

    def _lambda(self, node: cst.Call) -> FixSpec | None:
        """``tf.f(x, a)`` -> ``Lambda(lambda t: tf.f(t, a))(x)`` when only ``x`` is symbolic."""
        first = _calls.positional(node, 0)
        if first is None or first.star or not self.is_kt(first.value):
            return None
        if any(self.is_kt(a.value) for a in node.args if a is not first):
            return None
        var, code = "t", self.ctx.code_for(node)
        while re.search(rf"\b{var}\b", code):
            var = "_" + var
        inner = self.ctx.code_for(node.with_changes(args=[first.with_changes(value=cst.Name(var)),
                                                          *node.args[1:]]))
        layer, imports = self.ctx.spell("keras.layers.Lambda")
        text = f"{layer}(lambda {var}: {inner})({self.ctx.code_for(first.value)})"
        # Unsafe: the lambda runs again at every call of the model and reads the names it
        # captures then (a loop variable has moved on); and Lambda layers reload only with
        # safe_mode=False.
        return FixSpec("Wrap the TF op in a `Lambda` layer", (NodeEdit(node, text), *imports), "unsafe")

    # ------------------------------------------------------------ inputs (52)
    def _input(self, node: cst.Call, callee: str) -> None:
        ctx = self.ctx
        keyword = "tensor" if callee in INPUTS else "input_tensor"
        tensor = _calls.keyword(node, keyword)
        if tensor is not None and not self.is_kt(tensor.value) and not _is_none(tensor.value):
            ctx.report(
                KM_INPUTS,
                tensor,
                f"`{keyword}=` must be a KerasTensor in Keras 3: a TensorFlow tensor raises "
                f"`ValueError: Argument input_tensor must be a KerasTensor`",
            )
        if callee == INPUT_LAYER:
            shape = _calls.keyword(node, "input_shape")
            if shape is not None and _calls.keyword(node, "shape") is None:
                ctx.report(
                    KM_INPUTS,
                    shape,
                    "`InputLayer(input_shape=...)` only works in Keras 3 through a deprecated alias "
                    "(with a `UserWarning`); the argument is `shape`",
                    FixSpec("Rename `input_shape=` to `shape=`", (NodeEdit(shape.keyword, "shape"),)),  # type: ignore[arg-type]
                )

    def _nested(self, node: cst.Call) -> None:
        for name, index in (("inputs", 0), ("outputs", 1)):
            arg = _calls.argument(node, name, index)
            if arg is not None and _nesting(arg.value) > 1:
                self.ctx.report(
                    KM_NESTED,
                    arg.value,
                    f"Keras 3.0-3.3 functional models reject `{name}` nested more than one level deep "
                    "(`ValueError` at construction)",
                )


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _nesting(node: cst.BaseExpression) -> int:
    if isinstance(node, (cst.List, cst.Tuple)):
        return 1 + max((_nesting(e.value) for e in node.elements), default=0)
    if isinstance(node, cst.Dict):
        return 1 + max((_nesting(e.value) for e in node.elements if isinstance(e, cst.DictElement)), default=0)
    return 0


def _target_names(target: cst.BaseExpression) -> list[cst.Name]:
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for el in target.elements for n in _target_names(el.value)]
    return []
