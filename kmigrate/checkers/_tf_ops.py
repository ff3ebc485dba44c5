"""TensorFlow ops and their ``keras.ops`` equivalents, with Keras 2's defaults made explicit.

The table follows the migration guide's "Calling TF ops with a KerasTensor" list, corrected
where ``keras.ops`` changed a default (catalogue 13): ``gather`` -> ``take(..., axis=0)``,
``softmax(axis=-1)``, ``gelu(approximate=False)``, ``leaky_relu(negative_slope=0.2)``,
``cumsum(axis=0)``, ``stack(axis=0)``. Ops whose TF semantics ``keras.ops`` cannot express
exactly (``tf.split`` size lists, one-argument ``tf.where``, ``argmax``'s int64 result, ...)
are left out: the checker falls back to a ``Lambda`` layer for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from kmigrate.checkers._calls import bind_params


@dataclass(frozen=True)
class Op:
    """``keras.ops.<new>`` for a TF op whose parameters are ``params`` (in order, no ``name``).

    The first ``positional`` parameters are required and passed positionally; ``keywords``
    lists (tf parameter, ops keyword, explicit default) for the optional ones. Any other TF
    parameter must be absent, or the call is not rewritten.
    """

    new: str
    params: tuple[str, ...]
    positional: int
    keywords: tuple[tuple[str, str, str | None], ...] = ()
    safe: bool = True


def _unary(new: str, param: str = "x") -> Op:
    return Op(new, (param,), 1)


def _reduce(new: str) -> Op:
    return Op(new, ("input_tensor", "axis", "keepdims"), 1,
              (("axis", "axis", None), ("keepdims", "keepdims", None)))


OPS: dict[str, Op] = {
    "concat": Op("concatenate", ("values", "axis"), 1, (("axis", "axis", None),)),
    "stack": Op("stack", ("values", "axis"), 1, (("axis", "axis", "0"),)),
    "squeeze": Op("squeeze", ("input", "axis"), 1, (("axis", "axis", None),)),
    "expand_dims": Op("expand_dims", ("input", "axis"), 1, (("axis", "axis", None),)),
    "reshape": Op("reshape", ("tensor", "shape"), 2),
    "transpose": Op("transpose", ("a", "perm", "conjugate"), 1, (("perm", "axes", None),)),
    "matmul": Op("matmul", ("a", "b", "transpose_a", "transpose_b"), 2),
    "tile": Op("tile", ("input", "multiples"), 2),
    "gather": Op("take", ("params", "indices", "validate_indices", "axis", "batch_dims"), 2,
                 (("axis", "axis", "0"),)),
    "cast": Op("cast", ("x", "dtype"), 2),
    "clip_by_value": Op("clip", ("t", "clip_value_min", "clip_value_max"), 3),
    "where": Op("where", ("condition", "x", "y"), 3),
    "one_hot": Op("one_hot", ("indices", "depth", "on_value", "off_value", "axis", "dtype"), 2),
    "pad": Op("pad", ("tensor", "paddings", "mode", "constant_values"), 2,
              (("constant_values", "constant_values", None),)),
    "cumsum": Op("cumsum", ("x", "axis", "exclusive", "reverse"), 1, (("axis", "axis", "0"),)),
    "reduce_sum": _reduce("sum"),
    "reduce_mean": _reduce("mean"),
    "reduce_max": _reduce("max"),
    "reduce_min": _reduce("min"),
    "reduce_prod": _reduce("prod"),
    "reduce_any": _reduce("any"),
    "reduce_all": _reduce("all"),
    "reduce_std": _reduce("std"),
    "reduce_variance": _reduce("var"),
    "reduce_logsumexp": _reduce("logsumexp"),
    "softmax": Op("softmax", ("logits", "axis"), 1, (("axis", "axis", "-1"),)),
    "log_softmax": Op("log_softmax", ("logits", "axis"), 1, (("axis", "axis", "-1"),)),
    "gelu": Op("gelu", ("features", "approximate"), 1, (("approximate", "approximate", "False"),)),
    "leaky_relu": Op("leaky_relu", ("features", "alpha"), 1, (("alpha", "negative_slope", "0.2"),)),
    "silu": Op("silu", ("features", "beta"), 1),
    "swish": Op("silu", ("features", "beta"), 1),
    "relu": _unary("relu", "features"),
    "relu6": _unary("relu6", "features"),
    "elu": _unary("elu", "features"),
    "selu": _unary("selu", "features"),
    "softplus": _unary("softplus", "features"),
    "sigmoid": _unary("sigmoid"),
    "tanh": _unary("tanh"),
    "exp": _unary("exp"),
    "log": _unary("log"),
    "sqrt": _unary("sqrt"),
    "rsqrt": _unary("rsqrt"),
    "square": _unary("square"),
    "abs": _unary("abs"),
    "sign": _unary("sign"),
    "negative": _unary("negative"),
    "floor": _unary("floor"),
    "ceil": _unary("ceil"),
    "sin": _unary("sin"),
    "cos": _unary("cos"),
    "zeros_like": _unary("zeros_like", "input"),
    "ones_like": _unary("ones_like", "input"),
    "add": Op("add", ("x", "y"), 2),
    "subtract": Op("subtract", ("x", "y"), 2),
    "multiply": Op("multiply", ("x", "y"), 2),
    "divide": Op("divide", ("x", "y"), 2),
    "maximum": Op("maximum", ("x", "y"), 2),
    "minimum": Op("minimum", ("x", "y"), 2),
    "pow": Op("power", ("x", "y"), 2),
    # A KerasTensor's shape has None for the batch: `ops.shape(x)[0]` is not a number while
    # the model is built, so code that computes with it needs a look (unsafe).
    "shape": Op("shape", ("input", "out_type"), 1, safe=False),
}
NAMESPACES = ("", "math.", "nn.", "linalg.")


def lookup(canonical: str) -> Op | None:
    """``tensorflow.math.reduce_sum`` -> the ``sum`` entry; None for unknown or non-TF names."""
    if not canonical.startswith("tensorflow."):
        return None
    rest = canonical[len("tensorflow."):]
    for ns in NAMESPACES:
        if rest.startswith(ns) and "." not in rest[len(ns):]:
            return OPS.get(rest[len(ns):])
    return None


def bind(call: cst.Call, op: Op) -> dict[str, cst.Arg] | None:
    """Map the TF call's arguments to ``op.params``; None if anything is not understood."""
    return bind_params(call, op.params, strict=True, ignore=("name",))


def rewrite(call: cst.Call, op: Op, func: str, code_for) -> str | None:  # noqa: ANN001
    """Source of the ``keras.ops`` call replacing ``call``; None when it cannot be exact."""
    bound = bind(call, op)
    if bound is None:
        return None
    required = op.params[: op.positional]
    if any(p not in bound for p in required):
        return None
    mapped = set(required) | {k[0] for k in op.keywords}
    if any(p not in mapped for p in bound):
        return None
    parts = [code_for(bound[p].value) for p in required]
    for tf_name, ops_name, default in op.keywords:
        if tf_name in bound:
            parts.append(f"{ops_name}={code_for(bound[tf_name].value)}")
        elif default is not None:
            parts.append(f"{ops_name}={default}")
    return f"{func}({', '.join(parts)})"
