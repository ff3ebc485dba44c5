"""``tf.Variable(<initial value>)`` -> the arguments of an equivalent ``add_weight`` (catalogue 6).

Only initial values whose Keras initializer is exact are rewritten: ``tf.zeros``/``tf.ones``/
``tf.fill``/``tf.constant``/float literals (same numbers: a safe rewrite), and
``tf.random.normal``/``uniform``/``truncated_normal`` (same distribution, with TensorFlow's own
defaults spelled out, since Keras' initializer defaults differ: an unsafe rewrite). Anything
else (integer dtypes, values computed from tensors, synchronisation flags) is left to a human.
"""

from __future__ import annotations

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.engine import Context, InsertImport
from kmigrate.checkers._calls import bind_params

# tf.Variable(initial_value, trainable, validate_shape, caching_device, name, variable_def, dtype, ...)
VARIABLE_ORDER = ("initial_value", "trainable", "validate_shape", "caching_device", "name",
                  "variable_def", "dtype")
FLOAT_DTYPES = {"float16", "float32", "float64", "bfloat16"}
# op -> (positional parameter names, Keras initializer, {tf parameter: (keras parameter, tf default)})
RANDOM = {
    "tensorflow.random.normal": (("shape", "mean", "stddev", "dtype", "seed"), "RandomNormal",
                                 {"mean": ("mean", "0.0"), "stddev": ("stddev", "1.0")}),
    "tensorflow.random.truncated_normal": (("shape", "mean", "stddev", "dtype", "seed"), "TruncatedNormal",
                                           {"mean": ("mean", "0.0"), "stddev": ("stddev", "1.0")}),
    "tensorflow.random.uniform": (("shape", "minval", "maxval", "dtype", "seed"), "RandomUniform",
                                  {"minval": ("minval", "0.0"), "maxval": ("maxval", "1.0")}),
}
RANDOM["tensorflow.random_normal"] = RANDOM["tensorflow.random.normal"]
RANDOM["tensorflow.truncated_normal"] = RANDOM["tensorflow.random.truncated_normal"]
RANDOM["tensorflow.random_uniform"] = RANDOM["tensorflow.random.uniform"]
FILLED = {
    "tensorflow.zeros": ("shape", "dtype"),
    "tensorflow.ones": ("shape", "dtype"),
    "tensorflow.fill": ("dims", "value"),
    "tensorflow.constant": ("value", "dtype", "shape"),
}


def _bind(call: cst.Call, order: tuple[str, ...]) -> dict[str, cst.Arg] | None:
    """Parameter name -> argument, or None when the call cannot be read (``*args``, unknown)."""
    return bind_params(call, order)


def _dtype(ctx: Context, arg: cst.Arg | None) -> str | None:
    """``"float32"`` for a float dtype argument, ``""`` when absent, None otherwise."""
    if arg is None:
        return ""
    text = _calls.string_value(arg.value)
    if text is None:
        name = ctx.names.resolve(arg.value) or ""
        text = name[len("tensorflow."):] if name.startswith("tensorflow.") else None
    return text if text in FLOAT_DTYPES else None


def _float_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.UnaryOperation):
        return _float_literal(node.expression)
    return isinstance(node, cst.Float)


def variable_rewrite(
    ctx: Context, call: cst.Call, attr: str
) -> tuple[str, tuple[InsertImport, ...], bool] | None:
    """(``add_weight`` arguments, imports, safe) for ``tf.Variable`` ``call``, or None."""
    bound = _bind(call, VARIABLE_ORDER)
    if bound is None or "initial_value" not in bound:
        return None
    if set(bound) - {"initial_value", "trainable", "name", "dtype"}:
        return None  # constraint, synchronization, shape, ...: judgement needed
    dtype = _dtype(ctx, bound.get("dtype"))
    if dtype is None:
        return None
    found = _initializer(ctx, bound["initial_value"].value)
    if found is None:
        return None
    shape, init, inner_dtype, imports, safe = found
    if inner_dtype is None:
        return None
    dtype = dtype or inner_dtype
    parts = [f"shape={shape}", f"initializer={init}"]
    if dtype and dtype != "float32":
        parts.append(f'dtype="{dtype}"')
    if "trainable" in bound:
        parts.append(f"trainable={ctx.code_for(bound['trainable'].value)}")
    name = ctx.code_for(bound["name"].value) if "name" in bound else f'"{attr}"'
    parts.append(f"name={name}")
    return ", ".join(parts), imports, safe


def _initializer(
    ctx: Context, value: cst.BaseExpression
) -> tuple[str, str, str | None, tuple[InsertImport, ...], bool] | None:
    """(shape, initializer, dtype, imports, safe) of an initial value."""
    code = ctx.code_for
    if _float_literal(value):
        text, imports = ctx.spell("keras.initializers.Constant")
        return "()", f"{text}({code(value)})", "", imports, True
    if not isinstance(value, cst.Call):
        return None
    op = ctx.names.resolve(value.func) or ""
    if op in FILLED:
        bound = _bind(value, FILLED[op])
        if bound is None or set(bound) - {*FILLED[op], "name"}:
            return None
        dtype = _dtype(ctx, bound.get("dtype"))
        if op in ("tensorflow.zeros", "tensorflow.ones"):
            if "shape" not in bound:
                return None
            return code(bound["shape"].value), '"zeros"' if op.endswith("zeros") else '"ones"', dtype, (), True
        text, imports = ctx.spell("keras.initializers.Constant")
        if op == "tensorflow.fill":
            if "dims" not in bound or "value" not in bound:
                return None
            literal = _float_literal(bound["value"].value)
            return (code(bound["dims"].value), f"{text}({code(bound['value'].value)})",
                    "" if literal else None, imports, True)
        if "value" not in bound:
            return None
        constant = bound["value"].value
        if "shape" in bound:
            shape = code(bound["shape"].value)
        elif _float_literal(constant) or (_calls.is_number(constant) and dtype):
            shape = "()"
        else:
            return None  # the shape is the value's own: judgement needed
        if not (_float_literal(constant) or dtype):
            return None  # an int constant makes an int variable
        return shape, f"{text}({code(constant)})", dtype, imports, True
    if op in RANDOM:
        order, cls, defaults = RANDOM[op]
        bound = _bind(value, order)
        if bound is None or "shape" not in bound or set(bound) - {*order, "name"}:
            return None
        dtype = _dtype(ctx, bound.get("dtype"))
        args = []
        for tf_name, (keras_name, default) in defaults.items():
            given = bound.get(tf_name)
            if given is not None and _is_none(given.value):
                given = None
            args.append(f"{keras_name}={code(given.value) if given is not None else default}")
        if "seed" in bound:
            args.append(f"seed={code(bound['seed'].value)}")
        text, imports = ctx.spell(f"keras.initializers.{cls}")
        return code(bound["shape"].value), f"{text}({', '.join(args)})", dtype, imports, False
    return None


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"
