"""Attention layers: ``causal=`` moved to the call (catalogue 42); MHA internals (catalogue 43)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.engine import Checker, Context, FixSpec, NodeEdit
from kmigrate.graph import Layer, graph_of, literal_bool

KM_CAUSAL, KM_MHA_HOOKS = "KM335", "KM336"
CAUSAL_LAYERS = frozenset({"keras.layers.Attention", "keras.layers.AdditiveAttention"})
MHA = "keras.layers.MultiHeadAttention"
# Attributes Keras 2's MultiHeadAttention set in _build_from_signature; Keras 3 has none of them.
REMOVED_ATTRIBUTES = frozenset({
    "_build_from_signature", "_built_from_signature", "_query_shape", "_key_shape", "_value_shape",
    "_softmax_robust_masking",
})
# Keras 2 MultiHeadAttention methods whose overrides Keras 3 ignores or calls differently.
OVERRIDE_HOOKS = frozenset({
    "_build_from_signature", "_compute_attention", "_compute_attention_mask", "_make_output_dense",
})


class AttentionChecker(Checker):
    # KM335 needs an `Attention`/`AdditiveAttention` call; every KM336 finding is on one of the
    # private names (an override, an attribute, a `_compute_attention_mask` call).
    needles: ClassVar[frozenset[str]] = (
        frozenset(n.rsplit(".", 1)[-1] for n in CAUSAL_LAYERS) | REMOVED_ATTRIBUTES | OVERRIDE_HOOKS
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._mha_classes: set[str] = set()
        self._in_mha: list[bool] = []

    # ------------------------------------------------------------ 42
    def _causal(self, node: cst.Call) -> None:
        if not self.ctx.enabled(KM_CAUSAL):
            return
        cls = self.ctx.names.resolve_keras(node.func)
        causal = _calls.keyword(node, "causal") if cls in CAUSAL_LAYERS else None
        if causal is None or cls is None:
            return
        short = cls.rsplit(".", 1)[-1]
        value = literal_bool(causal.value)
        if value is False:
            message = (
                f"`{short}(causal=False)` raises `ValueError: Unrecognized keyword arguments` in "
                "Keras 3; non-causal attention is the default"
            )
        else:
            message = (
                f"`{short}(causal=...)` raises `ValueError: Unrecognized keyword arguments` in Keras 3: "
                "causal masking is the call argument `use_causal_mask=True`"
            )
        self.ctx.report(KM_CAUSAL, causal, message, self._causal_fix(node, value))

    def _causal_fix(self, ctor: cst.Call, value: bool | None) -> FixSpec | None:
        new_ctor = _calls.remove(ctor, "causal")
        if value is False:
            return FixSpec("Drop `causal=False`", (NodeEdit(ctor, new_ctor),))
        if value is None:
            return None
        graph = graph_of(self.ctx)
        layer = next((lay for lay in graph.layers if lay.ctor is ctor), None)
        if layer is None or layer.escaped or not layer.calls or not self._all_calls_known(layer):
            return None  # a call of this instance might be missed: flag only
        if any(_calls.has_double_star(call) for call in layer.calls):
            return None
        title = "Move `causal=True` to `use_causal_mask=True` at every call of the layer"
        if layer.binding is None:  # ``Attention(causal=True)([q, v])``
            (call,) = layer.calls
            if call.func is not ctor:
                return None
            return FixSpec(title, (NodeEdit(call, _causal_call(call.with_changes(func=new_ctor))),))
        edits = [NodeEdit(ctor, new_ctor)]
        edits += [NodeEdit(call, _causal_call(call)) for call in layer.calls]
        return FixSpec(title, tuple(edits))

    def _all_calls_known(self, layer: Layer) -> bool:
        graph = graph_of(self.ctx)
        binding = layer.binding
        if binding is None:
            return len(layer.calls) == 1
        if binding.startswith("self."):
            return graph.attr_complete(binding[len("self.") :])
        return graph.names_complete({binding})

    # ------------------------------------------------------------ 43
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        mha = False
        for base in node.bases:
            name = self.ctx.names.resolve_keras(base.value)
            if name == MHA or (isinstance(base.value, cst.Name) and base.value.value in self._mha_classes):
                mha = True
        if mha:
            self._mha_classes.add(node.name.value)
            if self.ctx.enabled(KM_MHA_HOOKS):
                for stmt in node.body.body:
                    if isinstance(stmt, cst.FunctionDef):
                        self._override(stmt)
        self._in_mha.append(mha)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._in_mha.pop()

    def _override(self, fn: cst.FunctionDef) -> None:
        name = fn.name.value
        if name not in OVERRIDE_HOOKS:
            return
        params = fn.params
        names = {p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)}
        positional = len(params.posonly_params) + len(params.params) - 1  # without self
        message = None
        if name == "_build_from_signature":
            message = (
                "Keras 3's `MultiHeadAttention` never calls `_build_from_signature`: this override "
                "does not run (the sublayers are built in `build(query_shape, value_shape, key_shape)`)"
            )
        elif name == "_compute_attention" and not isinstance(params.star_arg, cst.Param):
            if "return_attention_scores" not in names and positional < 6:
                message = (
                    "Keras 3 calls `_compute_attention(query, key, value, attention_mask, training, "
                    "return_attention_scores)`: this override with the Keras 2 signature raises `TypeError`"
                )
        elif name == "_compute_attention_mask" and not isinstance(params.star_kwarg, cst.Param):
            if not {"query_mask", "value_mask", "key_mask"} <= names:
                message = (
                    "Keras 3 calls `_compute_attention_mask(query, value, query_mask=, value_mask=, "
                    "key_mask=, attention_mask=, use_causal_mask=)`: this Keras 2 override raises `TypeError`"
                )
        elif name == "_make_output_dense":
            message = (
                "Keras 3 passes `query_shape` (a shape tuple) as the first argument of "
                "`_make_output_dense`, where Keras 2 passed `free_dims` (an int)"
            )
        if message is not None:
            self.ctx.report(KM_MHA_HOOKS, fn.name, message)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        attr = node.attr.value
        if attr not in REMOVED_ATTRIBUTES or not self.ctx.enabled(KM_MHA_HOOKS) or self._guarded(attr):
            return
        if not (self._on_mha_self(node.value) or self._is_mha(node.value)):
            return
        if attr == "_build_from_signature":
            message = (
                "`MultiHeadAttention._build_from_signature` does not exist in Keras 3 (`AttributeError`): "
                "build the layer with `build(query.shape, value.shape, key.shape)` instead"
            )
        else:
            message = f"Keras 3's `MultiHeadAttention` has no `{attr}` attribute (`AttributeError`)"
        self.ctx.report(KM_MHA_HOOKS, node, message)

    def visit_Call(self, node: cst.Call) -> None:
        self._causal(node)
        func = node.func
        if not (
            isinstance(func, cst.Attribute)
            and func.attr.value == "_compute_attention_mask"
            and self.ctx.enabled(KM_MHA_HOOKS)
            and _calls.keyword(node, "key") is not None
            and self._on_mha_self(func.value)
        ):
            return
        self.ctx.report(
            KM_MHA_HOOKS,
            node,
            "Keras 3's `_compute_attention_mask(query, value, query_mask=, value_mask=, key_mask=, "
            "attention_mask=, use_causal_mask=)` has no `key=` parameter: this call raises `TypeError`",
        )

    def _on_mha_self(self, base: cst.BaseExpression) -> bool:
        """``self`` or ``super()`` inside a subclass of MultiHeadAttention."""
        on_self = (isinstance(base, cst.Name) and base.value == "self") or (
            isinstance(base, cst.Call) and isinstance(base.func, cst.Name) and base.func.value == "super"
        )
        return on_self and bool(self._in_mha) and self._in_mha[-1]

    def _is_mha(self, base: cst.BaseExpression) -> bool:
        """A MultiHeadAttention instance: a module-level name or a ``self.x`` sublayer."""
        if self.ctx.names.instance_of(base) == MHA:
            return True
        if isinstance(base, cst.Attribute):
            value = graph_of(self.ctx).self_attribute(base)
            return isinstance(value, Layer) and value.cls == "MultiHeadAttention"
        return False

    def _guarded(self, attr: str) -> bool:
        """Inside ``if hasattr(..., "attr")``: code written to run on both versions."""
        for node in self.ctx.ancestors:
            test = node.test if isinstance(node, (cst.If, cst.IfExp, cst.While)) else None
            if isinstance(node, cst.BooleanOperation):
                test = node.left
            if test is not None and f'"{attr}"' in self.ctx.code_for(test).replace("'", '"'):
                return True
        return False


def _causal_call(call: cst.Call) -> cst.Call:
    """Keras 2 computed ``causal or use_causal_mask``: with ``causal=True`` that is always True."""
    existing = _calls.keyword(call, "use_causal_mask")
    if existing is None:
        return _calls.append(call, "use_causal_mask", "True")
    if literal_bool(existing.value) is True:
        return call
    return _calls.replace_value(call, existing, "True")
