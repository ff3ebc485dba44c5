"""Left-padded sequences fed to a masked cuDNN RNN (catalogue 24, GPU only).

Keras 2 checked the mask at run time and silently used the generic kernel for left padding;
Keras 3 picks cuDNN from the layer's configuration alone and then asserts that the mask is
right-padded. The rule needs three facts from one module, so it stays quiet unless it sees all
of them: `pad_sequences` padding on the left, a masking layer, and a cuDNN-eligible LSTM/GRU.
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._train import string_arg
from kmigrate.engine import Checker
from kmigrate.walk import scan

KM_CUDNN_PADDING = "KM237"

PAD_SEQUENCES = frozenset({"keras.preprocessing.sequence.pad_sequences", "keras.utils.pad_sequences"})
RNNS = {"keras.layers.LSTM": "LSTM", "keras.layers.GRU": "GRU"}


def _literal(node: cst.BaseExpression) -> str:
    """A literal's value as text ("tanh", "True", "0"), else "?"."""
    text = string_arg(node)
    if text is not None:
        return text
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return node.value
    if isinstance(node, (cst.Integer, cst.Float)):
        return str(float(node.value.replace("_", "")))
    return "?"


class _ModuleFacts(cst.CSTVisitor):
    def __init__(self, checker: RnnPaddingChecker) -> None:
        self.names = checker.ctx.names
        self.masked = False
        self.cudnn_rnn: str | None = None

    def visit_Call(self, node: cst.Call) -> None:
        callee = self.names.resolve_keras(node.func)
        if callee == "keras.layers.Masking":
            self.masked = True
        elif callee == "keras.layers.Embedding":
            arg = _calls.keyword(node, "mask_zero")
            self.masked |= arg is not None and _literal(arg.value) == "True"
        elif callee in RNNS and self.cudnn_rnn is None and self._cudnn_eligible(node, callee):
            self.cudnn_rnn = RNNS[callee]

    @staticmethod
    def _cudnn_eligible(node: cst.Call, callee: str) -> bool:
        """Keras 3's ``cudnn_ok`` plus ``recurrent_dropout == 0`` and ``use_cudnn != False``."""
        if _calls.has_double_star(node):
            return False
        required = {
            "activation": ("tanh",),
            "recurrent_activation": ("sigmoid",),
            "unroll": ("False",),
            "use_bias": ("True",),
            "recurrent_dropout": ("0.0",),
            "use_cudnn": ("auto", "True"),
        }
        if callee.endswith("GRU"):
            required["reset_after"] = ("True",)
        for name, allowed in required.items():
            arg = _calls.argument(node, name, 1 if name == "activation" else None)
            if arg is not None and _literal(arg.value) not in allowed:
                return False
        return True


class RnnPaddingChecker(Checker):
    # The finding is on a `pad_sequences` call (the rarest of the three facts it needs).
    needles: ClassVar[frozenset[str]] = frozenset(n.rsplit(".", 1)[-1] for n in PAD_SEQUENCES)
    _facts: _ModuleFacts | None = None

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.names.resolve_keras(node.func) not in PAD_SEQUENCES:
            return
        padding = _calls.argument(node, "padding", 3)
        if padding is not None and string_arg(padding.value) != "pre":
            return
        if self._facts is None:
            self._facts = _ModuleFacts(self)
            scan(self.ctx.module, self._facts)
        if not (self._facts.masked and self._facts.cudnn_rnn):
            return
        self.ctx.report(
            KM_CUDNN_PADDING,
            node if padding is None else padding.value,
            "on a GPU, Keras 3 runs the masked "
            f"`{self._facts.cudnn_rnn}` with cuDNN, which requires right-padded sequences: "
            "`pad_sequences` pads on the left here, so training fails with "
            "`InvalidArgumentError` at the first batch (Keras 2 silently used the generic kernel)",
        )
