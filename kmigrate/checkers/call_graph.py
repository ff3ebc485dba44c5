"""``call`` bodies that only worked because Keras 2 ran them through autograph or eagerly.

* Python ``if``/``while`` on a tensor in ``call`` (catalogue 32): Keras 2 converted them with
  autograph; Keras 3 traces ``call`` as written and raises ``OperatorNotAllowedInGraphError``.
* Eager-only ``call`` (``.numpy()``, numpy on tensors, ``dynamic=True``) without
  ``compute_output_shape`` (catalogue 53): Keras 3 traces every layer symbolically.

A value is a tensor when it is a tensor argument of ``call`` (every parameter but ``self`` and
``training``, and those defaulting to a Python literal), an item or arithmetic of one, or the
result of a ``tf.*``/``K.*``/``keras.ops.*`` function applied to one, also through local names.
Shapes, dtypes and ``is None`` tests are static and never flagged.
"""

from __future__ import annotations

import libcst as cst

from kmigrate.checkers._classes import KerasClass, keras_classes
from kmigrate.engine import Checker, Context

KM_CONTROL_FLOW, KM_EAGER_ONLY = "KM210", "KM329"
TENSOR_MODULES = ("tensorflow.", "keras.backend.", "keras.ops.")
# Functions of those modules that return Python values, not tensors.
PYTHON_VALUED = frozenset(
    {
        "tensorflow.is_tensor", "tensorflow.executing_eagerly", "tensorflow.TensorShape",
        "tensorflow.as_dtype", "tensorflow.compat.dimension_value", "tensorflow.get_static_value",
        "keras.backend.ndim", "keras.backend.int_shape", "keras.backend.dtype",
        "keras.backend.is_keras_tensor", "keras.backend.is_sparse", "keras.backend.is_tensor",
        "keras.backend.standardize_dtype", "keras.ops.shape", "keras.ops.ndim", "keras.ops.dtype",
        "keras.ops.is_tensor",
    }
)
STATIC_ATTRS = frozenset({"shape", "dtype", "ndim", "name", "device", "rank", "sparse", "ragged"})
LITERALS = (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)


class _Tensors:
    """Which expressions of one ``call`` body are tensors."""

    def __init__(self, ctx: Context, names: set[str]) -> None:
        self.ctx = ctx
        self.names = names

    def is_tensor(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Name):
            return node.value in self.names
        if isinstance(node, cst.Subscript):
            return self.is_tensor(node.value)
        if isinstance(node, cst.BinaryOperation):
            return self.is_tensor(node.left) or self.is_tensor(node.right)
        if isinstance(node, cst.UnaryOperation):
            return self.is_tensor(node.expression)
        if isinstance(node, cst.BooleanOperation):
            return self.is_tensor(node.left) or self.is_tensor(node.right)
        if isinstance(node, cst.Comparison):
            if any(isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for c in node.comparisons):
                return False
            return self.is_tensor(node.left) or any(self.is_tensor(c.comparator) for c in node.comparisons)
        if isinstance(node, cst.Call):
            if isinstance(node.func, cst.Name) and node.func.value == "bool":
                return any(self.is_tensor(a.value) for a in node.args)
            name = self.ctx.names.resolve(node.func) or ""
            if name.startswith(TENSOR_MODULES) and name not in PYTHON_VALUED:
                return any(self.is_tensor(a.value) for a in node.args)
        return False

    def learn(self, body: cst.CSTNode) -> None:
        """Add local names assigned tensors (flow-insensitive, only ever adding)."""
        assigns: list[cst.Assign] = []

        class Collect(cst.CSTVisitor):
            def visit_Assign(self, node: cst.Assign) -> None:
                assigns.append(node)

            def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
                return False

        body.visit(Collect())
        for _ in range(3):
            before = len(self.names)
            for a in assigns:
                if self.is_tensor(a.value):
                    for t in a.targets:
                        if isinstance(t.target, cst.Name):
                            self.names.add(t.target.value)
            if len(self.names) == before:
                break


def _tensor_params(func: cst.FunctionDef) -> set[str]:
    params = func.params
    out = set()
    for p in (*params.posonly_params, *params.params, *params.kwonly_params)[1:]:
        if p.name.value == "training":
            continue
        default = p.default
        if default is not None and (
            isinstance(default, LITERALS)
            or (isinstance(default, cst.Name) and default.value in ("True", "False"))
        ):
            continue
        out.add(p.name.value)
    return out


class _Scan(cst.CSTVisitor):
    """Control-flow tests on tensors and eager-only constructs in a ``call`` body."""

    def __init__(self, tensors: _Tensors) -> None:
        self.tensors = tensors
        self.tests: list[tuple[str, cst.BaseExpression]] = []
        self.eager: list[cst.CSTNode] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # nested functions may be tf.function-decorated: not ours to judge

    def visit_If(self, node: cst.If) -> None:
        if self.tensors.is_tensor(node.test):
            self.tests.append(("if {}", node.test))

    def visit_While(self, node: cst.While) -> None:
        if self.tensors.is_tensor(node.test):
            self.tests.append(("while {}", node.test))

    def visit_IfExp(self, node: cst.IfExp) -> None:
        if self.tensors.is_tensor(node.test):
            self.tests.append(("... if {} else ...", node.test))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "numpy" and not node.args:
            self.eager.append(node)
            return
        name = self.tensors.ctx.names.resolve(func) or ""
        plain = isinstance(func, cst.Name) and func.value in ("float", "int")
        if (name.startswith("numpy.") or plain) and any(self.tensors.is_tensor(a.value) for a in node.args):
            self.eager.append(node)


class CallGraphChecker(Checker):
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if not (self.ctx.enabled(KM_CONTROL_FLOW) or self.ctx.enabled(KM_EAGER_ONLY)):
            return
        classes = keras_classes(self.ctx)
        info = classes.of(node) if classes else None
        if info is None or info.kind == "metric":
            return
        call = info.own_method("call")
        scan = None
        if call is not None:
            tensors = _Tensors(self.ctx, _tensor_params(call))
            tensors.learn(call.body)
            scan = _Scan(tensors)
            call.body.visit(scan)
            for form, test in scan.tests:
                shown = form.format(self.ctx.code_for(test))
                self.ctx.report(
                    KM_CONTROL_FLOW,
                    test,
                    f"Keras 3 does not convert `call` with autograph: `{shown}` on a tensor raises "
                    "`OperatorNotAllowedInGraphError` "
                    "when the layer is traced (functional construction, `fit`, `predict`)",
                )
        if info.kind != "layer":
            return
        dynamic = self._dynamic_true(info)
        eager = bool(scan and scan.eager)
        if not (eager or dynamic) or classes.find_method(info, "compute_output_shape") is not None:
            return
        if classes.find_method(info, "compute_output_spec") is not None:
            return
        why = "its `call` needs eager values" if eager else "it was marked `dynamic=True`"
        self.ctx.report(
            KM_EAGER_ONLY,
            call.name if call is not None else node.name,
            f"Keras 3 traces every layer symbolically and {why}: using `{info.name}` in a functional "
            "model raises `NotImplementedError: Could not automatically infer the output shape` until "
            "it implements `compute_output_shape` (and `fit` needs `compile(run_eagerly=True)`)",
        )

    def _dynamic_true(self, info: KerasClass) -> bool:
        init = info.own_method("__init__")
        if init is None:
            return False
        found = False

        class Find(cst.CSTVisitor):
            def visit_Arg(self, node: cst.Arg) -> None:
                nonlocal found
                if (
                    node.keyword is not None
                    and node.keyword.value == "dynamic"
                    and isinstance(node.value, cst.Name)
                    and node.value.value == "True"
                ):
                    found = True

        init.body.visit(Find())
        return found
