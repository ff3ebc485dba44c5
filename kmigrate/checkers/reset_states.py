"""`reset_states()` on models (catalogue 22) and on metrics (catalogue 23).

Keras 3 keeps `reset_states()` on recurrent layers only: a model has none, and a metric has
`reset_state()`. The receiver decides which rule applies; a receiver that is neither provably a
model nor provably a metric is left alone (it may well be a layer, where the call is fine).
"""

from __future__ import annotations

import re
from typing import ClassVar

import libcst as cst

from kmigrate.checkers._train import (
    enclosing_class,
    is_model,
    method_name,
    statement_indent,
    whole_statement,
)
from kmigrate.engine import Checker, Context, FixSpec, NodeEdit
from kmigrate.walk import scan

KM_MODEL, KM_METRIC = "KM232", "KM233"


def _self_attr(node: cst.BaseExpression) -> str | None:
    if (
        isinstance(node, cst.Attribute)
        and isinstance(node.value, cst.Name)
        and node.value.value == "self"
    ):
        return node.attr.value
    return None


class _ModuleMetrics(cst.CSTVisitor):
    """Module-level facts for metric receivers that `Names` does not track: classes of the file
    that subclass a Keras metric, names bound only to instances of one (or of a Keras metric),
    and names bound only to list/tuple literals holding such instances. A name bound to
    anything else anywhere is dropped."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.classes: set[str] = set()
        self._values: dict[str, list[cst.BaseExpression]] = {}
        self._names: set[str] | None = None
        self._lists: set[str] | None = None

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
        if any(isinstance(s, cst.FunctionDef) and s.name.value == "reset_states" for s in body):
            return  # its own `reset_states()` keeps working
        for base in node.bases:
            resolved = self.ctx.names.resolve_keras(base.value) or ""
            named = isinstance(base.value, cst.Name) and base.value.value in self.classes
            if resolved.startswith("keras.metrics.") or named:
                self.classes.add(node.name.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self._values.setdefault(target.target.value, []).append(node.value)

    def visit_For(self, node: cst.For) -> None:
        self._rebind(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._rebind(node.target)

    def _rebind(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self._values.setdefault(target.value, []).append(target)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._rebind(el.value)

    def is_metric_call(self, node: cst.Call) -> bool:
        if isinstance(node.func, cst.Name) and node.func.value in self.classes:
            return True
        return (self.ctx.names.resolve_keras(node.func) or "").startswith("keras.metrics.")

    @property
    def names(self) -> set[str]:
        if self._names is None:
            self._names = {
                n for n, values in self._values.items()
                if all(isinstance(v, cst.Call) and self.is_metric_call(v) for v in values)
            }
        return self._names

    @property
    def lists(self) -> set[str]:
        if self._lists is None:
            def holds_metrics(v: cst.BaseExpression) -> bool:
                return isinstance(v, (cst.List, cst.Tuple)) and bool(v.elements) and all(
                    (isinstance(e.value, cst.Call) and self.is_metric_call(e.value))
                    or (isinstance(e.value, cst.Name) and e.value.value in self.names)
                    for e in v.elements
                )
            self._lists = {n for n, vs in self._values.items() if all(holds_metrics(v) for v in vs)}
        return self._lists


class ResetStatesChecker(Checker):
    needles: ClassVar[frozenset[str]] = frozenset({"reset_states"})  # the method called

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._class_metrics: dict[int, set[str]] = {}
        self._metrics_scan: _ModuleMetrics | None = None

    def _metrics_of(self, node: cst.ClassDef) -> set[str]:
        # Computed on demand: only classes whose methods call `reset_states()` need it.
        if id(node) not in self._class_metrics:
            self._scan_class(node)
        return self._class_metrics[id(node)]

    def _scan_class(self, node: cst.ClassDef) -> None:
        attrs: set[str] = set()
        methods = {s.name.value for s in node.body.body if isinstance(s, cst.FunctionDef)}
        for stmt in node.body.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == "__init__":
                self._collect_metric_attrs(stmt, attrs)
        if "reset_states" in methods:
            attrs.add("<defines reset_states>")
        self._class_metrics[id(node)] = attrs

    def _collect_metric_attrs(self, init: cst.FunctionDef, attrs: set[str]) -> None:
        names = self.ctx.names

        class Assigns(cst.CSTVisitor):
            def visit_Assign(self, node: cst.Assign) -> None:
                if not isinstance(node.value, cst.Call):
                    return
                callee = names.resolve_keras(node.value.func) or ""
                if not callee.startswith("keras.metrics."):
                    return
                for target in node.targets:
                    attr = _self_attr(target.target)
                    if attr is not None:
                        attrs.add(attr)

        scan(init, Assigns())

    def _is_metric(self, node: cst.BaseExpression) -> bool:
        """A name bound to a keras.metrics constructor, ``self.x`` made from one in
        ``__init__``, or the variable of a loop over ``<model>.metrics``."""
        attr = _self_attr(node)
        if attr is not None:
            cls = enclosing_class(self.ctx)
            return cls is not None and attr in self._metrics_of(cls)
        if not isinstance(node, cst.Name):
            return False
        bound = self.ctx.names.instance_of(node)
        if bound is not None:
            return bound.startswith("keras.metrics.")
        if node.value in self._module_metrics().names:
            return True
        for anc in reversed(self.ctx.ancestors[:-1]):
            loops: list[cst.For | cst.CompFor] = []
            if isinstance(anc, cst.For):
                loops = [anc]
            elif isinstance(anc, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
                comp: cst.CompFor | None = anc.for_in
                while comp is not None:
                    loops.append(comp)
                    comp = comp.inner_for_in
            for loop in loops:
                if isinstance(loop.target, cst.Name) and loop.target.value == node.value:
                    return self._is_metric_collection(loop.iter)
        return False

    def _is_metric_collection(self, it: cst.BaseExpression) -> bool:
        """``<model>.metrics``, a list/tuple literal of metrics, a name bound to one, or a sum."""
        if isinstance(it, cst.Attribute):
            return it.attr.value == "metrics"
        if isinstance(it, (cst.List, cst.Tuple)):
            return any(self._is_metric_value(e.value) for e in it.elements)
        if isinstance(it, cst.BinaryOperation) and isinstance(it.operator, cst.Add):
            return self._is_metric_collection(it.left) or self._is_metric_collection(it.right)
        return isinstance(it, cst.Name) and it.value in self._module_metrics().lists

    def _is_metric_value(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Call):
            return self._module_metrics().is_metric_call(node)
        return isinstance(node, cst.Name) and self._is_metric(node)

    def _module_metrics(self) -> _ModuleMetrics:
        # Computed on demand: only files calling `reset_states()` on an unknown name need it.
        if self._metrics_scan is None:
            self._metrics_scan = _ModuleMetrics(self.ctx)
            scan(self.ctx.module, self._metrics_scan)
        return self._metrics_scan

    def visit_Call(self, node: cst.Call) -> None:
        if method_name(node) != "reset_states" or node.args:
            return
        receiver = node.func.value  # type: ignore[attr-defined]
        if self._is_metric(receiver):
            self.ctx.report(
                KM_METRIC,
                node,
                f"`{self.ctx.code_for(receiver)}.reset_states()` raises `AttributeError` in "
                "Keras 3: metrics only have `reset_state()`",
                FixSpec(
                    "Call `reset_state()`",
                    (NodeEdit(node.func.attr, "reset_state"),),  # type: ignore[attr-defined]
                ),
            )
            return
        if not is_model(self.ctx, receiver):
            return
        if isinstance(receiver, cst.Name) and receiver.value == "self":
            cls = enclosing_class(self.ctx)
            if cls is not None and "<defines reset_states>" in self._metrics_of(cls):
                return
        self._model(node, receiver)

    def _model(self, node: cst.Call, receiver: cst.BaseExpression) -> None:
        model = self.ctx.code_for(receiver)
        fix = None
        if whole_statement(self.ctx, node):
            indent = statement_indent(self.ctx)
            step = self.ctx.module.default_indent
            var = self._loop_variable()
            nl = self.ctx.module.default_newline
            text = (
                f"for {var} in {model}.layers:{nl}"
                f'{indent}{step}if getattr({var}, "stateful", False):{nl}'
                f"{indent}{step}{step}{var}.reset_states()"
            )
            statement = self.ctx.parent()
            assert statement is not None
            fix = FixSpec("Reset the stateful layers one by one", (NodeEdit(statement, text),))
        self.ctx.report(
            KM_MODEL,
            node,
            f"`{model}.reset_states()` raises `AttributeError` in Keras 3: models have no "
            "`reset_states()`, only their stateful layers do",
            fix,
        )

    def _loop_variable(self) -> str:
        """``layer``, unless the enclosing function already uses that name."""
        scope: cst.CSTNode = self.ctx.module
        for anc in reversed(self.ctx.ancestors[:-1]):
            if isinstance(anc, (cst.FunctionDef, cst.Lambda)):
                scope = anc
                break
        code = self.ctx.code_for(scope)
        for name in ("layer", "stateful_layer", "layer_"):
            if not re.search(rf"\b{name}\b", code):
                return name
        return "layer_"
