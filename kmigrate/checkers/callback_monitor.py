"""Monitoring callbacks: `mode="auto"` on monitors Keras 3 cannot classify (catalogue 21) and
`ReduceLROnPlateau` arguments Keras 3 swallows (catalogue 10).

Keras 3 (``MonitorCallback._set_monitor_op``) classifies a monitor only when, with ``val_``
removed, it is ``loss`` or the exact name of a compiled metric that has a direction; everything
else raises ``ValueError`` at the end of the first epoch. Keras 2 guessed from the name, with a
different rule per callback; the fix writes that guess down, so training behaves exactly as it did.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._train import method_name, string_arg
from kmigrate.engine import Checker, FixSpec, NodeEdit
from kmigrate.walk import scan as walk_scan

KM_UNKNOWN_KWARG, KM_MODE = "KM136", "KM231"

# (positional index of monitor, positional index of mode) in both Keras versions.
MONITOR_CALLBACKS = {
    "keras.callbacks.EarlyStopping": (0, 4),
    "keras.callbacks.ModelCheckpoint": (1, 5),
    "keras.callbacks.ReduceLROnPlateau": (0, 4),
}
RLROP = "keras.callbacks.ReduceLROnPlateau"
_LAST_NAMES = frozenset(n.rpartition(".")[2] for n in MONITOR_CALLBACKS)
RLROP_ARGS = frozenset(
    {"monitor", "factor", "patience", "verbose", "mode", "min_delta", "cooldown", "min_lr"}
)

# Metric identifiers that Keras 3's compile() turns into a metric with a direction, named as
# written (keras 3.15.1, ``compile_utils.get_metric``), and the default names of the metric
# classes that have one. A monitor outside these sets can never be classified by Keras 3.
DIRECTED_IDENTIFIERS = frozenset(
    """AUC Accuracy BCE BinaryAccuracy BinaryCrossentropy BinaryIoU CategoricalAccuracy
    CategoricalCrossentropy CategoricalHinge ConcordanceCorrelation CosineSimilarity F1Score
    FBetaScore Hinge KLDivergence LogCoshError MAE MAPE MSE MSLE MeanAbsoluteError
    MeanAbsolutePercentageError MeanSquaredError MeanSquaredLogarithmicError PearsonCorrelation
    Poisson Precision R2Score Recall RootMeanSquaredError SparseCategoricalAccuracy
    SparseCategoricalCrossentropy SparseTopKCategoricalAccuracy SquaredHinge
    TopKCategoricalAccuracy acc accuracy auc bce binary_accuracy binary_crossentropy
    binary_io_u categorical_accuracy categorical_crossentropy categorical_hinge
    concordance_correlation cosine_similarity f1_score f_beta_score hinge kl_divergence
    log_cosh_error mae mape mean_absolute_error mean_absolute_percentage_error
    mean_squared_error mean_squared_logarithmic_error mse msle pearson_correlation poisson
    precision r2_score recall root_mean_squared_error sparse_categorical_accuracy
    sparse_categorical_crossentropy sparse_top_k_categorical_accuracy squared_hinge
    top_k_categorical_accuracy""".split()
)
DIRECTED_CLASSES = {
    "AUC": "auc", "Accuracy": "accuracy", "BinaryAccuracy": "binary_accuracy",
    "BinaryCrossentropy": "binary_crossentropy", "BinaryIoU": "binary_io_u",
    "CategoricalAccuracy": "categorical_accuracy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "CategoricalHinge": "categorical_hinge", "ConcordanceCorrelation": "concordance_correlation",
    "CosineSimilarity": "cosine_similarity", "F1Score": "f1_score", "FBetaScore": "fbeta_score",
    "Hinge": "hinge", "IoU": "io_u", "KLDivergence": "kl_divergence", "LogCoshError": "logcosh",
    "MeanAbsoluteError": "mean_absolute_error",
    "MeanAbsolutePercentageError": "mean_absolute_percentage_error", "MeanIoU": "mean_io_u",
    "MeanSquaredError": "mean_squared_error",
    "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error",
    "OneHotIoU": "one_hot_io_u", "OneHotMeanIoU": "one_hot_mean_io_u",
    "PearsonCorrelation": "pearson_correlation", "Poisson": "poisson", "Precision": "precision",
    "PrecisionAtRecall": "precision_at_recall", "R2Score": "r2_score", "Recall": "recall",
    "RecallAtPrecision": "recall_at_precision",
    "RootMeanSquaredError": "root_mean_squared_error",
    "SensitivityAtSpecificity": "sensitivity_at_specificity",
    "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "SparseTopKCategoricalAccuracy": "sparse_top_k_categorical_accuracy",
    "SpecificityAtSensitivity": "specificity_at_sensitivity", "SquaredHinge": "squared_hinge",
    "TopKCategoricalAccuracy": "top_k_categorical_accuracy",
}  # fmt: skip


def keras2_mode(callback: str, monitor: str) -> str:
    """The direction Keras 2's ``mode="auto"`` chose (tf_keras/src/callbacks.py)."""
    if callback.endswith("EarlyStopping"):
        up = monitor.endswith(("acc", "accuracy", "auc"))
    elif callback.endswith("ModelCheckpoint"):
        up = "acc" in monitor or monitor.startswith("fmeasure")
    else:
        up = "acc" in monitor
    return "max" if up else "min"


@dataclass
class _Metrics:
    """Directed metric names this module compiles (``complete``: every compile() was readable)."""

    strings: set[str]
    objects: set[str]
    complete: bool


class _MetricScan(cst.CSTVisitor):
    def __init__(self, checker: CallbackChecker) -> None:
        self.checker = checker
        self.strings: set[str] = set()
        self.objects: set[str] = set()
        self.compiles = 0
        self.unreadable = False

    def visit_Call(self, node: cst.Call) -> None:
        name = self.checker.metric_object_name(node)
        if name is not None:
            self.objects.add(name)
        if method_name(node) != "compile" or not any(
            a.keyword is not None and a.keyword.value in ("loss", "optimizer", "metrics")
            for a in node.args
        ):
            return
        self.compiles += 1
        for kw in ("metrics", "weighted_metrics"):
            arg = _calls.keyword(node, kw)
            if arg is not None:
                self._read(arg.value)

    def _read(self, value: cst.BaseExpression, top: bool = True) -> None:
        if isinstance(value, (cst.List, cst.Tuple)):
            for el in value.elements:
                if isinstance(el, cst.StarredElement):
                    self.unreadable = True
                else:
                    self._read(el.value, top=False)
        elif isinstance(value, cst.Dict):
            for el in value.elements:
                if isinstance(el, cst.DictElement):
                    self._read(el.value, top=False)
                else:
                    self.unreadable = True
        elif string_arg(value) is not None:
            text = string_arg(value)
            if text in DIRECTED_IDENTIFIERS:
                self.strings.add(text)  # type: ignore[arg-type]
        elif isinstance(value, cst.Name) and value.value == "None":
            pass
        elif top:
            self.unreadable = True  # metrics=METRICS: the names are elsewhere
        # Inside a list, a call is a metric object (collected by visit_Call when it is a Keras
        # metric) and a name is a function or an object: undirected unless made in this module.


class CallbackChecker(Checker):
    # Both rules fire only on a call that resolves to one of these classes.
    needles = frozenset(name.rsplit(".", 1)[-1] for name in MONITOR_CALLBACKS)

    _metrics: _Metrics | None = None

    def metric_object_name(self, node: cst.Call) -> str | None:
        callee = self.ctx.names.resolve_keras(node.func)
        if callee is None or not callee.startswith("keras.metrics."):
            return None
        default = DIRECTED_CLASSES.get(callee.rsplit(".", 1)[-1])
        if default is None:
            return None
        name = _calls.keyword(node, "name")
        if name is None:
            return default
        return string_arg(name.value) or default

    def _compiled(self) -> _Metrics:
        if self._metrics is None:
            scan = _MetricScan(self)
            walk_scan(self.ctx.module, scan)
            self._metrics = _Metrics(
                scan.strings, scan.objects, scan.compiles > 0 and not scan.unreadable
            )
        return self._metrics

    def classifiable(self, monitor: str) -> bool:
        """Whether Keras 3 can tell the direction of ``monitor`` (keras 3.15.1 rule)."""
        name = monitor[4:] if monitor.startswith("val_") else monitor
        if name == "loss":
            return True
        metrics = self._compiled()
        if name in metrics.objects:
            return True
        if name in DIRECTED_IDENTIFIERS:
            return name in metrics.strings or not metrics.complete
        return False

    def visit_Call(self, node: cst.Call) -> None:
        if not _calls.may_resolve_to(node.func, _LAST_NAMES):
            return
        callee = self.ctx.names.resolve_keras(node.func)
        if callee not in MONITOR_CALLBACKS:
            return
        if callee == RLROP:
            self._unknown_kwargs(node)
        self._mode(node, callee)

    def _unknown_kwargs(self, node: cst.Call) -> None:
        for arg in node.args:
            if arg.keyword is None or arg.keyword.value in RLROP_ARGS:
                continue
            name = arg.keyword.value
            if name == "epsilon":
                continue  # KM135 renames it
            self.ctx.report(
                KM_UNKNOWN_KWARG,
                arg,
                f"Keras 3 `ReduceLROnPlateau` silently discards `{name}=` (it accepts any "
                "keyword and ignores those it does not know)",
            )

    def _mode(self, node: cst.Call, callee: str) -> None:
        if _calls.has_star(node):
            return
        monitor_index, mode_index = MONITOR_CALLBACKS[callee]
        monitor_arg = _calls.argument(node, "monitor", monitor_index)
        if monitor_arg is None:
            return  # "val_loss"
        monitor = string_arg(monitor_arg.value)
        if monitor is None or self.classifiable(monitor):
            return
        mode_arg = _calls.argument(node, "mode", mode_index)
        if mode_arg is not None and string_arg(mode_arg.value) != "auto":
            return
        short = callee.rsplit(".", 1)[-1]
        mode = keras2_mode(callee, monitor)
        if mode_arg is None:
            new = _calls.append(node, "mode", repr(mode).replace("'", '"'))
            edit = NodeEdit(node, new)
        else:
            quote = "'" if mode_arg.value.value.startswith("'") else '"'  # type: ignore[attr-defined]
            edit = NodeEdit(mode_arg.value, f"{quote}{mode}{quote}")
        verb = "maximised" if mode == "max" else "minimised"
        self.ctx.report(
            KM_MODE,
            monitor_arg.value,
            f"`{short}(monitor={monitor!r})` raises `ValueError` at the end of the first epoch in "
            f"Keras 3, which cannot tell whether `{monitor}` should be maximised or minimised "
            f"(Keras 2 {verb} it)",
            FixSpec(f'Pass Keras 2\'s `mode="{mode}"` explicitly', (edit,)),
        )
