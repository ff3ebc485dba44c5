"""Compiled metrics that count padded positions on keras 3.0-3.11 (catalogue 61, the seed case).

The mask reaching a model's output is found with :mod:`kmigrate.graph`; the finding sits on the
``metrics=`` argument of that model's ``compile``. The rewrite (unsafe: it touches ``compile`` and
every ``fit``/``evaluate`` of the model) passes the metrics as ``weighted_metrics=`` and the mask
as a temporal ``sample_weight=(y != 0)``, which Keras 3.0-3.11 do apply to metrics.
"""

from __future__ import annotations

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._append import append_arg, append_element
from kmigrate.engine import Checker, Context, FixSpec, NodeEdit, words
from kmigrate.graph import Graph, Model, builds_model, graph_of

KM_MASKED_METRICS = "KM125"

# The words that create a mask in kmigrate.graph: ``Embedding(mask_zero=True)`` and ``Masking``.
MASK_SOURCE_WORDS = frozenset({"mask_zero", "Masking"})


def names_mask_source(ctx: Context) -> bool:
    """Whether the file spells a mask source as a whole word, as the word screen tests it.

    The mask rules build the graph only then. A word, not a substring: ``use_mask_zero`` beside
    an explicit ``mask=`` must not decide whether they run, or the screen could not skip them.
    """
    if not ctx.mentions(*MASK_SOURCE_WORDS):  # the substring test is cheaper: try it first
        return False
    return ctx.text is None or not MASK_SOURCE_WORDS.isdisjoint(words(ctx.text))


# Keras 3 metrics built on ``MeanMetricWrapper``: before 3.12 it applied the mask only together
# with a sample weight (keras/src/metrics/reduction_metrics.py, catalogue 61).
MEAN_METRIC_NAMES = frozenset({
    "accuracy", "acc", "mae", "mse", "mape", "msle", "mean_absolute_error", "mean_squared_error",
    "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "cosine_similarity",
    "logcosh", "log_cosh", "hinge", "squared_hinge", "categorical_hinge", "kld", "kl_divergence",
    "kullback_leibler_divergence", "poisson", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy",
})
MEAN_METRIC_CLASSES = frozenset({
    "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "MeanAbsoluteError",
    "MeanSquaredError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError",
    "CosineSimilarity", "LogCoshError", "Hinge", "SquaredHinge", "CategoricalHinge",
    "KLDivergence", "Poisson", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy", "MeanMetricWrapper",
})
TRAINING_METHODS = frozenset({"fit", "evaluate"})
# Other ways to train or score a model: their metrics would stay unweighted, so no rewrite.
OTHER_TRAINING = frozenset({
    "train_on_batch", "test_on_batch", "fit_generator", "evaluate_generator", "compiled_metrics",
})


def _is_mean_name(name: str) -> bool:
    return name in MEAN_METRIC_NAMES or name.endswith("_accuracy")


def metric_entries(value: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The metrics of a ``metrics=`` value: flattened lists, tuples and dict values."""
    if isinstance(value, (cst.List, cst.Tuple)):
        return [e for el in value.elements for e in metric_entries(el.value)]
    if isinstance(value, cst.Dict):
        return [
            e for el in value.elements if isinstance(el, cst.DictElement) for e in metric_entries(el.value)
        ]
    return [value]


class MaskedMetricsChecker(Checker):
    # The graph is only built where a mask source is named.
    needles = MASK_SOURCE_WORDS

    _wanted = False  # the rule may fire in this module
    _models = False  # ... and it calls a model constructor: the graph is worth building

    def visit_Module(self, node: cst.Module) -> None:
        if not self.ctx.enabled(KM_MASKED_METRICS) or not self.ctx.names.imports_keras:
            return
        self._wanted = self.ctx.mentions(*MASK_SOURCE_WORDS)  # see names_mask_source

    def visit_Call(self, node: cst.Call) -> None:
        if self._wanted and not self._models:
            self._models = builds_model(self.ctx.names, node)

    def leave_Module(self, node: cst.Module) -> None:
        if not self._models or not names_mask_source(self.ctx):  # no mask source: no graph
            return
        graph = graph_of(self.ctx)
        for model in graph.models:
            if not model.masks:
                continue
            for call in model.calls("compile"):
                self._compile(graph, model, call)

    def _label(self, entry: cst.BaseExpression) -> str | None:
        """The metric's name if Keras 3.0-3.11 update it without the mask, else None."""
        text = _calls.string_value(entry)
        if text is not None:
            return text if _is_mean_name(text) else None
        func = entry.func if isinstance(entry, cst.Call) else entry
        name = self.ctx.names.resolve_keras(func)
        if name is None or not name.startswith("keras.metrics."):
            return None
        short = name.rsplit(".", 1)[-1]
        if isinstance(entry, cst.Call) and short in MEAN_METRIC_CLASSES:
            return short
        if not isinstance(entry, cst.Call) and _is_mean_name(short):
            return short
        return None

    def _compile(self, graph: Graph, model: Model, call: cst.Call) -> None:
        metrics = _calls.argument(call, "metrics", 2)
        if metrics is None:
            return
        labels = [label for e in metric_entries(metrics.value) if (label := self._label(e))]
        if not labels:
            return
        shown = ", ".join(f"`{label}`" for label in dict.fromkeys(labels))
        if any("acc" in label.lower() for label in labels):
            # A masked loss teaches the model never to predict the pad id: every pad is a miss.
            effect = (
                "also counts padded positions as misses, so it reads as the real accuracy times "
                "the fraction of real tokens"
            )
        else:
            effect = "is also averaged over the padded positions"
        if all(s.kind == "embedding" for s in model.masks):
            how = "`weighted_metrics=` and `sample_weight=(y != 0)` in `fit`/`evaluate`"
        else:
            how = "`weighted_metrics=` and the padding mask as `sample_weight=` in `fit`/`evaluate`"
        message = (
            f"your model trains exactly as on Keras 2, but on Keras 3.0-3.11 the reported {shown} "
            f"{effect}: measure it with {how} (or require keras>=3.12)"
        )
        self.ctx.report(KM_MASKED_METRICS, metrics, message, self._fix(graph, model, call, metrics))

    # ------------------------------------------------------------ the rewrite
    def _fix(self, graph: Graph, model: Model, compile_call: cst.Call, metrics: cst.Arg) -> FixSpec | None:
        # The pad id must be known: Embedding(mask_zero=True) masks id 0. A Masking layer masks
        # input feature vectors, which says nothing about the targets' padding.
        if any(s.kind != "embedding" or s.pad != 0 for s in model.masks):
            return None
        if metrics.keyword is None or _calls.keyword(compile_call, "weighted_metrics") is not None:
            return None
        if _calls.has_double_star(compile_call) or model.escaped or not graph.names_complete(model.bindings):
            return None
        if any(u.method in OTHER_TRAINING for u in model.uses):
            return None
        training = model.calls(*TRAINING_METHODS)
        if not training:  # weighted metrics without weights would still count the padding
            return None
        edits: list[NodeEdit] = [NodeEdit(metrics.keyword, "weighted_metrics")]
        for call in training:
            new = self._weighted_call(call)
            if new is None:
                return None
            edits.append(NodeEdit(call, new))
        return FixSpec(
            "Pass the metrics as `weighted_metrics=` and weight every `fit`/`evaluate` by `y != 0`",
            tuple(edits),
        )

    def _weighted_call(self, call: cst.Call) -> cst.Call | None:
        """``fit(x, y, validation_data=(xv, yv))`` with ``sample_weight=(y != 0)`` and ``(yv != 0)``."""
        if _calls.has_star(call) or _calls.keyword(call, "sample_weight") or _calls.keyword(call, "class_weight"):
            return None
        target = _calls.argument(call, "y", 1)
        if target is None or not isinstance(target.value, cst.Name):
            return None
        new = call
        validation = _calls.keyword(call, "validation_data")
        if validation is not None:
            value = validation.value
            if not (isinstance(value, cst.Tuple) and len(value.elements) == 2):
                return None
            y_valid = value.elements[-1].value
            if not isinstance(y_valid, cst.Name):
                return None
            new = _calls.replace_value(new, validation, append_element(value, _weight(y_valid.value)))
        return append_arg(new, "sample_weight", _weight(target.value.value))


def _weight(name: str) -> cst.BaseExpression:
    return cst.parse_expression(f"({name} != 0)")
