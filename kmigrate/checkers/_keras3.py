"""Module-level facts shared by the layer and activation checkers.

Some Keras 2 idioms are also valid, unchanged Keras 3 code: the string ``"hard_sigmoid"``, a
``ConvLSTM2D`` relying on its defaults, ``BatchNormalization`` after a convolution. In code
written for Keras 3 they mean the Keras 3 behaviour, and "restoring" Keras 2's would be a
regression. Such findings are therefore withheld in modules that use an API only Keras 3 has
(``keras.ops``, ``keras.Variable``, ``keras.random``, ...).
"""

from __future__ import annotations

import libcst as cst

from kmigrate.engine import Context, FixSpec, InsertBlock, InsertImport
from kmigrate.names import keras_origin

# Canonical prefixes that no Keras 2 (tf.keras, tf_keras, keras 2.x) ever exported.
KERAS3_ONLY = (
    "keras.ops",
    "keras.Variable",
    "keras.random",
    "keras.config",
    "keras.tree",
    "keras.KerasTensor",
    "keras.utils.PyDataset",
)
_MARKER_ATTRS = frozenset(p.split(".")[1] for p in KERAS3_ONLY) | {"PyDataset"}


def _is_keras3_name(name: str | None) -> bool:
    return name is not None and any(name == p or name.startswith(p + ".") for p in KERAS3_ONLY)


class ModuleFacts:
    """Whether the module is Keras 3 code / uses Keras at all, learnt during the main visit.

    The facts are only complete at the end of the module, so findings that depend on them are
    queued and reported from ``leave_Module``: a checker calls :meth:`see` from its
    ``visit_Attribute`` and :meth:`flush` from its ``leave_Module``. No extra pass over the
    tree is needed.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        bindings = ctx.names.bindings.values()
        self.keras3 = any(
            not b.instance and keras_origin(b.raw) and _is_keras3_name(b.canonical) for b in bindings
        )
        self.uses_keras = any(keras_origin(b.raw) for b in bindings)
        self._unless_keras3: list[tuple[str, cst.CSTNode, str, FixSpec | None]] = []
        self._if_keras: list[tuple[str, cst.CSTNode, str, FixSpec | None]] = []

    def see(self, node: cst.Attribute) -> None:
        attr = node.attr.value
        if not self.keras3 and attr in _MARKER_ATTRS:
            raw = self.ctx.names.raw(node)
            if raw is not None and keras_origin(raw) and _is_keras3_name(self.ctx.names.resolve(node)):
                self.keras3 = True
        elif not self.uses_keras and attr == "keras":
            raw = self.ctx.names.raw(node)
            self.uses_keras = raw is not None and keras_origin(raw) is not None

    def report_unless_keras3(self, code: str, node: cst.CSTNode, message: str, fix: FixSpec | None) -> None:
        self._unless_keras3.append((code, node, message, fix))

    def report_if_uses_keras(self, code: str, node: cst.CSTNode, message: str, fix: FixSpec | None) -> None:
        self._if_keras.append((code, node, message, fix))

    def flush(self) -> None:
        if not self.keras3:
            for code, node, message, fix in self._unless_keras3:
                self.ctx.report(code, node, message, fix)
        if self.uses_keras:
            for code, node, message, fix in self._if_keras:
                self.ctx.report(code, node, message, fix)


HARD_SIGMOID_K2 = "hard_sigmoid_k2"


def hard_sigmoid_k2(ctx: Context) -> tuple[InsertBlock, ...]:
    """Edits that define ``hard_sigmoid_k2`` (Keras 2's hard_sigmoid) once in the module.

    It is spelled through the module's own Keras (``tf.keras`` stays ``tf.keras``) and uses
    only ``utils.register_keras_serializable`` and ``activations.relu(..., max_value=1.0)``,
    which every Keras has: Keras 3's ``tf.keras`` namespace (``keras._tf_keras``) has no
    ``saving`` module, and Keras 2 has no ``ops``. So the module also still runs on Keras 2.
    The arithmetic is Keras 2's (multiply, add, clip), so the values are bit-identical
    (catalogue 3).

    The block goes below the module's last top-level TensorFlow/Keras import: scripts often
    set environment variables (``TF_USE_LEGACY_KERAS``, ``CUDA_VISIBLE_DEVICES``) before
    importing TensorFlow, and an import the block needs is put inside the block, not above them.
    """
    root, imports = ctx.spell("keras")
    indent = ctx.module.default_indent
    header = "".join(i.statement + "\n" for i in imports if isinstance(i, InsertImport))
    text = (
        (header + "\n\n" if header else "")
        + f'@{root}.utils.register_keras_serializable(package="kmigrate")\n'
        f"def {HARD_SIGMOID_K2}(x):\n"
        f'{indent}"""Keras 2\'s `hard_sigmoid`, clip(0.2 * x + 0.5, 0, 1); Keras 3 redefined the name."""\n'
        f"{indent}return {root}.activations.relu(0.2 * x + 0.5, max_value=1.0)\n"
    )
    after = {root.split(".")[0]} | {
        name
        for name, b in ctx.names.bindings.items()
        if not b.instance and (keras_origin(b.raw) or b.raw.split(".")[0] in ("tensorflow", "tf_keras"))
    }
    return (InsertBlock(text, HARD_SIGMOID_K2, tuple(sorted(after))),)


def is_load(ctx: Context, node: cst.Name | cst.Attribute) -> bool:
    """``node`` (the node being visited) is read as a value: not a keyword, import, target, ..."""
    parent = ctx.parent()
    if isinstance(parent, cst.Attribute) and parent.attr is node:
        return False
    if isinstance(parent, cst.Arg) and parent.keyword is node:
        return False
    if isinstance(parent, (cst.ImportAlias, cst.Param, cst.FunctionDef, cst.ClassDef, cst.AssignTarget,
                           cst.AsName)):
        return False
    if isinstance(parent, (cst.AnnAssign, cst.AugAssign)) and parent.target is node:
        return False
    return not any(isinstance(a, (cst.Import, cst.ImportFrom)) for a in ctx.ancestors[-4:])


def chain_top(ctx: Context, node: cst.CSTNode) -> bool:
    """``node`` is the outermost element of a Name/Attribute chain (``a.b.c``, not ``a.b``)."""
    parent = ctx.parent()
    return not (isinstance(parent, cst.Attribute) and parent.value is node)
