"""Checker of the test-only rule KM199: renames `K.argmax(x)` without keeping `axis=-1`."""

from __future__ import annotations

import libcst as cst

from kmigrate.engine import Checker, FixSpec, InsertImport, NodeEdit


class NaiveArgmaxChecker(Checker):
    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.names.resolve_keras(node.func) != "keras.backend.argmax" or len(node.args) != 1:
            return
        fix = FixSpec(
            "Replace `K.argmax(x)` with `keras.ops.argmax(x)`",
            (NodeEdit(node.func, "keras.ops.argmax"), InsertImport("import keras")),
        )
        self.ctx.report("KM199", node, fix=fix)
