"""Removed layer arguments and classes that need more than a table (catalogue 44, 49)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from kmigrate.checkers import _calls, _renames
from kmigrate.engine import Checker, FixSpec, NodeEdit

KM_TIME_MAJOR, KM_CONSTANTS, KM_THRESHOLDED = "KM309", "KM310", "KM314"
THRESHOLDED = "keras.layers.ThresholdedReLU"
RELU = "keras.layers.ReLU"
THETA_DEFAULT = "1.0"  # Keras 2's ThresholdedReLU(theta=1.0)


class LayerArgsChecker(Checker):
    # The keywords KM309/KM310 look for, and the class KM314 reports (call or import).
    needles: ClassVar[frozenset[str]] = frozenset({"time_major", "constants", THRESHOLDED.rsplit(".", 1)[-1]})

    def visit_Call(self, node: cst.Call) -> None:
        names = self.ctx.names
        callee = names.resolve_keras(node.func)
        if callee is not None and callee.startswith("keras.layers."):
            self._time_major(node, callee)
            if callee == THRESHOLDED:
                self._thresholded(node)
        if _calls.keyword(node, "constants") is not None:
            self._constants(node)

    # ------------------------------------------------------------ time_major (44)
    def _time_major(self, node: cst.Call, callee: str) -> None:
        arg = _calls.keyword(node, "time_major")
        if arg is None:
            return
        short = callee.rsplit(".", 1)[-1]
        false = isinstance(arg.value, cst.Name) and arg.value.value == "False"
        if false:
            message = f"`{short}(time_major=False)` raises `ValueError: Unrecognized keyword arguments` in Keras 3; False is the only layout Keras 3 has"
            fix = FixSpec("Remove `time_major=False`", (NodeEdit(node, _calls.remove(node, "time_major")),))
        else:
            message = (
                f"`{short}(time_major=...)` raises `ValueError: Unrecognized keyword arguments` in Keras 3, "
                "which only takes (batch, time, features): transpose the input with "
                "`keras.ops.transpose(x, (1, 0, 2))` around the layer"
            )
            fix = None
        self.ctx.report(KM_TIME_MAJOR, arg, message, fix)

    # ------------------------------------------------------------ constants (44)
    def _constants(self, node: cst.Call) -> None:
        names = self.ctx.names
        func = node.func
        if isinstance(func, cst.Call):
            layer = names.resolve_keras(func.func)
        else:
            layer = names.instance_of(func)
        if layer is None or not layer.startswith("keras.layers."):
            return
        arg = _calls.keyword(node, "constants")
        assert arg is not None
        self.ctx.report(
            KM_CONSTANTS,
            arg,
            "Keras 3 RNN layers take no `constants=` (`TypeError: got an unexpected keyword argument "
            "'constants'`): pass the constants to the cell another way",
        )

    # ------------------------------------------------------------ ThresholdedReLU (49)
    def _thresholded(self, node: cst.Call) -> None:
        fix = None
        theta = _calls.argument(node, "theta", 0)
        extra_positional = _calls.positional(node, 1) is not None
        if not _calls.has_star(node) and not extra_positional:
            swapped = _renames.swap_class(self.ctx, node.func, RELU)
            if swapped is not None:
                func, edits = swapped
                value = self.ctx.code_for(theta.value) if theta is not None else THETA_DEFAULT
                rest = [a for a in node.args if a is not theta]
                call = node.with_changes(func=cst.parse_expression(func), args=rest)
                call = _calls.with_args(call, [_calls.kwarg("threshold", value), *rest])
                fix = FixSpec("Use `ReLU(threshold=theta)`", (NodeEdit(node, call), *edits))
        origin = self.ctx.names.origin_of(node.func) or ""
        if origin.startswith("tensorflow."):
            # Keras 3's tf.keras compatibility namespace keeps a legacy copy; keras.layers does not.
            message = ("`ThresholdedReLU` is not in Keras 3's `keras.layers` (only a legacy copy remains in "
                       "the `tf.keras` namespace); `ReLU(threshold=theta)` computes the same values")
        else:
            message = ("`ThresholdedReLU` does not exist in Keras 3 (`AttributeError`); "
                       "`ReLU(threshold=theta)` computes the same values")
        self.ctx.report(KM_THRESHOLDED, node, message, fix)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        for alias, _ in _renames.report_import(self.ctx, node, THRESHOLDED):
            edit = _renames.import_fix(self.ctx, node, alias, RELU)
            self.ctx.report(
                KM_THRESHOLDED,
                alias,
                "`ThresholdedReLU` cannot be imported from Keras 3 (`ImportError`); "
                "`ReLU(threshold=theta)` computes the same values",
                FixSpec("Import `ReLU`", (edit,)) if edit is not None else None,
            )
