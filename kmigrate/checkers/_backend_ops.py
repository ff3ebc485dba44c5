"""The Keras 2 backend functions (``K.*``) and their Keras 3 replacements (catalogue 13, 30).

Data only; ``backend.py`` applies it. Each replacement passes the Keras 2 defaults that differ
in ``keras.ops`` explicitly (``K.argmax(x)`` becomes ``keras.ops.argmax(x, axis=-1)``), so a
rewrite never inherits a new default. Rows marked unsafe change values on purpose (random
streams, clipping) or the type of the result; rows without a target are reported only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Op:
    """How one ``keras.backend`` function maps to Keras 3.

    ``target`` is a canonical name (``keras.ops.take``) or a template over the positional
    arguments (``{root}.ops.reshape({0}, (-1,))``, ``{root}`` spelling ``keras``); None: no fix.
    ``params`` are the Keras 2 parameters in order; the first ``keep`` keep their position in
    Keras 3, later ones are passed by keyword (after ``renames``). ``explicit`` lists Keras 2
    defaults to pass when the argument is absent. ``swap`` exchanges the first two positionals.
    """

    target: str | None
    params: tuple[str, ...] = ()
    keep: int | None = None
    renames: tuple[tuple[str, str], ...] = ()
    explicit: tuple[tuple[str, str], ...] = ()
    swap: bool = False
    safety: str = "safe"
    hazard: str = ""  # catalogue 13: what the plain rename to keras.ops does instead
    hint: str = ""  # no fix: what to write instead

    @property
    def template(self) -> bool:
        return self.target is not None and "{" in self.target


def _same(name: str, *params: str) -> Op:
    return Op(f"keras.ops.{name}", params)


_REDUCE = ("x", "axis", "keepdims")
_BINARY = ("x", "y")

# Functions whose keras.ops namesake is not a drop-in (catalogue 13): reported by KM151.
DEFAULT_CHANGED: dict[str, Op] = {
    "argmax": Op("keras.ops.argmax", ("x", "axis"), explicit=(("axis", "-1"),),
                 hazard="`keras.ops.argmax` defaults to `axis=None` and returns an index into the flattened tensor"),
    "argmin": Op("keras.ops.argmin", ("x", "axis"), explicit=(("axis", "-1"),),
                 hazard="`keras.ops.argmin` defaults to `axis=None` and returns an index into the flattened tensor"),
    "concatenate": Op("keras.ops.concatenate", ("tensors", "axis"), renames=(("tensors", "xs"),),
                      explicit=(("axis", "-1"),),
                      hazard="`keras.ops.concatenate` joins along axis 0 by default (Keras 2: the last axis)"),
    "gather": Op("keras.ops.take", ("reference", "indices"), renames=(("reference", "x"),),
                 explicit=(("axis", "0"),),
                 hazard="its replacement `keras.ops.take` indexes the flattened tensor unless `axis=0` is given"),
    "squeeze": Op("keras.ops.squeeze", ("x", "axis"),
                  hazard="`keras.ops.squeeze` without `axis` removes every axis of size 1"),
    "in_top_k": Op("keras.ops.in_top_k", ("predictions", "targets", "k"), swap=True,
                   hazard="`keras.ops.in_top_k` takes `(targets, predictions, k)`, the reverse order"),
    "cumsum": Op("keras.ops.cumsum", ("x", "axis"), explicit=(("axis", "0"),),
                 hazard="`keras.ops.cumsum` flattens the tensor unless `axis=0` is given"),
    "cumprod": Op("keras.ops.cumprod", ("x", "axis"), explicit=(("axis", "0"),),
                  hazard="`keras.ops.cumprod` flattens the tensor unless `axis=0` is given"),
    "repeat": Op("{root}.ops.repeat({root}.ops.expand_dims({0}, 1), {1}, axis=1)", ("x", "n"),
                 hazard="`keras.ops.repeat` repeats elements along an axis, while `K.repeat` is "
                 "`RepeatVector` ((batch, dim) to (batch, n, dim))"),
    "l2_normalize": Op("keras.ops.normalize", ("x", "axis"), explicit=(("axis", "None"),),
                       safety="unsafe",
                       hazard="`keras.ops.normalize` defaults to the last axis (Keras 2: all axes) and "
                       "floors the norm at 1e-7 instead of 1e-12 (the fix keeps the axis; the floor differs)"),
    "dot": Op(None, hazard="`keras.ops.dot`/`matmul` batch-multiply rank-3 tensors instead of Keras 2's "
              "contraction of the last axis of `x` with the second-to-last of `y`",
              hint="for ranks above 2 write `keras.ops.tensordot(x, y, axes=[[-1], [-2]])`"),
    "batch_dot": Op(None, hazard="`keras.ops` has no `batch_dot`",
                    hint="write the contraction as `keras.ops.einsum` (Keras 2's `axes` rules do not carry over)"),
    "binary_crossentropy": Op("keras.ops.binary_crossentropy", ("target", "output", "from_logits"),
                              safety="unsafe",
                              hazard="`keras.ops.binary_crossentropy` clips saturated probabilities differently "
                              "(catalogue 15: 15.42 vs 16.12 at p = 0; equal to 1e-7 for p in (1e-7, 1 - 1e-7))"),
}

# The other functions Keras 3 removed from keras.backend (catalogue 30): reported by KM250.
REMOVED: dict[str, Op] = {
    **{n: Op(f"keras.ops.{n}", _REDUCE) for n in ("sum", "mean", "max", "min", "std", "var", "prod", "any", "all")},
    **{n: _same(n, "x") for n in ("abs", "exp", "log", "square", "sign", "round", "sin", "cos", "tanh",
                                  "sigmoid", "softplus", "softsign", "stop_gradient", "zeros_like",
                                  "ones_like", "ndim", "transpose")},
    **{n: _same(n, *_BINARY) for n in ("maximum", "minimum", "equal", "not_equal", "greater",
                                      "greater_equal", "less", "less_equal")},
    "sqrt": Op("{root}.ops.sqrt({root}.ops.maximum({0}, 0.0))", ("x",)),
    "pow": Op("keras.ops.power", ("x", "a"), renames=(("a", "x2"), ("x", "x1"))),
    "clip": Op("keras.ops.clip", ("x", "min_value", "max_value"),
               renames=(("min_value", "x_min"), ("max_value", "x_max"))),
    "cast": _same("cast", "x", "dtype"),
    "stack": _same("stack", "x", "axis"),
    "one_hot": Op("keras.ops.one_hot", ("indices", "num_classes"), renames=(("indices", "x"),)),
    "permute_dimensions": Op("keras.ops.transpose", ("x", "pattern"), renames=(("pattern", "axes"),)),
    "reshape": Op("keras.ops.reshape", ("x", "shape"), renames=(("shape", "newshape"),)),
    "expand_dims": Op("keras.ops.expand_dims", ("x", "axis"), explicit=(("axis", "-1"),)),
    "repeat_elements": Op("keras.ops.repeat", ("x", "rep", "axis"), renames=(("rep", "repeats"),)),
    "tile": Op("keras.ops.tile", ("x", "n"), renames=(("n", "repeats"),)),
    "flatten": Op("{root}.ops.reshape({0}, (-1,))", ("x",)),
    "reverse": Op("keras.ops.flip", ("x", "axes"), renames=(("axes", "axis"),)),
    "arange": Op("keras.ops.arange", ("start", "stop", "step", "dtype"), explicit=(("dtype", '"int32"'),)),
    "softmax": _same("softmax", "x", "axis"),
    "elu": _same("elu", "x", "alpha"),
    "relu": Op("keras.activations.relu", ("x", "alpha", "max_value", "threshold"),
               renames=(("alpha", "negative_slope"),)),
    "categorical_crossentropy": _same("categorical_crossentropy", "target", "output", "from_logits", "axis"),
    "sparse_categorical_crossentropy": _same("sparse_categorical_crossentropy", "target", "output",
                                             "from_logits", "axis"),
    "get_value": Op("keras.ops.convert_to_numpy", ("x",)),
    "eval": Op("keras.ops.convert_to_numpy", ("x",)),
    "int_shape": Op("{shape}", ("x",)),
    "dtype": Op("{root}.backend.standardize_dtype({0}.dtype)", ("x",)),
    "variable": Op("keras.Variable", ("value", "dtype", "name"), keep=1, renames=(("value", "initializer"),)),
    "set_value": Op("{0}.assign({1})", ("x", "value")),
    "update": Op("{0}.assign({1})", ("x", "new_x")),
    "update_add": Op("{0}.assign_add({1})", ("x", "increment")),
    "update_sub": Op("{0}.assign_sub({1})", ("x", "decrement")),
    "shape": Op("keras.ops.shape", ("x",), safety="unsafe"),
    "random_normal": Op("keras.random.normal", ("shape", "mean", "stddev", "dtype", "seed"), safety="unsafe"),
    "random_uniform": Op("keras.random.uniform", ("shape", "minval", "maxval", "dtype", "seed"), safety="unsafe"),
    "truncated_normal": Op("keras.random.truncated_normal", ("shape", "mean", "stddev", "dtype", "seed"),
                           safety="unsafe"),
    "dropout": Op("keras.random.dropout", ("x", "level", "noise_shape", "seed"),
                  renames=(("x", "inputs"), ("level", "rate")), safety="unsafe"),
    "function": Op(None, hint="build a `keras.Model(inputs, outputs)` and call it or `predict`"),
    "learning_phase": Op(None, hint="pass `training=` explicitly to the layers and models that need it"),
    "set_learning_phase": Op(None, hint="pass `training=` explicitly to the layers and models that need it"),
    "learning_phase_scope": Op(None, hint="pass `training=` explicitly to the layers and models that need it"),
    "in_train_phase": Op(None, hint="branch on an explicit `training` argument"),
    "in_test_phase": Op(None, hint="branch on an explicit `training` argument"),
    "placeholder": Op(None, hint="use `keras.Input(shape=...)`"),
    "switch": Op(None, hint="use `keras.ops.where(condition, a, b)` for elementwise choices or `keras.ops.cond`"),
    "batch_set_value": Op(None, hint="write `for variable, value in pairs: variable.assign(value)`"),
    "batch_get_value": Op(None, hint="use `[keras.ops.convert_to_numpy(v) for v in variables]`"),
    "gradients": Op(None, hint="compute gradients with `tf.GradientTape` (or the backend's own mechanism)"),
    "ctc_batch_cost": Op(None, hint="`keras.ops.ctc_loss(target, output, target_length, output_length)` takes "
                         "its arguments in another order and the lengths as 1-D vectors"),
    "ctc_decode": Op(None, hint="`keras.ops.ctc_decode` takes `strategy=` instead of `greedy=`"),
    "constant": Op(None, hint="use `keras.ops.convert_to_tensor(value, dtype=...)` (Keras 2 defaulted to floatx)"),
    "zeros": Op(None, hint="Keras 2 returned a variable: use `keras.Variable(keras.ops.zeros(shape))` or `keras.ops.zeros`"),
    "ones": Op(None, hint="Keras 2 returned a variable: use `keras.Variable(keras.ops.ones(shape))` or `keras.ops.ones`"),
    "eye": Op(None, hint="Keras 2 returned a variable: use `keras.ops.eye`"),
}

# Still served by the Keras 3 ``tf.keras.backend`` compat module except these (c22, c25).
COMPAT_MISSING = frozenset({
    "function", "in_test_phase", "in_train_phase", "learning_phase", "learning_phase_scope",
    "local_conv1d", "local_conv2d", "manual_variable_initialization", "normalize_batch_in_training",
    "placeholder", "print_tensor", "random_binomial", "reset_uids", "set_learning_phase",
})
# Served by the compat module but failing on Keras 3 variables (c22: 'str' object has no attribute 'name').
COMPAT_BROKEN = frozenset({"set_value", "batch_set_value"})

# Every function tf_keras.backend has and keras 3's keras.backend lacks (c25: 138 names).
ALL_REMOVED = frozenset({
    "abs", "all", "any", "arange", "argmax", "argmin", "batch_dot", "batch_flatten", "batch_get_value",
    "batch_normalization", "batch_set_value", "bias_add", "binary_crossentropy", "binary_focal_crossentropy",
    "cast", "cast_to_floatx", "categorical_crossentropy", "categorical_focal_crossentropy", "clip",
    "concatenate", "constant", "conv1d", "conv2d", "conv2d_transpose", "conv3d", "cos", "count_params",
    "ctc_batch_cost", "ctc_decode", "ctc_label_dense_to_sparse", "cumprod", "cumsum", "depthwise_conv2d",
    "dot", "dropout", "dtype", "elu", "equal", "eval", "exp", "expand_dims", "eye", "flatten", "foldl",
    "foldr", "function", "gather", "get_value", "gradients", "greater", "greater_equal", "hard_sigmoid",
    "in_test_phase", "in_top_k", "in_train_phase", "int_shape", "is_sparse", "l2_normalize",
    "learning_phase", "learning_phase_scope", "less", "less_equal", "local_conv1d", "local_conv2d", "log",
    "manual_variable_initialization", "map_fn", "max", "maximum", "mean", "min", "minimum",
    "moving_average_update", "name_scope", "ndim", "normalize_batch_in_training", "not_equal", "one_hot",
    "ones", "ones_like", "permute_dimensions", "placeholder", "pool2d", "pool3d", "pow", "print_tensor",
    "prod", "random_bernoulli", "random_binomial", "random_normal", "random_normal_variable",
    "random_uniform", "random_uniform_variable", "relu", "repeat", "repeat_elements", "reset_uids",
    "reshape", "resize_images", "resize_volumes", "reverse", "rnn", "round", "separable_conv2d",
    "set_learning_phase", "set_value", "shape", "sigmoid", "sign", "sin", "softmax", "softplus",
    "softsign", "sparse_categorical_crossentropy", "spatial_2d_padding", "spatial_3d_padding", "sqrt",
    "square", "squeeze", "stack", "std", "stop_gradient", "sum", "switch", "tanh", "temporal_padding",
    "tile", "to_dense", "transpose", "truncated_normal", "update", "update_add", "update_sub", "var",
    "variable", "zeros", "zeros_like",
})


# Multi-backend Keras 2.x (TensorFlow 1) names that neither tf_keras nor the Keras 3 compat
# module has (checked against tf_keras 2.21 and keras._tf_keras 3.15): always KM250, no fix.
# ``control_flow_ops`` is a module: ``K.control_flow_ops.while_loop(...)``.
LEGACY: dict[str, Op] = {
    "get_session": Op(None, hint="TensorFlow 2 runs eagerly and Keras 3 has no sessions: drop the session "
                      "code (GPU options: `tf.config.experimental.set_memory_growth`)"),
    "set_session": Op(None, hint="TensorFlow 2 runs eagerly and Keras 3 has no sessions: drop the session "
                      "code (GPU options: `tf.config.experimental.set_memory_growth`)"),
    "image_dim_ordering": Op(None, hint="use `keras.config.image_data_format()`, which returns "
                             "`'channels_last'`/`'channels_first'` instead of `'tf'`/`'th'`"),
    "set_image_dim_ordering": Op(None, hint="use `keras.config.set_image_data_format('channels_last')` "
                                 "(or `'channels_first'` for `'th'`)"),
    "control_flow_ops": Op(None, hint="use `keras.ops.while_loop` / `keras.ops.cond`"),
}
LEGACY_MODULES = frozenset({"control_flow_ops"})
COMPAT_MISSING = COMPAT_MISSING | frozenset(LEGACY)

# Removed functions another rule owns: K.hard_sigmoid is KM105's (catalogue 3, a different function).
OWNED_ELSEWHERE = frozenset({"hard_sigmoid"})
# The names lookup() knows: a cheap first test of a candidate name.
FUNCTIONS = (frozenset(DEFAULT_CHANGED) | ALL_REMOVED | frozenset(LEGACY)) - OWNED_ELSEWHERE


def lookup(name: str) -> tuple[Op, bool] | None:
    """(mapping, default_changed) for a removed ``keras.backend`` function, else None."""
    if name in OWNED_ELSEWHERE:
        return None
    if name in DEFAULT_CHANGED:
        return DEFAULT_CHANGED[name], True
    if name in ALL_REMOVED:
        return REMOVED.get(name, Op(None)), False
    if name in LEGACY:
        return LEGACY[name], False
    return None
