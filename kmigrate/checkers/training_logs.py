"""What training reports back: `metrics_names` labels (catalogue 12) and the learning-rate key
in `History`/`logs` (catalogue 20).
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._nodes import statements
from kmigrate.checkers._train import method_name, string_arg
from kmigrate.engine import Checker, FixSpec, NodeEdit

KM_METRICS_NAMES, KM_LR_KEY = "KM137", "KM230"
RESULT_METHODS = ("evaluate", "test_on_batch", "train_on_batch")
FIT_METHODS = ("fit", "fit_generator")
HOOK_CALLBACK = "keras.callbacks.LambdaCallback"
METRICS_NAMES, LR_KEY = "metrics_names", "lr"


class _HistoryScan:
    """Names bound to ``<...>.history`` or to ``model.fit(...)``, and writes of ``logs["lr"]``."""

    def __init__(self, module: cst.Module) -> None:
        self.history_names: set[str] = set()
        self.fit_names: set[str] = set()
        self.other_names: set[str] = set()
        self.writes_lr = False
        for stmt in statements(module):
            if type(stmt) is cst.Assign:
                self._assign(stmt)

    def _assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            t = target.target
            if isinstance(t, cst.Subscript) and _lr_key(t) is not None:
                self.writes_lr = True
            if not isinstance(t, cst.Name):
                continue
            value = node.value
            if isinstance(value, cst.Attribute) and value.attr.value == "history":
                self.history_names.add(t.value)
            elif isinstance(value, cst.Call) and method_name(value) in FIT_METHODS:
                self.fit_names.add(t.value)
            else:
                self.other_names.add(t.value)


def _own_metrics_names(module: cst.Module) -> bool:
    """``def metrics_names`` or an assignment to ``self.metrics_names`` in ``module``."""
    for stmt in statements(module):
        if type(stmt) is cst.FunctionDef and stmt.name.value == METRICS_NAMES:
            return True
        if type(stmt) is cst.Assign:
            for node in stmt.targets:
                t = node.target
                if isinstance(t, cst.Attribute) and t.attr.value == METRICS_NAMES and _is_self(t.value):
                    return True
    return False


def _is_self(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "self"


def _lr_key(node: cst.Subscript) -> cst.SimpleString | None:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    value = node.slice[0].slice.value
    return value if isinstance(value, cst.SimpleString) and string_arg(value) == LR_KEY else None


def _quoted(template: cst.SimpleString, text: str) -> str:
    prefix = template.prefix
    quote = template.quote
    return f"{prefix}{quote}{text}{quote}"


class TrainingLogsChecker(Checker):
    # KM137 reads the attribute `metrics_names`, KM230 the string key "lr" as spelled (a key
    # written only with escapes, "\x6cr", goes unseen, as with the rule tables' strings).
    needles: ClassVar[frozenset[str]] = frozenset({METRICS_NAMES, LR_KEY})

    _scan: _HistoryScan | None = None
    _handled: set[int]
    _own_names: bool | None = None

    def visit_Module(self, node: cst.Module) -> None:
        self._handled = set()
        self._own_names = None

    # ------------------------------------------------------------ metrics_names (12)
    def visit_Call(self, node: cst.Call) -> None:
        self._evaluate_zip(node)
        self._get_lr(node)

    def _evaluate_zip(self, node: cst.Call) -> None:
        if not (type(node.func) is cst.Name and node.func.value == "dict" and len(node.args) == 1):
            return
        inner = node.args[0].value
        if node.args[0].keyword is not None or node.args[0].star or not isinstance(inner, cst.Call):
            return
        if not (isinstance(inner.func, cst.Name) and inner.func.value == "zip" and len(inner.args) == 2):
            return
        names, results = inner.args[0].value, inner.args[1].value
        if any(a.keyword is not None or a.star for a in inner.args):
            return
        if not (isinstance(names, cst.Attribute) and names.attr.value == METRICS_NAMES):
            return
        if not (isinstance(results, cst.Call) and method_name(results) in RESULT_METHODS):
            return
        receiver = results.func.value  # type: ignore[attr-defined]
        if self.ctx.code_for(receiver) != self.ctx.code_for(names.value):
            return
        if _calls.keyword(results, "return_dict") is not None or _calls.has_double_star(results):
            return
        self._handled.add(id(names))
        method = method_name(results)
        model = self.ctx.code_for(names.value)
        self.ctx.report(
            KM_METRICS_NAMES,
            node,
            f"`{model}.metrics_names` is `['loss', 'compile_metrics']` in Keras 3 while "
            f"`{method}()` still returns every metric: this dict mislabels the first metric "
            "and drops the others",
            FixSpec(
                f"Use `{method}(..., return_dict=True)`",
                (NodeEdit(node, _calls.append(results, "return_dict", "True")),),
            ),
        )

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value != METRICS_NAMES or id(node) in self._handled:
            return
        if not self.ctx.names.imports_keras:
            return
        parent = self.ctx.parent()
        if isinstance(parent, (cst.AssignTarget, cst.AugAssign)) or (
            isinstance(parent, cst.AnnAssign) and parent.target is node
        ):
            return  # a class of your own defining the attribute
        if _is_self(node.value) and self._defines_metrics_names():
            return  # read back from a class of your own that defines it (elsewhere in this file)
        self.ctx.report(
            KM_METRICS_NAMES,
            node,
            f"`{self.ctx.code_for(node)}` is `['loss', 'compile_metrics']` in Keras 3, not the "
            "names of the compiled metrics: labels taken from it are wrong (use "
            "`return_dict=True` or the keys of `history.history`)",
        )

    def _defines_metrics_names(self) -> bool:
        """Whether this file defines ``metrics_names`` itself: ``def metrics_names`` or an
        assignment to ``self.metrics_names``."""
        if self._own_names is None:
            self._own_names = _own_metrics_names(self.ctx.module)
        return self._own_names

    # ------------------------------------------------------------ "lr" key (20)
    def _history(self) -> _HistoryScan:
        if self._scan is None:
            self._scan = _HistoryScan(self.ctx.module)
        return self._scan

    def _is_log_dict(self, node: cst.BaseExpression) -> bool:
        """``*.history``, a name bound to one, or a callback hook's ``logs`` parameter."""
        if isinstance(node, cst.Attribute):
            if isinstance(node.value, cst.Name):
                # An instance of another library's class (`CyclicLR().history`) keeps its own keys.
                made_by = self.ctx.names.instance_of(node.value)
                if made_by is not None and not made_by.startswith("keras."):
                    return False
            return node.attr.value == "history" and self.ctx.names.imports_keras
        if not isinstance(node, cst.Name):
            return False
        scan = self._history()
        if node.value in scan.history_names and node.value not in scan.other_names | scan.fit_names:
            return self.ctx.names.imports_keras
        return self._is_logs_parameter(node.value)

    def _is_logs_parameter(self, name: str) -> bool:
        for i in range(len(self.ctx.ancestors) - 2, -1, -1):
            node = self.ctx.ancestors[i]
            if isinstance(node, cst.FunctionDef):
                params = node.params.params
                return (
                    node.name.value.startswith("on_")
                    and bool(params)
                    and params[-1].name.value == name
                    and self.ctx.names.imports_keras
                )
            if isinstance(node, cst.Lambda):
                params = node.params.params
                if not params or params[-1].name.value != name:
                    return False
                arg = self.ctx.ancestors[i - 1] if i >= 1 else None
                call = self.ctx.ancestors[i - 2] if i >= 2 else None
                return (
                    isinstance(arg, cst.Arg)
                    and arg.keyword is not None
                    and arg.keyword.value.startswith("on_")
                    and isinstance(call, cst.Call)
                    and self.ctx.names.resolve_keras(call.func) == HOOK_CALLBACK
                )
        return False

    def _report_lr(self, key: cst.SimpleString, receiver: cst.BaseExpression) -> None:
        if self._history().writes_lr:
            return  # this module's own callback logs "lr": reading it back is right
        self.ctx.report(
            KM_LR_KEY,
            key,
            f"Keras 3 learning-rate callbacks log `learning_rate`, not `lr`: reading "
            f"`{self.ctx.code_for(receiver)}` with the key `'lr'` fails (or finds nothing)",
            FixSpec(
                'Use the key "learning_rate"', (NodeEdit(key, _quoted(key, "learning_rate")),)
            ),
        )

    def visit_Subscript(self, node: cst.Subscript) -> None:
        key = _lr_key(node)
        if key is None or not self._is_log_dict(node.value):
            return
        parent = self.ctx.parent()
        if isinstance(parent, (cst.AssignTarget, cst.Del)) or (
            isinstance(parent, (cst.AugAssign, cst.AnnAssign)) and parent.target is node
        ):
            return  # writing the key is the user's own choice
        self._report_lr(key, node.value)

    def _get_lr(self, node: cst.Call) -> None:
        if method_name(node) != "get" or not node.args or node.args[0].keyword is not None:
            return
        key = node.args[0].value
        if not (isinstance(key, cst.SimpleString) and string_arg(key) == LR_KEY):
            return
        receiver = node.func.value  # type: ignore[attr-defined]
        if self._is_log_dict(receiver):
            self._report_lr(key, receiver)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if len(node.comparisons) != 1 or not isinstance(node.left, cst.SimpleString):
            return
        target = node.comparisons[0]
        if not isinstance(target.operator, (cst.In, cst.NotIn)) or string_arg(node.left) != LR_KEY:
            return
        if self._is_log_dict(target.comparator):
            self._report_lr(node.left, target.comparator)
