"""Module-level facts shared by the layer and activation checkers.

Some Keras 2 idioms are also valid, unchanged Keras 3 code: the string ``"hard_sigmoid"``, a
``ConvLSTM2D`` relying on its defaults, ``BatchNormalization`` after a convolution. In code
written for Keras 3 they mean the Keras 3 behaviour, and "restoring" Keras 2's would be a
regression. Such findings are therefore withheld in modules that use an API only Keras 3 has
(``keras.ops``, ``keras.Variable``, ``keras.random``, ...). Both scans below run only when a
checker has a candidate finding, so clean files never pay for them.
"""

from __future__ import annotations

import libcst as cst

from kmigrate.engine import Context, InsertBlock, InsertImport
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


class _Scan(cst.CSTVisitor):
    def __init__(self, ctx: Context, attrs: frozenset[str], want: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.attrs = attrs
        self.want = want
        self.found = False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if self.found:
            return False
        if node.attr.value in self.attrs:
            raw = self.ctx.names.raw(node)
            if raw is not None:
                if self.want == "keras3" and keras_origin(raw) and _is_keras3_name(
                    self.ctx.names.resolve(node)
                ):
                    self.found = True
                elif self.want == "keras" and keras_origin(raw):
                    self.found = True
        return True


def is_keras3_module(ctx: Context) -> bool:
    """The module uses an API that exists only in Keras 3, so it is Keras 3 code."""
    for binding in ctx.names.bindings.values():
        if not binding.instance and keras_origin(binding.raw) and _is_keras3_name(binding.canonical):
            return True
    scan = _Scan(ctx, _MARKER_ATTRS, "keras3")
    ctx.module.visit(scan)
    return scan.found


def uses_keras(ctx: Context) -> bool:
    """The module refers to Keras at all (``import tensorflow as tf`` alone is not enough)."""
    for binding in ctx.names.bindings.values():
        if keras_origin(binding.raw):
            return True
    scan = _Scan(ctx, frozenset({"keras"}), "keras")
    ctx.module.visit(scan)
    return scan.found


class ModuleFacts:
    """Lazily computed, cached per checker instance (one instance per file)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._keras3: bool | None = None
        self._uses_keras: bool | None = None

    @property
    def keras3(self) -> bool:
        if self._keras3 is None:
            self._keras3 = is_keras3_module(self.ctx)
        return self._keras3

    @property
    def uses_keras(self) -> bool:
        if self._uses_keras is None:
            self._uses_keras = uses_keras(self.ctx)
        return self._uses_keras


HARD_SIGMOID_K2 = "hard_sigmoid_k2"


def hard_sigmoid_k2(ctx: Context) -> tuple[InsertImport | InsertBlock, ...]:
    """Edits that define ``hard_sigmoid_k2`` (Keras 2's hard_sigmoid) once in the module.

    It is spelled through the module's own Keras (``tf.keras`` stays ``tf.keras``) and uses
    only ``utils.register_keras_serializable`` and ``activations.relu(..., max_value=1.0)``,
    which every Keras has: Keras 3's ``tf.keras`` namespace (``keras._tf_keras``) has no
    ``saving`` module, and Keras 2 has no ``ops``. So the module also still runs on Keras 2. The arithmetic is Keras 2's (multiply, add, clip), so the
    values are bit-identical (catalogue 3).
    """
    root, imports = ctx.spell("keras")
    indent = ctx.module.default_indent
    text = (
        f'@{root}.utils.register_keras_serializable(package="kmigrate")\n'
        f"def {HARD_SIGMOID_K2}(x):\n"
        f'{indent}"""Keras 2\'s `hard_sigmoid`, clip(0.2 * x + 0.5, 0, 1); Keras 3 redefined the name."""\n'
        f"{indent}return {root}.activations.relu(0.2 * x + 0.5, max_value=1.0)\n"
    )
    first = root.split(".")[0]
    return (*imports, InsertBlock(text, HARD_SIGMOID_K2, (first,)))


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
