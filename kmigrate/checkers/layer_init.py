"""Layer constructor arguments Keras 3 rejects (catalogue 36, 53) and names with ``/`` (46).

Keras 3's ``Layer.__init__`` accepts only ``activity_regularizer, trainable, dtype, autocast,
name, input_shape, input_dim``, all keyword-only. What Keras 2's base layer also took
(``weights``, ``batch_input_shape``, ``batch_size``, ``implementation``, ``dynamic``, and the RNN
``input_dim``/``input_length`` pair) now raises at construction, except on the few layers that
still name them (found by scanning the signatures of keras 3.15's layers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._classes import KerasClass, Method, is_self_attr, keras_classes, keras_kind
from kmigrate.engine import Checker, FixSpec, NodeEdit
from kmigrate.walk import scan

KM_INIT_KWARGS, KM_DYNAMIC, KM_SLASH = "KM320", "KM321", "KM328"

# Keras 3 layers that still accept a keyword its base Layer rejects.
STILL_ACCEPTED = {
    "weights": {"Embedding", "Bidirectional"},
    "batch_input_shape": {"InputLayer"},
    "batch_size": {"InputLayer", "Input"},
    "implementation": {"LSTM", "GRU", "LSTMCell", "GRUCell"},
    "input_length": {"Embedding"},
}
RNN = {"RNN", "SimpleRNN", "LSTM", "GRU"}
# Keras 3 layers whose __init__ has no **kwargs: even input_shape/input_dim are rejected.
NO_KWARGS = {"SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "Discretization"}
LAYER_BASES = {"keras.layers.Layer", "keras.engine.base_layer.Layer"}
K2_LAYER_INIT = ("trainable", "name", "dtype", "dynamic")
# The keywords a constructor call can be reported for.
_JUDGED_KEYWORDS = frozenset({"name", "dynamic", "input_dim", "input_shape", *STILL_ACCEPTED})
KERNEL_LAYERS = {"Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"}


def _is_slash_name(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.SimpleString):
        value = _calls.string_value(node)
        return value is not None and "/" in value
    if isinstance(node, cst.FormattedString):
        return any(isinstance(p, cst.FormattedStringText) and "/" in p.value for p in node.parts)
    if isinstance(node, cst.ConcatenatedString):
        return _is_slash_name(node.left) or _is_slash_name(node.right)
    return False


@dataclass(frozen=True)
class _Target:
    """What a constructor call builds: a built-in class, a same-module class, or the base of
    the class whose ``__init__`` calls ``super().__init__``."""

    builtin: str | None
    custom: KerasClass | None
    method: Method | None
    kind: str

    @property
    def base(self) -> str:
        return self.builtin or (self.custom.keras_base if self.custom else "")


class LayerInitChecker(Checker):
    # The keywords the findings are on (``name=`` for KM328, also ``add_weight``'s positional
    # name), and the ``Layer`` base a positional ``super().__init__`` finding requires.
    needles: ClassVar[frozenset[str]] = frozenset(
        {"name", "add_weight", "dynamic", "input_dim", "input_shape", *STILL_ACCEPTED}
        | {b.rsplit(".", 1)[-1] for b in LAYER_BASES}
    )

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if type(func) is cst.Attribute and func.attr.value == "add_weight":
            self._weight_name(node)
            return
        if not _may_report(node):  # most calls: dismissed without resolving what they build
            return
        target = self._target(node)
        if target is None or target.kind == "metric":
            return
        for arg in node.args:
            if arg.keyword is None:
                continue
            key = arg.keyword.value
            if key == "name" and _is_slash_name(arg.value):
                self.ctx.report(
                    KM_SLASH, arg.value,
                    f"Keras 3 rejects layer and model names containing `/` (`ValueError`): "
                    f"{self.ctx.code_for(arg.value)}",
                )
            elif key == "dynamic" and self._accepts(target, key) is False:
                self._dynamic(node, arg)
            elif (key in STILL_ACCEPTED or key in ("input_dim", "input_shape")) and target.kind == "layer":
                if self._accepts(target, key) is False:
                    self._removed(node, arg, target)
        method = target.method
        if method is not None and method.cls.direct_keras_bases and not method.cls.local_bases:
            self._positional_super(node, method)

    def _weight_name(self, node: cst.Call) -> None:
        classes = keras_classes(self.ctx)
        method = classes.enclosing_method(self.ctx) if classes else None
        if method is None or not is_self_attr(node.func, method.self_name):
            return
        name = _calls.keyword(node, "name") or _calls.positional(node, 0)
        if name is not None and _is_slash_name(name.value):
            self.ctx.report(
                KM_SLASH, name.value,
                f"Keras 3 rejects variable names containing `/` (`ValueError`): {self.ctx.code_for(name.value)}",
            )

    def _target(self, node: cst.Call) -> _Target | None:
        ctx = self.ctx
        callee = ctx.names.resolve_keras(node.func)
        if callee in ("keras.Input", "keras.layers.Input"):
            return _Target("keras.layers.Input", None, None, "layer")
        kind = keras_kind(callee)
        if kind is not None:
            return _Target(callee, None, None, kind)
        classes = keras_classes(ctx)
        if not classes:
            return None
        func = node.func
        if isinstance(func, cst.Name):
            info = classes.named(func.value)
            return _Target(None, info, None, info.kind) if info is not None else None
        if not (isinstance(func, cst.Attribute) and func.attr.value == "__init__"):
            return None
        value = func.value
        # Only super().__init__(...): Base.__init__(self, ...) passes self positionally.
        if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "super"):
            return None
        method = classes.enclosing_method(ctx)
        if method is None or method.name != "__init__" or method.nested:
            return None
        info = method.cls
        bases = [classes.named(b) for b in info.local_bases]
        custom = next((b for b in bases if b is not None), None)
        if custom is not None:
            return _Target(None, custom, method, info.kind)
        return _Target(info.keras_base, None, method, info.kind)

    def _accepts(self, target: _Target, key: str) -> bool | None:
        """True/False: Keras 3 accepts ``key``; None: not ours to say (Keras 2 rejected it too)."""
        builtin, custom = target.builtin, target.custom
        if custom is not None:
            classes = keras_classes(self.ctx)
            for cls in classes.lineage(custom):
                init = cls.own_method("__init__")
                if init is None:
                    continue
                params = init.params
                names = {p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)}
                if key in names or _reads_key(init, key):
                    return True
                if not isinstance(params.star_kwarg, cst.Param):
                    return None
            builtin = custom.keras_base
        short = (builtin or "").rpartition(".")[2]
        if key in ("input_dim", "input_shape"):
            if short in NO_KWARGS:
                return False
            if key == "input_dim" and short in RNN:
                return False  # Keras 3 reads it as input_shape=(input_dim,): a 2-D input
            return True
        if key == "input_length" and short not in RNN | STILL_ACCEPTED["input_length"]:
            return None  # only Keras 2's RNN layers took it
        if key == "dynamic":
            return False
        return short in STILL_ACCEPTED.get(key, set())

    # ------------------------------------------------------------ reports
    def _dynamic(self, node: cst.Call, arg: cst.Arg) -> None:
        value = arg.value
        off = isinstance(value, cst.Name) and value.value == "False"
        new = _calls.remove(node, "dynamic")
        self.ctx.report(
            KM_DYNAMIC,
            arg,
            "Keras 3 has no `dynamic=` layer argument: it raises `ValueError: Unrecognized keyword arguments`"
            + ("" if off else "; an eager-only layer also needs `compute_output_shape` and "
               "`compile(run_eagerly=True)`"),
            FixSpec("Remove `dynamic=`", (NodeEdit(node, new),), "safe" if off else "unsafe"),
        )

    def _removed(self, node: cst.Call, arg: cst.Arg, target: _Target) -> None:
        key = arg.keyword.value  # type: ignore[union-attr]
        short = target.base.rpartition(".")[2]
        method = target.method
        where = "`super().__init__`" if method is not None else f"`{self.ctx.code_for(node.func)}`"
        message = f"Keras 3 rejects `{key}=` passed to {where} with `ValueError: Unrecognized keyword arguments`"
        fix: FixSpec | None = None
        none = isinstance(arg.value, cst.Name) and arg.value.value == "None"
        if key == "implementation" or (key == "batch_size" and not _has_shape(node)) or (key == "weights" and none):
            # Keras 2's base layer accepted and ignored these here.
            fix = FixSpec(f"Remove `{key}=` (Keras 2 ignored it)", (NodeEdit(node, _calls.remove(node, key)),), "safe")
        elif key in ("input_dim", "input_length") and short in RNN:
            message = (
                f"Keras 3 reads `{key}=` on `{short}` differently (`input_dim` becomes `input_shape=(input_dim,)`; "
                "`input_length` is rejected): use `input_shape=(timesteps, features)`"
            )
            fix = self._rnn_shape(node)
        elif key == "batch_input_shape" and short == "Input":
            message = "Keras 3's `Input` takes `batch_shape=`, not `batch_input_shape=` (`TypeError`)"
            fix = FixSpec("Rename to `batch_shape=`", (NodeEdit(node, _calls.rename(node, key, "batch_shape")),), "safe")
        elif key in ("batch_input_shape", "batch_size"):
            fix = self._leading_input(node, key)
        elif key == "weights" and short in KERNEL_LAYERS and method is None:
            fix = self._weights_initializers(node, arg)
        elif key in ("input_dim", "input_shape"):
            message = f"Keras 3's `{short}` takes no `{key}=` (`TypeError`): start the model with `keras.Input`"
        self.ctx.report(KM_INIT_KWARGS, arg, message, fix)

    def _rnn_shape(self, node: cst.Call) -> FixSpec:
        shape = _calls.keyword(node, "input_shape")
        new = _calls.remove(node, "input_dim", "input_length")
        if shape is None:
            dim, length = _calls.keyword(node, "input_dim"), _calls.keyword(node, "input_length")
            code = self.ctx.code_for
            value = f"({code(length.value) if length else 'None'}, {code(dim.value) if dim else 'None'})"
            new = _calls.append(new, "input_shape", value)
        return FixSpec("Pass `input_shape=(timesteps, features)`", (NodeEdit(node, new),), "safe")

    def _leading_input(self, node: cst.Call, key: str) -> FixSpec | None:
        """First layer of a literal ``Sequential([...])``: lead with an ``Input`` instead."""
        anc = self.ctx.ancestors
        if len(anc) < 5 or not isinstance(anc[-2], cst.Element) or not isinstance(anc[-3], cst.List):
            return None
        lst, seq = anc[-3], anc[-5]
        if lst.elements[0] is not anc[-2] or not isinstance(anc[-4], cst.Arg) or not isinstance(seq, cst.Call):
            return None
        if self.ctx.names.resolve_keras(seq.func) not in ("keras.Sequential", "keras.models.Sequential"):
            return None
        code = self.ctx.code_for
        if key == "batch_input_shape":
            arg = _calls.keyword(node, key)
            assert arg is not None
            spec = f"batch_shape={code(arg.value)}"
            if _calls.keyword(node, "batch_size") is not None:
                return None
            new = _calls.remove(node, key, "input_shape", "input_dim")
        else:
            shape, size = _calls.keyword(node, "input_shape"), _calls.keyword(node, "batch_size")
            if shape is None or size is None or _calls.keyword(node, "batch_input_shape") is not None:
                return None
            spec = f"shape={code(shape.value)}, batch_size={code(size.value)}"
            new = _calls.remove(node, "input_shape", "batch_size", "input_dim")
        text, imports = self.ctx.spell("keras.Input", like=node.func)
        return FixSpec(
            "Start the `Sequential` model with `keras.Input`",
            (NodeEdit(node, f"{text}({spec}), {code(new)}"), *imports),
            "safe",
        )

    def _weights_initializers(self, node: cst.Call, arg: cst.Arg) -> FixSpec | None:
        value = arg.value
        if not isinstance(value, (cst.List, cst.Tuple)) or any(isinstance(e, cst.StarredElement) for e in value.elements):
            return None
        use_bias = _calls.keyword(node, "use_bias")
        no_bias = use_bias is not None and isinstance(use_bias.value, cst.Name) and use_bias.value.value == "False"
        if use_bias is not None and not no_bias and not (
            isinstance(use_bias.value, cst.Name) and use_bias.value.value == "True"
        ):
            return None
        if len(value.elements) != (1 if no_bias else 2):
            return None
        const, imports = self.ctx.spell("keras.initializers.Constant", like=node.func)
        code = self.ctx.code_for
        new = _calls.remove(node, "weights", "kernel_initializer", "bias_initializer")
        new = _calls.append(new, "kernel_initializer", f"{const}({code(value.elements[0].value)})")
        if not no_bias:
            new = _calls.append(new, "bias_initializer", f"{const}({code(value.elements[1].value)})")
        return FixSpec(
            "Initialize the kernel and bias with `Constant` initializers",
            (NodeEdit(node, new), *imports),
            "unsafe",
        )

    def _positional_super(self, node: cst.Call, method: Method) -> None:
        if not self.ctx.enabled(KM_INIT_KWARGS):
            return
        if not set(method.cls.direct_keras_bases) & LAYER_BASES:
            return
        positional = [a for a in node.args if a.keyword is None and not a.star]
        if not positional:
            return
        fix = None
        if len(positional) <= len(K2_LAYER_INIT) and not any(a.star == "*" for a in node.args):
            args = []
            for a in node.args:
                if a.keyword is None and not a.star:
                    a = a.with_changes(
                        keyword=cst.Name(K2_LAYER_INIT[positional.index(a)]),
                        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
                    )
                args.append(a)
            fix = FixSpec("Pass the `Layer.__init__` arguments by keyword", (NodeEdit(node, _calls.with_args(node, args)),), "safe")
        self.ctx.report(
            KM_INIT_KWARGS,
            positional[0],
            "Keras 3's `Layer.__init__` takes keyword arguments only: positional "
            f"`{self.ctx.code_for(positional[0].value)}` raises `TypeError`",
            fix,
        )


def _may_report(node: cst.Call) -> bool:
    """Whether a constructor call passes a keyword judged here or is an ``X.__init__(...)``
    (KM320's positional ``super().__init__`` arguments): only those can be reported."""
    for arg in node.args:  # a loop, not any(): this runs on every call
        keyword = arg.keyword
        if keyword is not None and keyword.value in _JUDGED_KEYWORDS:
            return True
    func = node.func
    return type(func) is cst.Attribute and func.attr.value == "__init__"


def _reads_key(init: cst.FunctionDef, key: str) -> bool:
    """``__init__`` takes ``key`` out of its ``**kwargs`` itself (``kwargs.pop("key", ...)``)."""
    found = False

    class Find(cst.CSTVisitor):
        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            nonlocal found
            found = found or _calls.string_value(node) == key

    scan(init.body, Find())
    return found


def _has_shape(node: cst.Call) -> bool:
    return any(_calls.keyword(node, k) is not None for k in ("input_shape", "input_dim", "batch_input_shape"))

