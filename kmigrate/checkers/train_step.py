"""Custom training code: `optimizer.minimize`/`get_updates`/`get_weights` (catalogue 29) and ops
that XLA cannot compile under Keras 3's `jit_compile="auto"` (catalogue 25).
"""

from __future__ import annotations

import re
from typing import ClassVar

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._train import (
    MODEL_CLASSES,
    base_names,
    is_optimizer,
    method_name,
    statement_indent,
    whole_statement,
)
from kmigrate.engine import Checker, FixSpec, NodeEdit
from kmigrate.names import dotted
from kmigrate.walk import scan

KM_MINIMIZE, KM_STATE_API, KM_JIT = "KM234", "KM235", "KM236"

STEP_METHODS = frozenset({"call", "train_step", "test_step", "predict_step"})
# TF ops that XLA cannot compile (host callbacks, strings, ragged/sparse tables, decoding).
# Ops that XLA merely compiles slowly, or with dynamic shapes it sometimes handles, are left out.
NON_XLA_EXACT = frozenset(
    {
        "tensorflow.py_function",
        "tensorflow.numpy_function",
        "tensorflow.compat.v1.py_func",
        "tensorflow.as_string",
        "tensorflow.RaggedTensor.from_tensor",
        "tensorflow.RaggedTensor.from_row_lengths",
        "tensorflow.RaggedTensor.from_row_splits",
        "tensorflow.RaggedTensor.from_value_rowids",
    }
)
NON_XLA_PREFIXES = (
    "tensorflow.strings.",
    "tensorflow.ragged.",
    "tensorflow.lookup.",
    "tensorflow.io.decode_",
    "tensorflow.io.parse_",
    "tensorflow.image.decode_",
)


def _plain_reference(node: cst.BaseExpression) -> bool:
    """A name/attribute chain, or a list/tuple of them: safe to evaluate twice."""
    if dotted(node) is not None:
        return True
    if isinstance(node, (cst.List, cst.Tuple)):
        return all(
            not isinstance(e, cst.StarredElement) and dotted(e.value) is not None
            for e in node.elements
        )
    return False


def _xla_words() -> frozenset[str]:
    """A word each non-XLA op's resolved name spells: its own name, or its module's last part
    (``tensorflow.io.decode_png`` needs ``io``: ``decode_`` is only the start of a word)."""
    exact = {name.rpartition(".")[2] for name in NON_XLA_EXACT}
    return frozenset(exact | {prefix.rpartition(".")[0].rpartition(".")[2] for prefix in NON_XLA_PREFIXES})


class TrainStepChecker(Checker):
    # KM234 and KM235 judge `.minimize(`/`.get_updates(`/`.get_weights(` calls (`set_weights` only
    # where `get_weights` is read too); KM236 a non-XLA op, rarer than the `call`/`*_step` it sits in.
    needles: ClassVar[frozenset[str]] = frozenset({"minimize", "get_updates", "get_weights"}) | _xla_words()

    _compiles: list[cst.Call] | None = None
    _jit_chosen = False
    _reads_weights: bool | None = None

    # ------------------------------------------------------------ optimizer API (29)
    def visit_Call(self, node: cst.Call) -> None:
        method = method_name(node)
        if method == "minimize":
            receiver = node.func.value  # type: ignore[attr-defined]
            if self._keras_optimizer(receiver) or (
                _calls.keyword(node, "tape") is not None and self._unknown(receiver)
            ):
                self._minimize(node, receiver)
        elif method in ("get_updates", "get_weights", "set_weights"):
            receiver = node.func.value  # type: ignore[attr-defined]
            if not is_optimizer(self.ctx, receiver):
                return
            # Keras 3 has `set_weights()` (with its own layout): only a module that also reads
            # Keras 2 optimizer weights is provably moving Keras 2 state.
            if method != "set_weights" or self._reads_optimizer_weights():
                self._state_api(node, receiver, method)
        else:
            self._jit(node)

    def _keras_optimizer(self, receiver: cst.BaseExpression) -> bool:
        """``*.optimizer`` or a name bound to a Keras optimizer. A bare ``optimizer`` is not
        enough here: TF1 optimizers (``tf.compat.v1.train.*``) have ``minimize`` too."""
        if isinstance(receiver, cst.Name):
            return (self.ctx.names.instance_of(receiver) or "").startswith("keras.optimizers.")
        return is_optimizer(self.ctx, receiver)

    def _unknown(self, receiver: cst.BaseExpression) -> bool:
        """Not a name bound to something else: ``tape=`` is Keras-2 optimizer only."""
        if isinstance(receiver, cst.Name):
            return self.ctx.names.instance_of(receiver) is None and self.ctx.names.imports_keras
        return False

    def _minimize(self, node: cst.Call, receiver: cst.BaseExpression) -> None:
        opt = self.ctx.code_for(receiver)
        loss = _calls.argument(node, "loss", 0)
        var_list = _calls.argument(node, "var_list", 1)
        tape = _calls.argument(node, "tape", 4)
        fix = None
        if (
            loss is not None
            and var_list is not None
            and tape is not None
            and _calls.argument(node, "grad_loss", 2) is None
            and not _calls.has_star(node)
            and _plain_reference(var_list.value)
            and whole_statement(self.ctx, node)
        ):
            grads = self._fresh_name("grads", "gradients")
            variables = self.ctx.code_for(var_list.value)
            nl = self.ctx.module.default_newline
            text = (
                f"{grads} = {self.ctx.code_for(tape.value)}.gradient("
                f"{self.ctx.code_for(loss.value)}, {variables}){nl}"
                f"{statement_indent(self.ctx)}{opt}.apply_gradients(zip({grads}, {variables}))"
            )
            fix = FixSpec(
                "Compute the gradients with the tape and call `apply_gradients`",
                (NodeEdit(self.ctx.parent(), text),),  # type: ignore[arg-type]
            )
        self.ctx.report(
            KM_MINIMIZE,
            node,
            f"Keras 3 optimizers have no `minimize()`: `{opt}.minimize(...)` raises "
            "`AttributeError` at the first training step",
            fix,
        )

    def _fresh_name(self, *candidates: str) -> str:
        scope: cst.CSTNode = self.ctx.module
        for anc in reversed(self.ctx.ancestors[:-1]):
            if isinstance(anc, cst.FunctionDef):
                scope = anc
                break
        code = self.ctx.code_for(scope)
        for name in candidates:
            if not re.search(rf"\b{name}\b", code):
                return name
        return candidates[-1] + "_"

    def _reads_optimizer_weights(self) -> bool:
        if self._reads_weights is None:
            ctx, found = self.ctx, [False]

            class Reads(cst.CSTVisitor):
                def visit_Call(self, node: cst.Call) -> None:
                    if method_name(node) == "get_weights":
                        found[0] |= is_optimizer(ctx, node.func.value)  # type: ignore[attr-defined]

            scan(self.ctx.module, Reads())
            self._reads_weights = found[0]
        return self._reads_weights

    def _state_api(self, node: cst.Call, receiver: cst.BaseExpression, method: str) -> None:
        opt = self.ctx.code_for(receiver)
        if method == "get_updates":
            message = (
                f"`{opt}.get_updates()` does not exist in Keras 3 (`AttributeError`): compute "
                "gradients with a `GradientTape` and call `apply_gradients`"
            )
        elif method == "get_weights":
            message = (
                f"Keras 3 optimizers have no `get_weights()` (`AttributeError`): read "
                f"`{opt}.variables` instead"
            )
        else:
            message = (
                f"Keras 3's `{opt}.set_weights()` expects Keras 3's variable layout (`iteration`, "
                "`learning_rate`, then each variable's slots), not Keras 2's: the weights read "
                "here fail with `ValueError` or land in the wrong slots"
            )
        self.ctx.report(KM_STATE_API, node, message)

    # ------------------------------------------------------------ XLA (25)
    def _scan_compiles(self) -> list[cst.Call]:
        if self._compiles is None:
            found: list[cst.Call] = []
            jit = [False]

            class Compiles(cst.CSTVisitor):
                def visit_Call(self, node: cst.Call) -> None:
                    if method_name(node) != "compile" or not any(
                        a.keyword is not None and a.keyword.value in ("loss", "optimizer", "metrics")
                        for a in node.args
                    ):
                        return
                    if _calls.keyword(node, "jit_compile") is not None or _calls.has_double_star(node):
                        jit[0] = True
                    found.append(node)

            scan(self.ctx.module, Compiles())
            self._compiles = found
            self._jit_chosen = jit[0]
        return self._compiles

    def _in_step_method(self) -> bool:
        """Inside ``call``/``*_step`` of a Keras layer or model subclass (nested helpers too)."""
        function: cst.FunctionDef | None = None
        for anc in reversed(self.ctx.ancestors[:-1]):
            if isinstance(anc, cst.FunctionDef):
                function = anc
            elif isinstance(anc, cst.ClassDef):
                if function is None or function.name.value not in STEP_METHODS:
                    return False
                return any(
                    b in MODEL_CLASSES or b.startswith("keras.layers.") for b in base_names(self.ctx, anc)
                )
        return False

    def _jit(self, node: cst.Call) -> None:
        name = self.ctx.names.resolve(node.func)
        if name is None or not (name in NON_XLA_EXACT or name.startswith(NON_XLA_PREFIXES)):
            return
        if not self._in_step_method():
            return
        compiles = self._scan_compiles()
        if self._jit_chosen:
            return  # the author already decided about XLA
        edits = tuple(NodeEdit(c, _calls.append(c, "jit_compile", "False")) for c in compiles)
        short = self.ctx.code_for(node.func)
        method = self._method_name()
        self.ctx.report(
            KM_JIT,
            node,
            f"on a GPU, Keras 3 compiles `{method}` with XLA by default (`jit_compile=\"auto\"`) "
            f"and XLA cannot compile `{short}`: training fails at the first step",
            FixSpec("Pass `jit_compile=False` to `compile()`", edits) if edits else None,
        )

    def _method_name(self) -> str:
        for anc in reversed(self.ctx.ancestors[:-1]):
            if isinstance(anc, cst.FunctionDef):
                name = anc.name.value
                if name in STEP_METHODS:
                    return name
        return "call"
