"""``compile``/``fit`` arguments that no longer match a model's outputs (catalogue 27, 28).

27: a masked sequence output makes the loss per-timestep; Keras 2 broadcast a per-sample
``sample_weight`` over time, Keras 3 fails at the first step. 28: with several outputs, Keras 2
applied a flat ``metrics=[...]`` list to every output; Keras 3 rejects it, or, when the list is
as long as the outputs, silently gives one metric to each output.
"""

from __future__ import annotations

import json

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._nodes import statements
from kmigrate.engine import Checker, FixSpec, NodeEdit
from kmigrate.graph import Model, builds_model, graph_of

KM_SAMPLE_WEIGHT, KM_FLAT_METRICS = "KM220", "KM221"
SAMPLE_WEIGHT, VALIDATION_DATA, COMPILE = "sample_weight", "validation_data", "compile"
WEIGHTED_CALLS = frozenset({"fit", "evaluate", "train_on_batch", "test_on_batch"})
NUMPY_FILLS = frozenset({"numpy.ones", "numpy.zeros", "numpy.full", "numpy.empty"})
NUMPY_ARRAYS = frozenset({"numpy.array", "numpy.asarray"})
PER_SAMPLE_FUNCTIONS = frozenset({
    "sklearn.utils.class_weight.compute_sample_weight", "sklearn.utils.compute_sample_weight",
})


class ModelOutputsChecker(Checker):
    # KM220 reports a ``sample_weight=`` or ``validation_data=`` argument (the model's mask may
    # be an explicit ``mask=``, and its guard is a substring test); KM221 a ``.compile(...)`` of
    # the model (``metrics`` may be passed by position).
    needles = frozenset({SAMPLE_WEIGHT, VALIDATION_DATA, COMPILE})

    _wanted = False  # the rules may fire in this module
    _models = False  # ... and it calls a model constructor: the graph is worth building

    def visit_Module(self, node: cst.Module) -> None:
        ctx = self.ctx
        if not (ctx.enabled(KM_SAMPLE_WEIGHT) or ctx.enabled(KM_FLAT_METRICS)) or not ctx.names.imports_keras:
            return
        # Cheap text tests first: the graph is the expensive part, and each rule needs words.
        weights = ctx.enabled(KM_SAMPLE_WEIGHT) and ctx.mentions("mask_zero", "Masking") and ctx.mentions("sample_weight")
        flat = ctx.enabled(KM_FLAT_METRICS) and ctx.mentions("metrics") and ctx.mentions("compile")
        self._wanted = bool(weights or flat)

    def visit_Call(self, node: cst.Call) -> None:
        if self._wanted and not self._models:
            self._models = builds_model(self.ctx.names, node)

    def leave_Module(self, node: cst.Module) -> None:
        if not self._models:
            return
        ctx = self.ctx
        graph = graph_of(ctx)
        self._assigned: dict[str, cst.BaseExpression] | None = None
        for model in graph.models:
            if ctx.enabled(KM_SAMPLE_WEIGHT) and model.masks:
                for call in model.uses:
                    if call.method in WEIGHTED_CALLS:
                        self._sample_weight(call.call)
            if ctx.enabled(KM_FLAT_METRICS) and model.outputs is not None and len(model.outputs) > 1:
                for call in model.calls(COMPILE):
                    self._flat_metrics(model, call)

    # ------------------------------------------------------------ 27
    @property
    def assigned(self) -> dict[str, cst.BaseExpression]:
        if self._assigned is None:
            self._assigned = _single_assignments(self.ctx.module)
        return self._assigned

    def _sample_weight(self, call: cst.Call) -> None:
        weights = _calls.keyword(call, SAMPLE_WEIGHT)
        if weights is not None and self._per_sample(weights.value):
            self._report_weights(weights.value)
        validation = _calls.keyword(call, VALIDATION_DATA)
        if validation is not None and isinstance(validation.value, cst.Tuple):
            elements = validation.value.elements
            if len(elements) == 3 and self._per_sample(elements[2].value):
                self._report_weights(elements[2].value)

    def _report_weights(self, node: cst.BaseExpression) -> None:
        text = self.ctx.code_for(node)
        self.ctx.report(
            KM_SAMPLE_WEIGHT,
            node,
            f"the model's output is a masked sequence, so its loss is per timestep: Keras 3 does not "
            f"broadcast the per-sample weights `{text}` over time and fails at the first step with "
            "`ValueError: Dimensions must be equal`",
        )

    def _per_sample(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        """The expression is recognisably one weight per sample (a 1-D array)."""
        if isinstance(node, cst.Name) and depth < 3 and node.value in self.assigned:
            return self._per_sample(self.assigned[node.value], depth + 1)
        if isinstance(node, cst.List):
            return bool(node.elements) and all(_calls.is_number(e.value) for e in node.elements)
        if not isinstance(node, cst.Call):
            return False
        name = self.ctx.names.resolve(node.func)
        if name in PER_SAMPLE_FUNCTIONS:
            return True
        if name in NUMPY_FILLS:
            shape = _calls.argument(node, "shape", 0)
            if shape is None:
                return False
            value = shape.value
            if isinstance(value, cst.Name) and value.value in self.assigned:
                value = self.assigned[value.value]
            if isinstance(value, (cst.Tuple, cst.List)):
                return len(value.elements) == 1
            return True  # a scalar length: ``np.ones(len(x))``, ``np.ones(n)``
        if name in NUMPY_ARRAYS and node.args:
            return isinstance(node.args[0].value, cst.List) and self._per_sample(node.args[0].value, depth + 1)
        return False

    # ------------------------------------------------------------ 28
    def _flat_metrics(self, model: Model, call: cst.Call) -> None:
        assert model.outputs is not None
        n = len(model.outputs)
        for keyword, index in (("metrics", 2), ("weighted_metrics", None)):
            arg = _calls.argument(call, keyword, index)
            if arg is None or not isinstance(arg.value, (cst.List, cst.Tuple)):
                continue
            entries = [e.value for e in arg.value.elements]
            if not entries or any(isinstance(e, (cst.List, cst.Tuple, cst.Dict)) for e in entries):
                continue
            if any(isinstance(e, cst.StarredElement) for e in arg.value.elements):
                continue
            texts = {self.ctx.code_for(e) for e in entries}
            if len(entries) == n and len(texts) == 1:
                continue  # the same metric once per output: each output gets it in both versions
            if len(entries) == n:
                consequence = (
                    f"Keras 3 reads a flat `{keyword}=` list as long as the outputs as one metric per "
                    f"output, so each output silently gets only one of them"
                )
            else:
                consequence = (
                    f"Keras 3 rejects a flat `{keyword}=` list for a model with {n} outputs: the first "
                    "`fit`/`evaluate` raises `ValueError`"
                )
            message = f"Keras 2 applied every metric to each of the model's {n} outputs; {consequence}"
            self.ctx.report(KM_FLAT_METRICS, arg, message, self._per_output(arg, entries, model))

    def _per_output(self, arg: cst.Arg, entries: list[cst.BaseExpression], model: Model) -> FixSpec | None:
        # Repeating the source text is only faithful for strings, metric functions and
        # constructor calls (a fresh object per output); a shared metric object would be
        # updated by every output.
        for entry in entries:
            if _calls.string_value(entry) is not None:
                continue
            func = entry.func if isinstance(entry, cst.Call) else entry
            name = self.ctx.names.resolve_keras(func)
            if name is None or not name.startswith("keras.metrics."):
                return None
            if not isinstance(entry, cst.Call) and name.rsplit(".", 1)[-1][:1].isupper():
                return None
        assert model.outputs is not None
        inner = "[" + ", ".join(self.ctx.code_for(e) for e in entries) + "]"
        if model.output_keys is not None:
            new = "{" + ", ".join(f"{json.dumps(key)}: {inner}" for key in model.output_keys) + "}"
        else:
            new = "[" + ", ".join([inner] * len(model.outputs)) + "]"
        # The argument's span stops before its comma and a tuple's span inside its parentheses.
        replacement = arg.with_changes(value=cst.parse_expression(new), comma=cst.MaybeSentinel.DEFAULT)
        return FixSpec("Give each output its own list of metrics", (NodeEdit(arg, replacement),))


def _single_assignments(module: cst.Module) -> dict[str, cst.BaseExpression]:
    """Names assigned exactly once in the module (any scope), with their value."""
    seen: dict[str, list[cst.BaseExpression]] = {}
    for node in statements(module):
        if type(node) is cst.Assign:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    seen.setdefault(target.target.value, []).append(node.value)
                else:  # unpacked: the value is not the name's
                    for name in _target_names(target.target):
                        seen.setdefault(name, []).extend([node.value, node.value])
        elif type(node) is cst.AugAssign or type(node) is cst.For:
            for name in _target_names(node.target):
                seen.setdefault(name, []).extend([node, node])  # type: ignore[list-item]
    return {name: values[0] for name, values in seen.items() if len(values) == 1}


def _target_names(node: cst.BaseExpression) -> list[str]:
    if isinstance(node, cst.Name):
        return [node.value]
    if isinstance(node, (cst.Tuple, cst.List)):
        return [n for e in node.elements for n in _target_names(e.value)]
    return []
