"""Activations, regularizers and seeds whose meaning changed silently (catalogue 3, 4, 7, 14)."""

from __future__ import annotations

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._keras3 import HARD_SIGMOID_K2, ModuleFacts, chain_top, hard_sigmoid_k2, is_load
from kmigrate.engine import Checker, Context, FixSpec, NodeEdit

KM_HARD_SIGMOID, KM_CONVLSTM, KM_L1_L2, KM_SEED = "KM105", "KM106", "KM107", "KM108"

ACTIVATION_KEYWORDS = ("activation", "recurrent_activation")
HARD_SIGMOID_NAMES = ("keras.activations.hard_sigmoid", "keras.backend.hard_sigmoid")
CONVLSTM = ("keras.layers.ConvLSTM1D", "keras.layers.ConvLSTM2D", "keras.layers.ConvLSTM3D")
CONVLSTM_RECURRENT_INDEX = 7  # filters, kernel_size, strides, padding, data_format, dilation_rate, activation
TF_SEEDS = (
    "tensorflow.random.set_seed",
    "tensorflow.compat.v1.set_random_seed",
    "tensorflow.compat.v1.random.set_random_seed",
    "tensorflow.set_random_seed",
)
L1_L2 = "keras.regularizers.l1_l2"
L1_L2_DEFAULT = "0.01"


class ActivationChecker(Checker):
    # KM105: the string or the function name `hard_sigmoid`; KM106, KM107, KM108: the callee.
    needles = frozenset(
        name.rsplit(".", 1)[-1] for name in (*HARD_SIGMOID_NAMES, *CONVLSTM, L1_L2, *TF_SEEDS)
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.facts = ModuleFacts(ctx)
        # Local names bound by ``from ... import hard_sigmoid [as x]``: Name visits are the
        # most frequent, so they only do a set lookup.
        self.hard_sigmoid_names = {
            name for name, b in ctx.names.bindings.items() if b.raw.endswith(".hard_sigmoid")
        }

    # ------------------------------------------------------------ hard_sigmoid (3)
    def _hard_sigmoid_fix(self, node: cst.CSTNode) -> FixSpec:
        return FixSpec(
            "Use `hard_sigmoid_k2`, Keras 2's hard_sigmoid",
            (NodeEdit(node, HARD_SIGMOID_K2), *hard_sigmoid_k2(self.ctx)),
        )

    def _report_string(self, arg: cst.Arg, shown: str) -> None:
        self.facts.report_unless_keras3(
            KM_HARD_SIGMOID,
            arg.value,
            f"`{shown}` computes clip(x/6 + 0.5, 0, 1) in Keras 3, not Keras 2's "
            "clip(0.2x + 0.5, 0, 1): outputs change wherever |x| < 3",
            self._hard_sigmoid_fix(arg.value),
        )

    def _strings(self, node: cst.Call, callee: str) -> None:
        for kw in ACTIVATION_KEYWORDS:
            arg = _calls.keyword(node, kw)
            if arg is not None and _calls.string_value(arg.value) == "hard_sigmoid":
                self._report_string(arg, f'{kw}="hard_sigmoid"')
        if callee in ("keras.layers.Activation", "keras.activations.get"):
            arg = _calls.argument(node, "activation" if callee.endswith("Activation") else "identifier", 0)
            if arg is not None and arg.keyword is None and _calls.string_value(arg.value) == "hard_sigmoid":
                shown = "activations.get" if callee.endswith(".get") else "Activation"
                self._report_string(arg, f'{shown}("hard_sigmoid")')

    def _reference(self, node: cst.Name | cst.Attribute) -> None:
        if not chain_top(self.ctx, node) or not is_load(self.ctx, node):
            return
        name = self.ctx.names.resolve_keras(node)
        if name not in HARD_SIGMOID_NAMES:
            return
        if name == "keras.backend.hard_sigmoid":
            message = (
                "`K.hard_sigmoid` is not in Keras 3's `keras.backend` (only the legacy `tf.keras.backend` "
                "keeps it), and its namesakes `keras.ops`/`activations.hard_sigmoid` compute "
                "clip(x/6 + 0.5, 0, 1), not clip(0.2x + 0.5, 0, 1)"
            )
        else:
            message = (
                "`activations.hard_sigmoid` computes clip(x/6 + 0.5, 0, 1) in Keras 3, not Keras 2's "
                "clip(0.2x + 0.5, 0, 1): outputs change wherever |x| < 3"
            )
        # K.hard_sigmoid is not Keras 3 code; activations.hard_sigmoid can be.
        report = self.ctx.report if name == "keras.backend.hard_sigmoid" else self.facts.report_unless_keras3
        report(KM_HARD_SIGMOID, node, message, self._hard_sigmoid_fix(node))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.facts.see(node)
        if node.attr.value == "hard_sigmoid":
            self._reference(node)

    def leave_Module(self, node: cst.Module) -> None:
        self.facts.flush()

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in self.hard_sigmoid_names:
            self._reference(node)

    # ------------------------------------------------------------ calls
    def visit_Call(self, node: cst.Call) -> None:
        callee = self.ctx.names.resolve(node.func)
        if callee is None:
            return
        if callee.startswith("keras."):  # only names from a Keras package canonicalise to this
            self._strings(node, callee)
            if callee in CONVLSTM:
                self._convlstm(node, callee)
            elif callee == L1_L2:
                self._l1_l2(node)
        elif callee in TF_SEEDS:
            self._seed(node)

    def _convlstm(self, node: cst.Call, callee: str) -> None:
        if _calls.has_star(node) or _calls.argument(
            node, "recurrent_activation", CONVLSTM_RECURRENT_INDEX
        ) is not None:
            return
        short = callee.rsplit(".", 1)[-1]
        self.facts.report_unless_keras3(
            KM_CONVLSTM,
            node,
            f"`{short}`'s default `recurrent_activation` is `sigmoid` in Keras 3, not Keras 2's "
            "`hard_sigmoid`: the same weights give different outputs",
            FixSpec(
                "Pass Keras 2's `recurrent_activation=hard_sigmoid_k2`",
                (
                    NodeEdit(node, _calls.append(node, "recurrent_activation", HARD_SIGMOID_K2)),
                    *hard_sigmoid_k2(self.ctx),
                ),
            ),
        )

    def _l1_l2(self, node: cst.Call) -> None:
        if _calls.has_star(node):
            return
        missing = [
            name for index, name in enumerate(("l1", "l2")) if _calls.argument(node, name, index) is None
        ]
        if not missing:
            return
        call = node
        for name in missing:
            call = _calls.append(call, name, L1_L2_DEFAULT)
        if len(missing) == 2:
            message = "`l1_l2()` penalises nothing in Keras 3: both strengths default to 0.0, not Keras 2's 0.01"
        else:
            message = (
                f"`l1_l2()` without `{missing[0]}=` gets {missing[0]}=0.0 in Keras 3, not Keras 2's 0.01: "
                "that part of the penalty disappears"
            )
        self.facts.report_unless_keras3(
            KM_L1_L2,
            node,
            message,
            FixSpec("Pass Keras 2's default strengths explicitly", (NodeEdit(node, call),)),
        )

    # ------------------------------------------------------------ seeds (14)
    def _seed(self, node: cst.Call) -> None:
        func, imports = self.ctx.spell("keras.utils.set_random_seed")
        seed = _calls.argument(node, "seed", 0)
        # keras.utils.set_random_seed insists on a Python int; a variable may hold anything.
        safe = seed is not None and isinstance(seed.value, cst.Integer)
        new = node.with_changes(func=cst.parse_expression(func))
        self.facts.report_if_uses_keras(
            KM_SEED,
            node,
            f"`{self.ctx.code_for(node.func)}()` no longer seeds Keras 3's dropout and other random "
            "layers (they draw seeds from Python's `random`): runs are not repeatable",
            FixSpec(
                "Seed Python, NumPy and TensorFlow with `keras.utils.set_random_seed`",
                (NodeEdit(node, new), *imports),
                "safe" if safe else "unsafe",
            ),
        )
