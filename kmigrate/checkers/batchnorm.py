"""BatchNormalization: the fused moving variance (catalogue 8) and removed arguments (45).

Keras 2 picked its fused kernel for rank-4/5 inputs, and that kernel updates the moving
variance with the unbiased batch variance. To know the input rank, the checker follows
the layers before a BatchNormalization: the previous entry of a ``Sequential([...])`` list or
``model.add(...)`` sequence, or the value a functional call is applied to (tracked per function
in statement order), skipping layers that keep the shape (activations, dropout, ...).
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from kmigrate.checkers import _calls, _renames
from kmigrate.checkers._keras3 import ModuleFacts
from kmigrate.engine import Checker, Context, FixSpec, NodeEdit

KM_VARIANCE, KM_ARGS, KM_SYNC = "KM109", "KM311", "KM312"
BN = "keras.layers.BatchNormalization"
SYNC_BN = "keras.layers.experimental.SyncBatchNormalization"
_LAST_NAMES = frozenset(n.rpartition(".")[2] for n in (BN, SYNC_BN))
SEQUENTIAL = ("keras.Sequential", "keras.models.Sequential")

_RANK = {4: ("Conv2D", "Convolution2D", "Conv2DTranspose", "Convolution2DTranspose", "DepthwiseConv2D",
             "SeparableConv2D", "SeparableConvolution2D", "MaxPooling2D", "MaxPool2D", "AveragePooling2D",
             "AvgPool2D", "UpSampling2D", "ZeroPadding2D", "Cropping2D", "ConvLSTM2D"),
         5: ("Conv3D", "Convolution3D", "Conv3DTranspose", "Convolution3DTranspose", "MaxPooling3D",
             "MaxPool3D", "AveragePooling3D", "AvgPool3D", "UpSampling3D", "ZeroPadding3D", "Cropping3D")}
RANK = {f"keras.layers.{name}": rank for rank, names in _RANK.items() for name in names}
KEEPS_SHAPE = {f"keras.layers.{n}" for n in (
    "Activation ReLU LeakyReLU PReLU ELU Softmax Dropout SpatialDropout2D SpatialDropout3D GaussianNoise "
    "GaussianDropout AlphaDropout BatchNormalization LayerNormalization GroupNormalization Add Subtract "
    "Multiply Average Maximum Minimum Concatenate add subtract multiply average maximum minimum concatenate"
).split()}
# Keras 2 used the non-fused (biased) path when any of these was set.
NON_FUSED = ("renorm", "virtual_batch_size", "adjustment")


class BatchNormChecker(Checker):
    # Every finding is on a call or import of one of the two classes.
    needles: ClassVar[frozenset[str]] = frozenset(n.rsplit(".", 1)[-1] for n in (BN, SYNC_BN))

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.facts = ModuleFacts(ctx)
        self.ranks: list[dict[str, int]] = [{}]

    # ------------------------------------------------------------ rank tracking
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.ranks.append({})

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.ranks.pop()

    def _layer_class(self, func: cst.BaseExpression) -> str | None:
        names = self.ctx.names
        if type(func) is cst.Call:
            return names.resolve_keras(func.func)
        return names.instance_of(func) or names.resolve_keras(func)

    def _layer_rank(self, layer: cst.BaseExpression) -> int | None:
        """Output rank of a layer expression (``Conv2D(...)``) standing in a Sequential."""
        if not isinstance(layer, cst.Call):
            return None
        cls = self.ctx.names.resolve_keras(layer.func)
        rank = RANK.get(cls or "")
        if cls == "keras.layers.ConvLSTM2D" and _is_true(_calls.keyword(layer, "return_sequences")):
            return 5
        return rank

    def rank(self, node: cst.BaseExpression) -> int | None:
        # `type(node) is`, not the slower isinstance() on libcst's ABC node classes: this runs
        # on every assigned value.
        if type(node) is cst.Name:
            return self.ranks[-1].get(node.value)
        if type(node) is cst.BinaryOperation:
            return self.rank(node.left) or self.rank(node.right)
        if (type(node) is cst.List or type(node) is cst.Tuple) and node.elements:
            return self.rank(node.elements[0].value)
        if type(node) is not cst.Call:
            return None
        cls = self._layer_class(node.func)
        if cls in ("keras.Input", "keras.layers.Input"):
            shape = _calls.argument(node, "shape", 0)
            if shape is not None and isinstance(shape.value, cst.Tuple):
                return len(shape.value.elements) + 1
            return None
        if cls in KEEPS_SHAPE and node.args:
            return self.rank(node.args[0].value)
        if cls in RANK and node.args:
            layer = node.func if isinstance(node.func, cst.Call) else None
            return self._layer_rank(layer) if layer is not None else RANK[cls]
        return None

    def leave_Assign(self, node: cst.Assign) -> None:
        rank = self.rank(node.value)
        for target in node.targets:
            if type(target.target) is cst.Name:
                if rank is None:
                    self.ranks[-1].pop(target.target.value, None)
                else:
                    self.ranks[-1][target.target.value] = rank

    def _previous_rank(self, node: cst.Call) -> int | None:
        """Input rank of the BatchNormalization built by ``node``, if it can be seen."""
        ctx = self.ctx
        parent, grand = ctx.parent(), ctx.parent(2)
        if isinstance(parent, cst.Call) and parent.func is node and parent.args:  # BN(...)(x)
            return self.rank(parent.args[0].value)
        if isinstance(parent, cst.Element) and isinstance(grand, (cst.List, cst.Tuple)):
            call = ctx.parent(4)
            if isinstance(call, cst.Call) and ctx.names.resolve_keras(call.func) in SEQUENTIAL:
                before = [e.value for e in grand.elements[: list(grand.elements).index(parent)]]
                return self._walk_back(before)
            return None
        block, line = ctx.parent(5), ctx.parent(4)
        if isinstance(parent, cst.Arg) and isinstance(grand, cst.Call) and isinstance(grand.func, cst.Attribute) \
                and grand.func.attr.value == "add" and isinstance(block, (cst.Module, cst.IndentedBlock)):
            owner = ctx.code_for(grand.func.value)
            before = []
            for stmt in list(block.body)[: list(block.body).index(line)]:  # type: ignore[arg-type]
                small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else None
                if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and small.value.args:
                    f = small.value.func
                    if isinstance(f, cst.Attribute) and f.attr.value == "add" and ctx.code_for(f.value) == owner:
                        before.append(small.value.args[0].value)
            return self._walk_back(before)
        return None

    def _walk_back(self, layers: list[cst.BaseExpression]) -> int | None:
        for layer in reversed(layers):
            rank = self._layer_rank(layer)
            if rank is not None:
                return rank
            cls = self.ctx.names.resolve_keras(layer.func) if isinstance(layer, cst.Call) else None
            if cls not in KEEPS_SHAPE:
                return None
        return None

    # ------------------------------------------------------------ findings
    def visit_Call(self, node: cst.Call) -> None:
        if not _calls.may_resolve_to(node.func, _LAST_NAMES):
            return
        callee = self.ctx.names.resolve_keras(node.func)
        if callee == BN:
            self._arguments(node, "BatchNormalization")
            self._variance(node)
        elif callee == SYNC_BN:
            self._arguments(node, "SyncBatchNormalization")
            self._sync(node)

    def _variance(self, node: cst.Call) -> None:
        fused = _calls.keyword(node, "fused")
        if fused is not None and not _is_true(fused):
            return
        if any(_calls.keyword(node, k) is not None and not _is_false(_calls.keyword(node, k))
               for k in NON_FUSED):
            return
        # Conv + BatchNormalization is everyday Keras 3 code too. Spelled through `keras`
        # itself it may be either version, and the change is small for common sizes, so only
        # code that reaches Keras through TensorFlow (tf.keras, tf_keras) is reported.
        if self.ctx.names.origin_of(node.func) in (None, "keras"):
            return
        rank = self._previous_rank(node)
        if rank not in (4, 5):
            return
        self.facts.report_unless_keras3(
            KM_VARIANCE,
            node,
            f"on rank-{rank} inputs Keras 2's fused BatchNormalization updated `moving_variance` with the "
            "unbiased batch variance, Keras 3 with the biased one (n/(n-1) smaller, n = batch x spatial "
            "size per channel; 8/7 for n = 8): inference after training differs",
            None,
        )

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.facts.see(node)

    def leave_Module(self, node: cst.Module) -> None:
        self.facts.flush()

    def _arguments(self, node: cst.Call, short: str) -> None:
        for name in ("fused", "virtual_batch_size", "adjustment"):
            arg = _calls.keyword(node, name)
            if arg is None:
                continue
            removable = name == "fused" or (name == "adjustment" and _is_none(arg.value))
            if name == "virtual_batch_size":
                detail = "ghost batch normalization does not exist in Keras 3"
            elif name == "adjustment" and not removable:
                detail = "Keras 3 has no equivalent of the `adjustment` callable"
            else:
                detail = "it can be dropped"
            self.ctx.report(
                KM_ARGS,
                arg,
                f"`{short}({name}=...)` raises `ValueError: Unrecognized keyword arguments` in Keras 3; "
                + detail,
                FixSpec(
                    f"Remove `{name}=`",
                    (NodeEdit(node, _calls.remove(node, name)),),
                    # Only `fused=False` is numerically neutral: Keras 2's fused kernel updates
                    # the moving variance with Bessel's correction, which Keras 3 never does.
                    safety="unsafe" if name == "fused" and self.ctx.code_for(arg.value) != "False" else None,
                )
                if removable
                else None,
            )

    def _sync(self, node: cst.Call) -> None:
        swapped = _renames.swap_class(self.ctx, node.func, BN)
        fix = None
        if swapped is not None and _calls.keyword(node, "synchronized") is None and not _calls.has_double_star(node):
            func, edits = swapped
            call = _calls.append(node.with_changes(func=cst.parse_expression(func)), "synchronized", "True")
            fix = FixSpec("Use `BatchNormalization(synchronized=True)`", (NodeEdit(node, call), *edits))
        self.ctx.report(
            KM_SYNC,
            node,
            "`layers.experimental.SyncBatchNormalization` does not exist in Keras 3 (`AttributeError`); "
            "it is `BatchNormalization(synchronized=True)`",
            fix,
        )

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        for alias, _ in _renames.report_import(self.ctx, node, SYNC_BN):
            edit = _renames.import_fix(self.ctx, node, alias, BN)
            self.ctx.report(
                KM_SYNC,
                alias,
                "`layers.experimental.SyncBatchNormalization` cannot be imported from Keras 3 "
                "(`ImportError`); it is `BatchNormalization(synchronized=True)`",
                FixSpec("Import `BatchNormalization`", (edit,)) if edit is not None else None,
            )


def _is_true(arg: cst.Arg | None) -> bool:
    return arg is not None and isinstance(arg.value, cst.Name) and arg.value.value == "True"


def _is_false(arg: cst.Arg | None) -> bool:
    return arg is not None and isinstance(arg.value, cst.Name) and arg.value.value in ("False", "None")


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"
