"""Layer/Model methods Keras 3 removed or restricted (catalogue 41).

``self.add_update(...)`` no longer exists (the ``assign`` it wraps can simply run);
``add_metric`` raises ``NotImplementedError``; ``add_loss`` only takes tensors computed in
``call``: a functional model's ``add_loss`` raises, and so does a callable loss.
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from kmigrate.checkers._classes import is_self_attr, keras_classes
from kmigrate.engine import Checker, FixSpec, NodeEdit

KM_ADD_UPDATE, KM_ADD_METRIC, KM_ADD_LOSS = "KM325", "KM326", "KM327"
MODELS = frozenset({"keras.Model", "keras.models.Model", "keras.Sequential", "keras.models.Sequential"})
ASSIGNS = frozenset({"assign", "assign_add", "assign_sub"})
METHODS = ("add_update", "add_metric", "add_loss")


class LayerApiChecker(Checker):
    needles: ClassVar[frozenset[str]] = frozenset(METHODS)  # only `<x>.<method>(...)` calls are judged

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if type(func) is not cst.Attribute:
            return
        attr = func.attr.value
        if attr not in METHODS:
            return
        receiver = func.value
        in_class = False
        classes = keras_classes(self.ctx)
        method = classes.enclosing_method(self.ctx) if classes else None
        if method is not None and is_self_attr(func, method.self_name) and method.cls.kind != "metric":
            in_class = True
        built = self.ctx.names.instance_of(receiver) if isinstance(receiver, cst.Name) else None
        model = built in MODELS
        if not (in_class or model):
            return
        if attr == "add_update":
            self._add_update(node)
        elif attr == "add_metric":
            self.ctx.report(
                KM_ADD_METRIC,
                node,
                "Keras 3 raises `NotImplementedError` for `add_metric`: create a metric in "
                "`__init__`/`build` and call its `update_state`, or pass it to `compile(metrics=...)`",
            )
        elif model and built is not None and built.endswith("Sequential"):
            self.ctx.report(
                KM_ADD_LOSS,
                node,
                f"Keras 3's `add_loss` takes only tensors computed in `call`: `{self.ctx.code_for(func)}` "
                "with a symbolic tensor or a callable raises `ValueError`; add the loss from the `call` "
                "of a small layer with `self.add_loss(...)`",
            )
        elif model:
            self.ctx.report(
                KM_ADD_LOSS,
                node,
                f"Keras 3 cannot add a loss to a functional model: `{self.ctx.code_for(func)}` raises "
                "`NotImplementedError`; add it from the `call` of a small layer with `self.add_loss(...)`",
            )
        elif node.args and isinstance(node.args[0].value, cst.Lambda):
            self.ctx.report(
                KM_ADD_LOSS,
                node,
                "Keras 3's `add_loss` takes only tensors: a callable loss raises `ValueError`; compute "
                "it in `call` and pass the tensor",
            )

    def _add_update(self, node: cst.Call) -> None:
        fix = None
        statement = isinstance(self.ctx.parent(), cst.Expr)
        if statement and len(node.args) == 1 and node.args[0].keyword is None and not node.args[0].star:
            inner = node.args[0].value
            if (
                isinstance(inner, cst.Call)
                and isinstance(inner.func, cst.Attribute)
                and inner.func.attr.value in ASSIGNS
            ):
                fix = FixSpec("Run the assignment directly", (NodeEdit(node, self.ctx.code_for(inner)),))
        self.ctx.report(
            KM_ADD_UPDATE,
            node,
            "Keras 3 layers have no `add_update`: the call raises `AttributeError`; run the "
            "variable's `assign` directly in `call`",
            fix,
        )
