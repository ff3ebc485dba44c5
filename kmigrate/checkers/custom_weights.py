"""Weights of custom layers and metrics (catalogue 6, 37, 38).

* ``self.w = tf.Variable(...)`` in a Layer/Model subclass is not tracked by Keras 3 (6).
* ``self.add_weight("w", shape)`` / TF-only keywords are rejected by Keras 3 (37).
* ``Metric.add_weight("tp")`` / no initializer is rejected by Keras 3 (38).
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._classes import Method, is_self_attr, keras_classes
from kmigrate.checkers._variables import variable_rewrite
from kmigrate.engine import Checker, FixSpec, NodeEdit

KM_TF_VARIABLE, KM_ADD_WEIGHT, KM_METRIC_WEIGHT = "KM116", "KM322", "KM323"

LAYER_ORDER = ("name", "shape", "dtype", "initializer", "regularizer", "trainable", "constraint",
               "use_resource", "synchronization", "aggregation")
METRIC_ORDER = ("name", "shape", "aggregation", "synchronization", "initializer", "dtype")
METRIC_K3_ORDER = ("shape", "initializer", "dtype", "name")
# Keyword arguments only tf.keras accepted (partitioner was silently ignored even there).
TF_ONLY = ("use_resource", "partitioner", "caching_device", "getter", "collections", "layout",
           "experimental_enable_variable_lifting")
TF_VARIABLE = "tensorflow.Variable"
_VARIABLE = (TF_VARIABLE.rpartition(".")[2],)
AGGREGATIONS = {"NONE": "none", "SUM": "sum", "MEAN": "mean", "ONLY_FIRST_REPLICA": "only_first_replica"}


def _keyword(arg: cst.Arg, name: str) -> cst.Arg:
    return arg.with_changes(
        keyword=cst.Name(name),
        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
    )


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _is_string(node: cst.BaseExpression) -> bool:
    return isinstance(node, (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString))


class CustomWeightsChecker(Checker):
    # `<self>.add_weight(...)` calls, and calls of a name that resolves to `tf.Variable`.
    needles: ClassVar[frozenset[str]] = frozenset({"add_weight", TF_VARIABLE.rpartition(".")[2]})

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if type(func) is cst.Attribute and func.attr.value == "add_weight":
            if self.ctx.enabled(KM_ADD_WEIGHT) or self.ctx.enabled(KM_METRIC_WEIGHT):
                method = self._method()
                if method is not None and is_self_attr(func, method.self_name):
                    if method.cls.kind == "metric":
                        self._metric_weight(node)
                    else:
                        self._layer_weight(node)
            return
        if (
            self.ctx.enabled(KM_TF_VARIABLE)
            and _calls.may_resolve_to(func, _VARIABLE)
            and self.ctx.names.resolve(func) == TF_VARIABLE
        ):
            self._tf_variable(node)

    def _method(self) -> Method | None:
        classes = keras_classes(self.ctx)
        return classes.enclosing_method(self.ctx) if classes else None

    # ------------------------------------------------------------------ 37
    def _aggregation(self, arg: cst.Arg) -> str | None:
        """The Keras 3 string for ``aggregation=`` (None: cannot tell)."""
        if _calls.string_value(arg.value) is not None:
            return _calls.string_value(arg.value)
        name = self.ctx.names.resolve(arg.value) or ""
        prefix = "tensorflow.VariableAggregation."
        return AGGREGATIONS.get(name[len(prefix):]) if name.startswith(prefix) else None

    def _layer_weight(self, node: cst.Call) -> None:
        positional = [a for a in node.args if a.keyword is None and not a.star]
        legacy_name = bool(positional) and _is_string(positional[0].value)
        tf_only = [a for a in node.args if a.keyword is not None and a.keyword.value in
                   (*TF_ONLY, "synchronization", "experimental_autocast")]
        aggregation = _calls.keyword(node, "aggregation")
        enum_aggregation = aggregation is not None and _calls.string_value(aggregation.value) is None
        if not (legacy_name or tf_only or enum_aggregation):
            return
        safe = True
        fixable = not _calls.has_star(node) and len(positional) <= len(LAYER_ORDER)
        args: list[cst.Arg] = []
        for arg in node.args if fixable else ():
            if arg.keyword is None and not arg.star:
                index = positional.index(arg)
                if not legacy_name:
                    args.append(arg)
                    continue
                name = LAYER_ORDER[index] if index < len(LAYER_ORDER) else ""
                if _is_none(arg.value) and name != "name":
                    continue  # Keras 2's default for every positional parameter was None
                arg = _keyword(arg, name)
            key = arg.keyword.value if arg.keyword is not None else ""
            if key in TF_ONLY:
                continue
            if key == "experimental_autocast":
                arg = arg.with_changes(keyword=cst.Name("autocast"))
            elif key == "synchronization":
                sync = self.ctx.names.resolve(arg.value) or ""
                safe = safe and sync == "tensorflow.VariableSynchronization.AUTO"
                continue
            elif key == "aggregation":
                value = self._aggregation(arg)
                if value is None:
                    fixable = False
                elif value == "none":
                    continue
                else:
                    arg = arg.with_changes(value=cst.SimpleString(repr(value).replace("'", '"')))
            args.append(arg)
        if legacy_name:
            first = positional[0]
            message = (
                f"Keras 3's `add_weight` takes no positional name: `add_weight({self.ctx.code_for(first.value)}, ...)` "
                "raises `ValueError` (older 3.x: a shape error)"
            )
            where: cst.CSTNode = first
        else:
            names = ", ".join(f"`{a.keyword.value}=`" for a in tf_only if a.keyword is not None)
            if enum_aggregation and not names:
                names = "`aggregation=tf.VariableAggregation`"
            message = f"Keras 3's `add_weight` rejects {names} with `TypeError`/`ValueError`"
            where = (tf_only or [aggregation])[0]  # type: ignore[list-item]
        fix = None
        if fixable:
            fix = FixSpec(
                "Pass `add_weight` arguments by keyword and drop TensorFlow-only ones",
                (NodeEdit(node, _calls.with_args(node, args)),),
                None if safe else "unsafe",
            )
        self.ctx.report(KM_ADD_WEIGHT, where, message, fix)

    # ------------------------------------------------------------------ 38
    def _metric_weight(self, node: cst.Call) -> None:
        positional = [a for a in node.args if a.keyword is None and not a.star]
        legacy_name = bool(positional) and _is_string(positional[0].value)
        order = METRIC_ORDER if legacy_name else METRIC_K3_ORDER
        named: dict[str, cst.Arg] = {}
        for i, arg in enumerate(positional):
            if i < len(order):
                named[order[i]] = arg
        for arg in node.args:
            if arg.keyword is not None:
                named[arg.keyword.value] = arg
        init = named.get("initializer")
        no_init = init is None or _is_none(init.value)
        extra = [k for k in ("aggregation", "synchronization") if k in named]
        if not (legacy_name or no_init or extra) or _calls.has_star(node) or len(positional) > len(order):
            return
        args: list[cst.Arg] = []
        aggregation = "sum"
        for arg in node.args:
            key = arg.keyword.value if arg.keyword is not None else order[positional.index(arg)]
            if key == "synchronization":
                continue  # Keras 3 metrics variables are always synchronised on read
            if key == "aggregation":
                aggregation = self._aggregation(arg) or "?"
                continue
            if key == "initializer" and no_init:
                continue
            if arg.keyword is None and legacy_name:
                arg = _keyword(arg, key)
            args.append(arg)
        call = _calls.with_args(node, args)
        if no_init:
            call = _calls.append(call, "initializer", '"zeros"')
        fix = None
        if aggregation != "?":
            if aggregation != "sum":
                # Metric.add_weight has no aggregation argument; add_variable does.
                if "shape" not in named:
                    call = _calls.append(call, "shape", "()")
                call = _calls.append(call, "aggregation", f'"{aggregation}"')
                assert isinstance(call.func, cst.Attribute)
                call = call.with_changes(func=call.func.with_changes(attr=cst.Name("add_variable")))
            # Keras 2's missing initializer drew a random value that survived until the first
            # reset_state() (after the first fit epoch or evaluate): zeros is the intent, not a copy.
            fix = FixSpec(
                "Pass `add_weight` arguments by keyword with an explicit initializer",
                (NodeEdit(node, call),),
                "unsafe" if no_init else None,
            )
        if legacy_name:
            message = (
                f"Keras 3's `Metric.add_weight` takes `shape` first: the positional name "
                f"{self.ctx.code_for(positional[0].value)} raises `ValueError: Cannot convert ... to a shape`"
            )
            where: cst.CSTNode = positional[0]
        elif no_init:
            message = (
                "Keras 3's `Metric.add_weight` has no default initializer: it raises `ValueError` "
                "(Keras 2 drew a random starting value that the first `reset_state()` zeroed)"
            )
            where = node
        else:
            message = f"Keras 3's `Metric.add_weight` rejects `{extra[0]}=` with `TypeError`"
            where = named[extra[0]]
        self.ctx.report(KM_METRIC_WEIGHT, where, message, fix)

    # ------------------------------------------------------------------- 6
    def _tf_variable(self, node: cst.Call) -> None:
        method = self._method()
        if method is None or method.cls.kind == "metric":
            return
        assign, direct = self._self_assignment(node, method)
        if assign is None:
            return
        target = assign.targets[0].target if isinstance(assign, cst.Assign) else assign.target
        attr = self.ctx.code_for(target)
        fix = None
        if direct and isinstance(target, cst.Attribute):
            rewrite = variable_rewrite(self.ctx, node, target.attr.value)
            if rewrite is not None:
                text, imports, safe = rewrite
                fix = FixSpec(
                    "Create the variable with `self.add_weight(...)`",
                    (NodeEdit(node, f"{method.self_name}.add_weight({text})"), *imports),
                    None if safe else "unsafe",
                )
        self.ctx.report(
            KM_TF_VARIABLE,
            node,
            f"Keras 3 does not track `tf.Variable` attributes: `{attr}` is not trained, saved or "
            "loaded with the layer",
            fix,
        )

    def _self_assignment(
        self, node: cst.Call, method: Method
    ) -> tuple[cst.Assign | cst.AnnAssign | None, bool]:
        """The ``self.<attr> = ...`` statement whose value holds ``node`` (and whether it is it)."""
        ancestors = self.ctx.ancestors
        for i in range(len(ancestors) - 2, 0, -1):
            anc = ancestors[i]
            if isinstance(anc, (cst.Lambda, cst.FunctionDef, cst.BaseCompoundStatement)):
                return None, False
            if isinstance(anc, cst.Assign):
                targets = [t.target for t in anc.targets]
                if len(targets) == 1 and is_self_attr(targets[0], method.self_name):
                    return anc, anc.value is node
                return None, False
            if isinstance(anc, cst.AnnAssign):
                if is_self_attr(anc.target, method.self_name):
                    return anc, anc.value is node
                return None, False
        return None, False
