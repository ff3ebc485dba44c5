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

from dataclasses import dataclass, field
from typing import ClassVar

import libcst as cst

from kmigrate.checkers._classes import KerasClass, keras_classes
from kmigrate.engine import Checker, Context

KM_CONTROL_FLOW, KM_EAGER_ONLY = "KM210", "KM329"
TENSOR_MODULES = ("tensorflow.", "keras.backend.", "keras.ops.")
# Functions of those modules that return Python values, not tensors.
PYTHON_VALUED = frozenset(
    {
        "tensorflow.is_tensor", "tensorflow.is_symbolic_tensor", "tensorflow.executing_eagerly",
        "tensorflow.inside_function", "tensorflow.TensorShape", "tensorflow.TensorSpec",
        "tensorflow.as_dtype", "tensorflow.type_spec_from_value", "tensorflow.compat.dimension_value",
        "tensorflow.get_static_value", "tensorflow.shape_n",
        "keras.backend.ndim", "keras.backend.int_shape", "keras.backend.dtype",
        "keras.backend.is_keras_tensor", "keras.backend.is_sparse", "keras.backend.is_tensor",
        "keras.backend.standardize_dtype", "keras.ops.shape", "keras.ops.ndim", "keras.ops.dtype",
        "keras.ops.is_tensor",
    }
)
# Modules whose functions inspect structures or configuration and return Python values.
PYTHON_VALUED_MODULES = ("tensorflow.nest.", "tensorflow.config.", "tensorflow.distribute.",
                         "tensorflow.io.gfile.", "tensorflow.autograph.", "tensorflow.debugging.")
COMPAT = ("tensorflow.compat.v1.", "tensorflow.compat.v2.")
GUARDS = ("isinstance(", "executing_eagerly", "backend(", "hasattr(", "is_tensor(")
STATIC_ATTRS = frozenset({"shape", "dtype", "ndim", "name", "device", "rank", "sparse", "ragged"})
LITERALS = (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)


class _Tensors:
    """Which expressions of one ``call`` body are tensors."""

    def __init__(self, ctx: Context, names: set[str]) -> None:
        self.ctx = ctx
        self.names = names
        self.params = frozenset(names)

    def is_tensor_test(self, node: cst.BaseExpression) -> bool:
        """A tensor used as a condition; the bare truth of a parameter is not judged, since a
        parameter may as well hold a list of tensors (``if states:``)."""
        bare = node.expression if isinstance(node, cst.UnaryOperation) else node
        if isinstance(bare, cst.Name) and bare.value in self.params:
            return False
        return self.is_tensor(node)

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
            if name.startswith(COMPAT):
                name = "tensorflow." + name[len(COMPAT[0]):]
            if (
                name.startswith(TENSOR_MODULES)
                and name not in PYTHON_VALUED
                and not name.startswith(PYTHON_VALUED_MODULES)
            ):
                return any(self.is_tensor(a.value) for a in node.args)
        return False

    def learn(self, assigns: list[cst.Assign]) -> None:
        """Add local names assigned tensors (flow-insensitive, only ever adding)."""
        for _ in range(3):
            before = len(self.names)
            for a in assigns:
                if self.is_tensor(a.value):
                    for t in a.targets:
                        if isinstance(t.target, cst.Name):
                            self.names.add(t.target.value)
            if len(self.names) == before:
                break


@dataclass
class _Frame:
    """What the main visit collected in one ``call`` (or ``__init__``) of a Keras class."""

    cls: KerasClass
    func: cst.FunctionDef
    assigns: list[cst.Assign] = field(default_factory=list)
    tests: list[tuple[str, cst.BaseExpression]] = field(default_factory=list)
    eager_candidates: list[cst.Call] = field(default_factory=list)


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


class CallGraphChecker(Checker):
    """Collects during the shared visit; judges when a ``call`` or a class ends."""

    # Both rules judge a `def call` of a Keras class, or (KM329) a `dynamic=True` argument.
    needles: ClassVar[frozenset[str]] = frozenset({"call", "dynamic"})

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._frames: list[_Frame | None] = []  # one per enclosing def; None: not a Keras call
        self._eager: set[str] = set()  # classes whose call needs eager values
        self._dynamic: set[str] = set()  # classes passing dynamic=True to super().__init__

    def _on(self) -> bool:
        return self.ctx.enabled(KM_CONTROL_FLOW) or self.ctx.enabled(KM_EAGER_ONLY)

    def _frame(self) -> _Frame | None:
        return self._frames[-1] if self._frames else None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        frame = None
        owner = self.ctx.parent(2)
        if (
            node.name.value == "call"
            and self._on()
            and isinstance(self.ctx.parent(), cst.IndentedBlock)
            and isinstance(owner, cst.ClassDef)
        ):
            classes = keras_classes(self.ctx)
            info = classes.of(owner) if classes else None
            if info is not None and info.kind != "metric":
                frame = _Frame(info, node)
        # Nested functions may be tf.function-decorated: not ours to judge.
        self._frames.append(frame)

    def visit_Assign(self, node: cst.Assign) -> None:
        frame = self._frame()
        if frame is not None:
            frame.assigns.append(node)

    def visit_If(self, node: cst.If) -> None:
        frame = self._frame()
        if frame is not None:
            frame.tests.append(("if {}", node.test))

    def visit_While(self, node: cst.While) -> None:
        frame = self._frame()
        if frame is not None:
            frame.tests.append(("while {}", node.test))

    def visit_IfExp(self, node: cst.IfExp) -> None:
        frame = self._frame()
        if frame is not None:
            frame.tests.append(("... if {} else ...", node.test))

    def visit_Call(self, node: cst.Call) -> None:
        frame = self._frame()
        if frame is None:
            return
        func = node.func
        if not (
            (type(func) is cst.Attribute and func.attr.value == "numpy")
            or (type(func) is cst.Name and func.value in ("float", "int"))
            or (self.ctx.names.resolve(func) or "").startswith("numpy.")
        ):
            return
        # Code behind ``if isinstance(...)``/``if tf.executing_eagerly()`` handles eager values
        # on purpose; only unguarded eager-only code is judged.
        for anc in reversed(self.ctx.ancestors):
            if anc is frame.func:
                break
            if isinstance(anc, (cst.If, cst.IfExp)) and any(g in self.ctx.code_for(anc.test) for g in GUARDS):
                return
        frame.eager_candidates.append(node)

    def visit_Arg(self, node: cst.Arg) -> None:
        if not (
            node.keyword is not None
            and node.keyword.value == "dynamic"
            and isinstance(node.value, cst.Name)
            and node.value.value == "True"
            and self._on()
        ):
            return
        classes = keras_classes(self.ctx)
        method = classes.enclosing_method(self.ctx) if classes else None
        if method is not None and method.name == "__init__":
            self._dynamic.add(method.cls.name)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        frame = self._frames.pop()
        if frame is None:
            return
        tensors = _Tensors(self.ctx, _tensor_params(node))
        tensors.learn(frame.assigns)
        for form, test in frame.tests:
            if not tensors.is_tensor_test(test):
                continue
            shown = form.format(self.ctx.code_for(test))
            self.ctx.report(
                KM_CONTROL_FLOW,
                test,
                f"Keras 3 does not convert `call` with autograph: `{shown}` on a tensor raises "
                "`OperatorNotAllowedInGraphError` when the layer is traced (functional construction, "
                "`fit`, `predict`)",
            )
        if any(self._eager_only(call, tensors) for call in frame.eager_candidates):
            self._eager.add(frame.cls.name)

    def _eager_only(self, node: cst.Call, tensors: _Tensors) -> bool:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "numpy" and not node.args:
            return True
        plain = isinstance(func, cst.Name) and func.value in ("float", "int")
        if not plain and not (self.ctx.names.resolve(func) or "").startswith("numpy."):
            return False
        return any(tensors.is_tensor(a.value) for a in node.args)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        name = node.name.value
        if name not in self._eager and name not in self._dynamic:
            return
        classes = keras_classes(self.ctx)
        info = classes.of(node)
        if info is None or info.kind != "layer":
            return
        if classes.find_method(info, "compute_output_shape") or classes.find_method(info, "compute_output_spec"):
            return
        call = info.own_method("call")
        why = "its `call` needs eager values" if name in self._eager else "it was marked `dynamic=True`"
        self.ctx.report(
            KM_EAGER_ONLY,
            call.name if call is not None else node.name,
            f"Keras 3 traces every layer symbolically and {why}: using `{name}` in a functional "
            "model raises `NotImplementedError: Could not automatically infer the output shape` until "
            "it implements `compute_output_shape` (and `fit` needs `compile(run_eagerly=True)`)",
        )
