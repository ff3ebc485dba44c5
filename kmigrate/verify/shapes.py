"""Which input shape a layer probe uses, and why.

In order: a ``# kmigrate: input-shape=(None, 8)`` hint on the class or the call's line; a
``[tool.kmigrate.verify] input-shapes`` entry for the class or callee name; what the code shows
(``Input(shape=...)`` fed to the construct, ``input_shape=``/``input_dim=`` arguments, the
``Input`` at the head of a ``Sequential``); an ``input-shapes`` entry for ``"*"``; else a small
ladder of common shapes, tried in order.
"""

from __future__ import annotations

import ast
import re

import libcst as cst

from kmigrate.verify.locate import Analysed, Construct
from kmigrate.verify.spec import DEFAULT_SHAPES, Shape, VerifySettings

HINT = re.compile(r"#\s*kmigrate:\s*input-shape\s*=\s*([(\[][^#\n]*?[)\]])\s*$", re.M)
INPUTS = frozenset({"keras.Input", "keras.layers.Input"})


def parse_shape(text: str) -> Shape | None:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, int):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not value:
        return None
    if not all(v is None or (isinstance(v, int) and v > 0) for v in value):
        return None
    return tuple(value)


def _literal_shape(a: Analysed, node: cst.BaseExpression) -> Shape | None:
    shape = parse_shape(a.module.code_for_node(node))
    return None if shape is None else (None, *shape)


def _input_call_shape(a: Analysed, call: cst.Call) -> Shape | None:
    if a.names.resolve_keras(call.func) not in INPUTS:
        return None
    for i, arg in enumerate(call.args):
        if (arg.keyword is not None and arg.keyword.value == "shape") or (arg.keyword is None and i == 0):
            return _literal_shape(a, arg.value)
    return None


def _shape_of_value(a: Analysed, value: cst.BaseExpression) -> Shape | None:
    if isinstance(value, cst.Call):
        return _input_call_shape(a, value)
    if isinstance(value, cst.Name):
        for node in a.positions:
            if isinstance(node, cst.Assign) and isinstance(node.value, cst.Call):
                targets = [t.target for t in node.targets]
                if any(isinstance(t, cst.Name) and t.value == value.value for t in targets):
                    shape = _input_call_shape(a, node.value)
                    if shape is not None:
                        return shape
    return None


def _from_arguments(a: Analysed, call: cst.Call) -> Shape | None:
    """``input_shape=``, ``batch_input_shape=``, ``input_dim=`` (+ ``input_length=``)."""
    kw = {arg.keyword.value: a.module.code_for_node(arg.value) for arg in call.args if arg.keyword is not None}
    if "batch_input_shape" in kw:
        return parse_shape(kw["batch_input_shape"])
    if "input_shape" in kw:
        shape = parse_shape(kw["input_shape"])
        return None if shape is None else (None, *shape)
    dim = parse_shape(kw["input_dim"]) if "input_dim" in kw else None
    if dim is not None and len(dim) == 1:
        length = parse_shape(kw["input_length"]) if "input_length" in kw else None
        if length is not None and len(length) == 1:
            return (None, length[0], dim[0])
        return (None, *dim)
    return None


def _from_code(a: Analysed, c: Construct) -> Shape | None:
    for node in a.positions:
        if not isinstance(node, cst.Call):
            continue
        s, e = a.offsets(node)
        if c.kind == "call" and (s, e) == (c.start, c.end):
            found = _from_arguments(a, node)
            if found is not None:
                return found
            if c.name.endswith("Sequential") and node.args and isinstance(node.args[0].value, cst.List):
                elements = node.args[0].value.elements
                if elements and isinstance(elements[0].value, cst.Call):
                    return _input_call_shape(a, elements[0].value)
        # ``Construct(...)(x)`` / ``MyLayer(...)(x)`` with ``x = Input(shape=...)``
        inner = node.func
        applied = isinstance(inner, cst.Call) and node.args and (
            (c.kind == "call" and a.offsets(inner) == (c.start, c.end))
            or (c.kind == "class" and isinstance(inner.func, cst.Name) and inner.func.value == c.name)
        )
        if applied:
            shape = _shape_of_value(a, node.args[0].value)
            if shape is not None:
                return shape
    return None


def _configured(settings: VerifySettings, key: str) -> Shape | None:
    for name, shape in settings.input_shapes:
        if name == key:
            return shape
    return None


def input_shapes(a: Analysed, c: Construct, settings: VerifySettings) -> tuple[tuple[Shape, ...], str]:
    if c.kind == "class":
        region = a.text[a.starts[max(c.line - 2, 0)] : c.end]
    else:
        first = a.starts[max(c.line - 2, 0)]
        last = a.starts[c.end_line] if c.end_line < len(a.starts) else len(a.text)
        region = a.text[first:last]
    hint = HINT.search(region)
    if hint and parse_shape(hint.group(1)) is not None:
        return (parse_shape(hint.group(1)),), "hint comment"  # type: ignore[return-value]
    short = c.name.rsplit(".", 1)[-1]
    configured = _configured(settings, short)
    if configured is not None:
        return (configured,), f"[tool.kmigrate.verify] input-shapes.{short}"
    seen = _from_code(a, c)
    if seen is not None:
        # ``input_dim=3`` on a recurrent layer means (batch, time, 3): try that second.
        extra = ((None, 5, *seen[1:]),) if len(seen) == 2 else ()
        return (seen, *extra), "the code (Input shape)"
    star = _configured(settings, "*")
    if star is not None:
        return (star,), '[tool.kmigrate.verify] input-shapes."*"'
    return DEFAULT_SHAPES, "default ladder"
